from django.contrib import admin
from django.urls import include, path

from deliberation.web.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("deliberation.api.urls")),
    path("console/", include("deliberation.console.urls")),
    path("report/", include("deliberation.report.urls")),
    path("", include("deliberation.web.assistant")),
    path("", include("deliberation.web.urls")),
]

# JSON errors under /api/, Django's HTML pages elsewhere.
handler400 = "deliberation.api.errors.handler400"
handler403 = "deliberation.api.errors.handler403"
handler404 = "deliberation.api.errors.handler404"
handler500 = "deliberation.api.errors.handler500"
