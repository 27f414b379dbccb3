from django.contrib.auth import views as auth_views
from django.urls import path

from deliberation.console import views

app_name = "console"

conversation = "c/<slug:slug>/"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("new/", views.conversation_new, name="new"),
    path(conversation, views.dashboard, name="dashboard"),
    path(conversation + "recompute/", views.recompute, name="recompute"),
    path(conversation + "topics/<int:number>/name/", views.topic_rename, name="topic_rename"),
    path(conversation + "settings/", views.settings, name="settings"),
    path(conversation + "seeds/", views.seeds, name="seeds"),
    path(conversation + "access/", views.access, name="access"),
    path(conversation + "access/xids/", views.access_xids, name="access_xids"),
    path(conversation + "access/rules/", views.access_rules, name="access_rules"),
    path(conversation + "access/secret/", views.access_xid_secret, name="access_xid_secret"),
    path(conversation + "access/links.csv", views.access_xid_links, name="access_xid_links"),
    path(conversation + "access/invite/", views.access_invite_reset, name="access_invite_reset"),
    path(conversation + "access/moderators/", views.moderators, name="moderators"),
    path(conversation + "queue/", views.queue, name="queue"),
    path(conversation + "queue/decide/", views.decide, name="decide"),
    path(conversation + "statements/<int:statement_id>/", views.statement, name="statement"),
    path(
        conversation + "statements/<int:statement_id>/text/",
        views.statement_text,
        name="statement_text",
    ),
    path(
        conversation + "statements/<int:statement_id>/flags/",
        views.statement_flags,
        name="statement_flags",
    ),
    path(conversation + "participants/", views.participants, name="participants"),
    path(
        conversation + "participants/<int:participant_id>/exclusion/",
        views.participant_exclusion,
        name="participant_exclusion",
    ),
    path(conversation + "signals/", views.signals, name="signals"),
    path(conversation + "audit/", views.audit, name="audit"),
    path(conversation + "audit.csv", views.audit_csv, name="audit_csv"),
    path("join/invite/<str:token>/", views.join_invite, name="join_invite"),
    path("join/<slug:slug>/", views.join_xid, name="join_xid"),
    path("join/<slug:slug>/email/", views.email_link_request, name="email_link_request"),
    path("verify/<str:token>/", views.verify_email, name="verify_email"),
    # Username and password, no social login: moderators are Django users.
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="console/login.html", next_page="console:list"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
]
