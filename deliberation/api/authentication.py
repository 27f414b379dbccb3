"""Session authentication that checks CSRF for everyone.

DRF's SessionAuthentication only enforces CSRF for logged-in users; anonymous participants
are identified by their session too, so a forged cross-site request could vote in their
name. This class closes that gap: every unsafe request that carries no token credentials
must carry a valid CSRF token.
"""

from typing import Any

from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import exceptions
from rest_framework.authentication import (
    SessionAuthentication,
    TokenAuthentication,
    get_authorization_header,
)
from rest_framework.request import Request


class CsrfFailed(exceptions.PermissionDenied):
    default_code = "csrf_failed"


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: Any, reason: str) -> str:
        return reason


def _carries_token(request: Request) -> bool:
    # A cross-site form or fetch cannot set an Authorization header without a CORS
    # preflight we never grant, so a request that carries one is no forgery risk; the
    # keyword compares case-insensitively, as TokenAuthentication itself does.
    words = get_authorization_header(request).split()
    return bool(words) and words[0].lower() == TokenAuthentication.keyword.lower().encode()


class CsrfEnforcedSessionAuthentication(SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if _carries_token(request):
            return None
        self.enforce_csrf(request)
        return super().authenticate(request)

    def enforce_csrf(self, request: Request) -> None:
        check = _CsrfCheck(lambda _: None)  # type: ignore[arg-type]
        check.process_request(request)
        reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
        if reason:
            raise CsrfFailed(
                f"CSRF failed: {reason} Send the csrftoken cookie's value in the "
                "X-CSRFToken header."
            )
