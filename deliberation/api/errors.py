"""Turns domain errors into JSON: ``{"error": {"code", "message", "field"}}``.

DRF's own errors (validation, parsing, authentication, CSRF) get the same shape, so a
client reads one kind of error body whatever refused the request.
"""

from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from deliberation.errors import AgoraError, DuplicateStatement


def _first_problem(detail: Any, field: str | None = None) -> tuple[str | None, str]:
    """The first field named in a validation error and its first message."""
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        name = None if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
        nested = name if field is None else f"{field}.{name}" if name else field
        return _first_problem(value, nested)
    if isinstance(detail, list) and detail:
        return _first_problem(detail[0], field)
    return field, str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    body: dict[str, Any]
    if isinstance(exc, AgoraError):
        body = {"code": exc.code, "message": exc.message, "field": exc.field}
        if isinstance(exc, DuplicateStatement):
            body["existing_id"] = exc.existing_id
        return Response({"error": body}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    field, message = _first_problem(detail)
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": message, "field": field, "details": detail}
    else:
        # Everything else carries one message under "detail", which names no field.
        body = {"code": getattr(exc, "default_code", "error"), "message": message, "field": None}
    response.data = {"error": body}
    return response


class ErrorBodySerializer(serializers.Serializer[None]):
    code = serializers.CharField(help_text="A stable, machine-readable reason.")
    message = serializers.CharField(help_text="What went wrong, for a person to read.")
    field = serializers.CharField(
        allow_null=True, help_text="The request field at fault, when there is one."
    )
    existing_id = serializers.IntegerField(
        required=False, help_text="For a duplicate statement: the id of the one already there."
    )
    details = serializers.JSONField(
        required=False, help_text="Every problem found, for validation errors."
    )


class ErrorSerializer(serializers.Serializer[None]):
    error = ErrorBodySerializer()
