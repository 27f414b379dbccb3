from django.urls import include, path

from deliberation.web import groups, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.conversation_detail, name="conversation"),
    path("c/<slug:slug>/vote/", views.vote, name="vote"),
    path("c/<slug:slug>/statements/", views.statement_add, name="statement_add"),
    path("c/<slug:slug>/groups/", include(groups.urlpatterns)),
]
