"""Turns domain errors into JSON: ``{"error": {"code", "message", "field"}}``."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from deliberation.errors import AgoraError, DuplicateStatement


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, AgoraError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
        if isinstance(exc, DuplicateStatement):
            body["existing_id"] = exc.existing_id
        return Response({"error": body}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data
        message = detail.get("detail") if isinstance(detail, dict) else None
        response.data = {
            "error": {
                "code": getattr(exc, "default_code", "error"),
                "message": str(message) if message is not None else "The request is invalid.",
                "field": None,
                "details": detail,
            }
        }
    return response
