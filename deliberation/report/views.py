"""Report pages and downloads. Thin: each view calls one function and renders its result."""

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from deliberation.errors import AgoraError
from deliberation.identity import request_read_require
from deliberation.report.render import report_page
from deliberation.selectors.conversations import conversation_get
from deliberation.services.report_export import report_export


def _error(request: HttpRequest, error: AgoraError) -> HttpResponse:
    return render(request, "report/error.html", {"error": error}, status=error.status_code)


@require_GET
def report_view(request: HttpRequest, slug: str, snapshot_id: int | None = None) -> HttpResponse:
    try:
        request_read_require(request, conversation_get(slug=slug, user=request.user))
        page = report_page(
            slug=slug, user=request.user, snapshot_id=snapshot_id, sort=request.GET.get("sort")
        )
    except AgoraError as error:
        return _error(request, error)
    return render(request, "report/report.html", {"page": page})


@require_GET
def export_view(
    request: HttpRequest, slug: str, snapshot_id: int, fmt: str
) -> HttpResponse | FileResponse:
    try:
        request_read_require(request, conversation_get(slug=slug, user=request.user))
        export = report_export(slug=slug, user=request.user, snapshot_id=snapshot_id, fmt=fmt)
    except AgoraError as error:
        return _error(request, error)
    response = FileResponse(export.open(), content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-SHA256"] = export.sha256
    response["X-Snapshot-Id"] = str(export.snapshot_id)
    return response
