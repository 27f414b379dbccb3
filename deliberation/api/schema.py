"""OpenAPI documentation for the parts drf-spectacular cannot see by itself.

Kept apart from authentication.py: DRF imports that module while its own views module is
still loading, and drf-spectacular's extensions import those views.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from rest_framework.request import Request

from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.services.text import text_schema_patterns


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


class StatementTextSchema(OpenApiSerializerFieldExtension):
    """What statement_clean_text accepts, as far as JSON Schema can say it: some visible
    character, no control characters (tabs and newlines aside), at most
    STATEMENT_MAX_LENGTH characters (counted once composed, NFC, and trimmed)."""

    target_class = "deliberation.api.serializers.StatementTextField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": STATEMENT_MAX_LENGTH,
            "pattern": text_schema_patterns()[1],
        }


class FreeTextSchema(OpenApiSerializerFieldExtension):
    target_class = "deliberation.api.serializers.FreeTextField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "pattern": text_schema_patterns()[0]}
        if self.target.schema_max_length is not None:
            schema["maxLength"] = self.target.schema_max_length
        return schema


_ERROR = {"$ref": "#/components/schemas/Error"}
# Answers any operation may give before its view runs (deliberation.api.parsers, the
# pagination, deliberation.api.middleware).
_MALFORMED = "The request is malformed: a query parameter out of range, or a body that is not JSON."
_TOO_LARGE = "The body is larger than the server accepts (code request_too_large)."


def error_responses_complete(
    result: dict[str, Any], generator: SchemaGenerator, request: Request | None, public: bool
) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: every operation lists the errors it can give
    whatever its view does (400 for malformed parameters or bodies, 413 for bodies over the
    size limit), in the one error format; and a request body, which every write needs, is
    marked required."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            body = operation.get("requestBody")
            extra = {}
            if takes_query or body is not None:
                extra["400"] = _MALFORMED
            if body is not None:
                body["required"] = True
                extra["413"] = _TOO_LARGE
            for status, description in extra.items():
                responses.setdefault(
                    status,
                    {
                        "content": {"application/json": {"schema": _ERROR}},
                        "description": description,
                    },
                )
    return result
