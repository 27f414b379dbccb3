"""The conversation's topics in the API: what its accepted statements are about."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deliberation.api.errors import ErrorSerializer
from deliberation.selectors.conversations import conversation_get
from deliberation.selectors.topics import topics_document


class TopicSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField(help_text="Stable across recomputes; 0 is 'other'.")
    # DRF takes declared fields off the class; mypy still sees Field.parent under it.
    parent = serializers.IntegerField(  # type: ignore[assignment]
        allow_null=True, help_text="The topic of a subtopic."
    )
    name = serializers.CharField()
    name_source = serializers.ChoiceField(
        choices=["keywords", "model", "moderator"],
        help_text="keywords: the topic's keywords (no model); model: named by the AI model.",
    )
    description = serializers.CharField(allow_blank=True)
    is_other = serializers.BooleanField()
    statements = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of its accepted statements."
    )


class TopicsView(APIView):
    @extend_schema(
        operation_id="topics_list",
        tags=["topics"],
        summary="The conversation's topics and subtopics",
        responses={
            200: TopicSerializer(many=True),
            404: OpenApiResponse(ErrorSerializer, description="No such conversation."),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        conversation = conversation_get(slug=slug, user=request.user)
        return Response(TopicSerializer(topics_document(conversation=conversation), many=True).data)
