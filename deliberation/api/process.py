"""The process figures in the API: the same document as the report's JSON export."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deliberation.api.errors import ErrorSerializer
from deliberation.errors import NotFound
from deliberation.selectors.process import process_document
from deliberation.selectors.report import (
    report_build,
    report_conversation_get,
    report_snapshot_get,
)


class ProcessView(APIView):
    @extend_schema(
        summary="Did the deliberation work? Process figures, with their definitions",
        parameters=[
            OpenApiParameter(
                "snapshot", int, description="A finished snapshot's id (default: the latest)."
            )
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Polarization, groups and common ground over the snapshot "
                "history; changed votes and their direction; the smallest group's voice; "
                "each with its definition.",
            ),
            404: OpenApiResponse(
                ErrorSerializer,
                description="No such report for this reader, or no results yet.",
            ),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        # The figures are the report's: who may read the report may read them.
        conversation = report_conversation_get(slug=slug, user=request.user)
        snapshot = report_snapshot_get(
            conversation=conversation, snapshot_id=request.query_params.get("snapshot")
        )
        if snapshot is None:
            raise NotFound("No results have been computed for this conversation yet.")
        document: dict[str, Any] = process_document(
            report=report_build(conversation=conversation, snapshot=snapshot)
        )
        return Response({"snapshot": snapshot.pk, **document})
