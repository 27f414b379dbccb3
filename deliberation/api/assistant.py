"""The AI assistant in the REST API: the draft duplicate check, a chat message, and the
bridging suggestions for moderators. Each view hands the work to one service or selector;
domain errors travel up to deliberation.api.errors. Model failures never reach here: the
services answer offline and say what was limited."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deliberation.api.errors import ErrorSerializer
from deliberation.api.serializers import FreeTextField, StatementTextField
from deliberation.assistant.chat import Intent
from deliberation.identity import (
    request_participant,
    request_participant_acting,
    request_read_require,
)
from deliberation.models import BridgingSuggestion
from deliberation.selectors.assistant import bridging_list
from deliberation.selectors.conversations import conversation_get
from deliberation.services.assistant import assistant_chat, assistant_draft_check
from deliberation.services.moderation import moderation_authorize

INVALID = OpenApiResponse(ErrorSerializer, description="The text or intent breaks a rule.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such conversation.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="No CSRF token, or not a moderator.")
DUPLICATE = OpenApiResponse(
    ErrorSerializer,
    description="Submit only: the statement is already there, or nearly (confirm with "
    "confirmed=true); existing_id names it.",
)
TOO_MANY = OpenApiResponse(
    ErrorSerializer,
    description="Over a rate limit (code rate_limited). Retry-After gives the seconds to wait.",
)


class DraftSerializer(serializers.Serializer[None]):
    text = StatementTextField()


class MatchSerializer(serializers.Serializer[Any]):
    statement = serializers.IntegerField(source="statement.pk")
    text = serializers.CharField(source="statement.text")
    tier = serializers.CharField(source="verdict.tier.value")
    score = serializers.FloatField(source="verdict.score")
    stance = serializers.CharField(source="verdict.stance.value")


class DraftCheckSerializer(serializers.Serializer[Any]):
    tier = serializers.CharField(source="tier.value")
    method = serializers.CharField()
    matches = MatchSerializer(many=True)
    limitations = serializers.ListField(child=serializers.CharField())


class ChatMessageSerializer(serializers.Serializer[None]):
    intent = serializers.ChoiceField(choices=[intent.value for intent in Intent])
    text = serializers.CharField(required=False, default="", allow_blank=True)
    confirmed = serializers.BooleanField(required=False, default=False)


# The schema of a chat message, by intent: those about a text (a draft, a statement to add,
# a question) need one that could be a statement; the others ignore it.
_TEXT_INTENTS = (Intent.DRAFT, Intent.SUBMIT, Intent.ASK)


class ChatAboutTextSerializer(serializers.Serializer[None]):
    intent = serializers.ChoiceField(choices=[intent.value for intent in _TEXT_INTENTS])
    text = StatementTextField()
    confirmed = serializers.BooleanField(required=False, default=False)


class ChatAboutGroupsSerializer(serializers.Serializer[None]):
    intent = serializers.ChoiceField(
        choices=[intent.value for intent in Intent if intent not in _TEXT_INTENTS]
    )
    text = FreeTextField(required=False, help_text="Ignored.")
    confirmed = serializers.BooleanField(required=False, default=False)


CHAT_MESSAGE_SCHEMA = PolymorphicProxySerializer(
    component_name="ChatMessage",
    serializers={
        intent.value: (
            ChatAboutTextSerializer if intent in _TEXT_INTENTS else ChatAboutGroupsSerializer
        )
        for intent in Intent
    },
    resource_type_field_name="intent",
)


class ForecastField(serializers.DictField):
    child = serializers.FloatField()


class IdeaSerializer(serializers.Serializer[Any]):
    text = serializers.CharField()
    rationale = serializers.CharField()
    existing_statement = serializers.IntegerField(source="existing_id", allow_null=True)
    forecast = serializers.SerializerMethodField()
    forecast_bridging = serializers.FloatField(source="forecast.bridging", allow_null=True)

    def get_forecast(self, candidate: Any) -> dict[str, float]:
        return {str(group): p for group, p in candidate.forecast.groups.items()}


class OutcomeSerializer(serializers.Serializer[Any]):
    statement = serializers.IntegerField(source="statement.pk")
    text = serializers.CharField(source="statement.text")
    agreement = serializers.DictField(child=serializers.IntegerField())


class ChatReplySerializer(serializers.Serializer[Any]):
    intent = serializers.CharField(source="intent.value")
    paragraphs = serializers.ListField(child=serializers.CharField())
    check = DraftCheckSerializer(allow_null=True)
    ideas = IdeaSerializer(many=True)
    outcomes = OutcomeSerializer(many=True)
    limitations = serializers.ListField(child=serializers.CharField())
    # A declared field named "source" shadows Field.source for the type checker only: DRF's
    # metaclass moves declared fields off the class.
    source = serializers.CharField()  # type: ignore[assignment]


class BridgingSuggestionSerializer(serializers.ModelSerializer[BridgingSuggestion]):
    forecast = ForecastField()
    realised = serializers.DictField(child=serializers.DictField(child=serializers.FloatField()))

    class Meta:
        model = BridgingSuggestion
        fields = [
            "id",
            "text",
            "original_text",
            "rationale",
            "source",
            "status",
            "snapshot",
            "statement",
            "forecast",
            "forecast_bridging",
            "realised",
            "realised_votes",
            "forecast_error",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class DraftCheckView(APIView):
    @extend_schema(
        operation_id="assistant_draft_check",
        tags=["assistant"],
        summary="What a statement being drafted resembles",
        description=(
            "Tiers: duplicate (vote on the existing statement instead), probable (a warning; "
            "it may still be submitted), related (listed), none."
        ),
        request=DraftSerializer,
        responses={
            200: DraftCheckSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            429: TOO_MANY,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        conversation = request_read_require(request, conversation_get(slug=slug, user=request.user))
        draft = DraftSerializer(data=request.data)
        draft.is_valid(raise_exception=True)
        check = assistant_draft_check(
            conversation=conversation,
            participant=request_participant(request, conversation, create=False),
            text=draft.validated_data["text"],
        )
        return Response(DraftCheckSerializer(check).data)


class ChatView(APIView):
    @extend_schema(
        operation_id="assistant_chat",
        tags=["assistant"],
        summary="One message to the participant's assistant",
        description=(
            "Intents: groups (what each group thinks, and mine), mine (how my statements "
            "fared), draft (check a statement for duplicates), submit (add it; a near-certain "
            "duplicate needs confirmed=true), bridges (ideas every group might accept), ask "
            "(a free question; needs the AI model)."
        ),
        request=CHAT_MESSAGE_SCHEMA,
        responses={
            200: ChatReplySerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: DUPLICATE,
            429: TOO_MANY,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        conversation = request_read_require(request, conversation_get(slug=slug, user=request.user))
        message = ChatMessageSerializer(data=request.data)
        message.is_valid(raise_exception=True)
        intent = message.validated_data["intent"]
        with request_participant_acting(
            request, conversation, writes=intent == Intent.SUBMIT.value
        ) as participant:
            reply = assistant_chat(
                conversation=conversation,
                participant=participant,
                user=request.user,
                intent=intent,
                text=message.validated_data["text"],
                confirmed=message.validated_data["confirmed"],
            )
        return Response(ChatReplySerializer(reply).data)


class BridgingListView(APIView):
    @extend_schema(
        operation_id="assistant_bridging_list",
        tags=["assistant"],
        summary="Bridging suggestions with forecasts and, once voted, real agreement",
        description="For the conversation's moderators.",
        responses={200: BridgingSuggestionSerializer(many=True), 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, slug: str) -> Response:
        conversation = conversation_get(slug=slug, user=request.user)
        moderation_authorize(actor=request.user, conversation=conversation)
        suggestions = bridging_list(conversation=conversation)
        return Response(BridgingSuggestionSerializer(suggestions, many=True).data)
