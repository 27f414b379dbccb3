"""Refuses API request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with a JSON 413.

Django only notices an oversized body when something reads it, and then answers with its
HTML 400 page (the CSRF middleware reads form bodies before any view runs). The declared
length is checked here, before anything reads the body. (A body without a Content-Length
header is read as empty by Django's WSGI handler, so the header is all there is to check.)
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from deliberation.api.errors import error_response, is_api_request


class ApiBodySizeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and is_api_request(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return error_response(
                    413,
                    "request_too_large",
                    f"The request body is {length} bytes; the limit is {limit}.",
                )
        return self.get_response(request)
