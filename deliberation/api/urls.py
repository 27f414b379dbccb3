from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from deliberation.api import assistant, groups, process, topics, views

v1 = [
    path("conversations/", views.ConversationListView.as_view(), name="conversation-list"),
    path(
        "conversations/<slug:slug>/",
        views.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<slug:slug>/statements/",
        views.StatementListCreateView.as_view(),
        name="statement-list",
    ),
    path(
        "conversations/<slug:slug>/statements/next/",
        views.NextStatementView.as_view(),
        name="statement-next",
    ),
    path("conversations/<slug:slug>/votes/", views.VoteListCastView.as_view(), name="vote-list"),
    path("conversations/<slug:slug>/groups/", groups.GroupsLatestView.as_view(), name="groups"),
    path("conversations/<slug:slug>/me/", groups.MyPositionView.as_view(), name="groups-me"),
    path("conversations/<slug:slug>/process/", process.ProcessView.as_view(), name="process"),
    path("conversations/<slug:slug>/topics/", topics.TopicsView.as_view(), name="topics"),
    path(
        "conversations/<slug:slug>/snapshots/",
        groups.SnapshotListView.as_view(),
        name="snapshot-list",
    ),
    path(
        "conversations/<slug:slug>/assistant/draft-check/",
        assistant.DraftCheckView.as_view(),
        name="assistant-draft-check",
    ),
    path(
        "conversations/<slug:slug>/assistant/chat/",
        assistant.ChatView.as_view(),
        name="assistant-chat",
    ),
    path(
        "conversations/<slug:slug>/assistant/bridging/",
        assistant.BridgingListView.as_view(),
        name="assistant-bridging",
    ),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file of its own: no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
