"""Turns domain errors into JSON: ``{"error": {"code", "message", "field"}}``.

DRF's own errors (validation, parsing, authentication, CSRF) get the same shape, so a
client reads one kind of error body whatever refused the request. So do the errors Django
answers before or around DRF under /api/ (an unknown URL, a body over the size limit, a
server error): the handlers below and deliberation.api.middleware. Pages outside the API
keep Django's HTML error pages.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
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


API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    """An error in the API's one format, for answers given outside DRF's views."""
    return JsonResponse(
        {"error": {"code": code, "message": message, "field": field}}, status=status
    )


# Django's error handlers (named in deliberation/urls.py): JSON under /api/, HTML elsewhere.


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(400, "bad_request", "The request is malformed.")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(403, "forbidden", "You are not allowed to do this.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(
            404, "not_found", "There is nothing at this address; see /api/schema/."
        )
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        # Never the exception's text: it can hold data the caller must not see.
        return error_response(
            500, "server_error", "Something went wrong on our side; it has been logged."
        )
    return defaults.server_error(request)


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
