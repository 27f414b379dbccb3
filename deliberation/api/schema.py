"""OpenAPI documentation for the parts drf-spectacular cannot see by itself.

Kept apart from authentication.py: DRF imports that module while its own views module is
still loading, and drf-spectacular's extensions import those views.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class CsrfEnforcedSessionScheme(OpenApiAuthenticationExtension):
    """Documents the session scheme (drf-spectacular only knows DRF's own class)."""

    target_class = "deliberation.api.authentication.CsrfEnforcedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The browser session of an anonymous participant. Unsafe requests "
            "must also send the csrftoken cookie's value in the X-CSRFToken header.",
        }
