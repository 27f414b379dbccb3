"""Session authentication that checks CSRF for everyone.

DRF's SessionAuthentication only enforces CSRF for logged-in users; anonymous participants
are identified by their session too, so a forged cross-site request could vote in their
name. This class closes that gap: every unsafe request that carries no token credentials
must carry a valid CSRF token.
"""

from typing import Any

from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: Any, reason: str) -> str:
        return reason


class CsrfEnforcedSessionAuthentication(SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if request.META.get("HTTP_AUTHORIZATION", "").startswith("Token "):
            return None
        self.enforce_csrf(request)
        return super().authenticate(request)

    def enforce_csrf(self, request: Request) -> None:
        check = _CsrfCheck(lambda _: None)  # type: ignore[arg-type]
        check.process_request(request)
        reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
        if reason:
            raise exceptions.PermissionDenied(f"CSRF failed: {reason}")
