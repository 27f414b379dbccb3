from django.urls import path

from deliberation.report import views

app_name = "report"

urlpatterns = [
    path("<slug:slug>/", views.report_view, name="latest"),
    path("<slug:slug>/<int:snapshot_id>/", views.report_view, name="frozen"),
    path("<slug:slug>/<int:snapshot_id>/export/<str:fmt>/", views.export_view, name="export"),
]
