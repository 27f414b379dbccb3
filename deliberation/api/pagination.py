"""Limit/offset pagination whose numbers are checked, not trusted.

DRF's own class lets any limit through to the database (a limit past 2**63 overflows
PostgreSQL's bigint: a 500) and quietly replaces a malformed one with the default. Here a
limit or offset outside its range is a 400 naming the parameter, and the schema states the
ranges so clients (and schemathesis) know them.
"""

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

MAX_LIMIT = 1000
# PostgreSQL's bigint, which OFFSET takes.
MAX_OFFSET = 2**63 - 1


class BoundedLimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def _bounded(self, request: Request, name: str, low: int, high: int, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ValidationError(
                {name: [f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}."]}
            )
        return value

    def get_limit(self, request: Request) -> int:
        default = MAX_LIMIT if self.default_limit is None else self.default_limit
        return self._bounded(request, self.limit_query_param, 1, MAX_LIMIT, default)

    def get_offset(self, request: Request) -> int:
        return self._bounded(request, self.offset_query_param, 0, MAX_OFFSET, 0)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_LIMIT},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
