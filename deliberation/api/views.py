"""The REST API's views: each finds its conversation and participant, then hands the work to
the services and selectors. Domain errors travel up to deliberation.api.errors.

Every response sets the csrftoken cookie: an anonymous client reads it from its first GET
and sends it back in the X-CSRFToken header on its writes.
"""

from typing import cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deliberation.api import schema  # noqa: F401  (registers the OpenAPI extension)
from deliberation.api.errors import ErrorSerializer
from deliberation.api.selectors import statement_list_with_tallies, vote_list_for_participant
from deliberation.api.serializers import (
    ConversationSerializer,
    NextStatementSerializer,
    StatementCreateSerializer,
    StatementSerializer,
    StatementWithTalliesSerializer,
    VoteCastSerializer,
    VoteSerializer,
)
from deliberation.errors import ConversationClosed
from deliberation.identity import (
    request_participant,
    request_participant_writing,
    request_read_require,
)
from deliberation.models import Conversation, Participant, Statement, Vote
from deliberation.selectors.conversations import (
    WriteState,
    conversation_can_moderate,
    conversation_get,
    conversation_list_public,
    conversation_write_state,
    statement_get_in_conversation,
)
from deliberation.selectors.routing import participant_progress, statement_next_for_participant
from deliberation.services.assistant import assistant_statement_submit
from deliberation.services.statements import statement_create
from deliberation.services.votes import vote_cast


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


NOT_FOUND = _error("No such conversation (private ones look missing to non-moderators).")
FORBIDDEN = _error("No valid CSRF token, a closed conversation, or not allowed.")
CLOSED = _error(
    "The conversation is closed (nothing to vote on), or its access mode keeps the caller out."
)
INVALID = _error("The request breaks a rule; the message says which.")
DUPLICATE = _error("The same statement is already there; existing_id names it.")
MEMBERS_ONLY = _error("A members-only conversation (invite, signed or listed ids): not a member.")
TOO_MANY = _error(
    "Over a rate limit (code rate_limited): of this participant, this client address or this "
    "conversation. Retry-After gives the seconds to wait."
)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class ConversationScopedView(APIView):
    # Views under /conversations/<slug>/: the conversation, honouring its visibility.
    # (A comment, not a docstring: drf-spectacular would publish a docstring as the
    # description of every operation.)

    def conversation(self) -> Conversation:
        if not hasattr(self, "_conversation"):
            found = conversation_get(slug=self.kwargs["slug"], user=self.request.user)
            self._conversation = request_read_require(self.request, found)
        return self._conversation

    def current_participant(self) -> Participant | None:
        """The participant reading, without creating one for a mere visitor."""
        return request_participant(self.request, self.conversation(), create=False)


@extend_schema_view(
    get=extend_schema(
        operation_id="conversations_list",
        summary="List the public conversations",
        tags=["conversations"],
        responses={200: ConversationSerializer(many=True)},
    )
)
@method_decorator(ensure_csrf_cookie, name="dispatch")
class ConversationListView(generics.ListAPIView[Conversation]):
    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet[Conversation]:
        return conversation_list_public()


class ConversationDetailView(ConversationScopedView):
    @extend_schema(
        operation_id="conversations_retrieve",
        tags=["conversations"],
        summary="One conversation by its slug (public or unlisted; private for moderators)",
        responses={200: ConversationSerializer, 403: MEMBERS_ONLY, 404: NOT_FOUND},
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(ConversationSerializer(self.conversation()).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="statements_list",
        summary="The accepted statements, plus the caller's own pending ones, with tallies",
        tags=["statements"],
        responses={
            200: StatementWithTalliesSerializer(many=True),
            403: MEMBERS_ONLY,
            404: NOT_FOUND,
        },
    )
)
class StatementListCreateView(ConversationScopedView, generics.ListAPIView[Statement]):
    serializer_class = StatementWithTalliesSerializer

    def get_queryset(self) -> QuerySet[Statement]:
        return statement_list_with_tallies(
            conversation=self.conversation(), participant=self.current_participant()
        )

    @extend_schema(
        operation_id="statements_create",
        tags=["statements"],
        summary="Add a statement",
        description=(
            "By the calling participant (pending in strict moderation, accepted in open "
            "moderation), or by the conversation's owner or staff (accepted at once, as a seed)."
        ),
        request=StatementCreateSerializer,
        responses={
            201: StatementSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: DUPLICATE,
            429: TOO_MANY,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        conversation = self.conversation()
        payload = StatementCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        text = payload.validated_data["text"]
        if conversation_can_moderate(conversation=conversation, user=request.user):
            statement = statement_create(
                conversation=conversation,
                text=text,
                author_user=cast(User, request.user),
                is_seed=True,
            )
        else:
            with request_participant_writing(request, conversation) as participant:
                statement = assistant_statement_submit(
                    conversation=conversation,
                    participant=participant,
                    text=text,
                    confirmed=payload.validated_data["confirmed"],
                )
        return Response(StatementSerializer(statement).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="votes_list",
        summary="The caller's own latest votes, the most recent first",
        tags=["votes"],
        responses={200: VoteSerializer(many=True), 403: MEMBERS_ONLY, 404: NOT_FOUND},
    )
)
class VoteListCastView(ConversationScopedView, generics.ListAPIView[Vote]):
    serializer_class = VoteSerializer

    def get_queryset(self) -> QuerySet[Vote]:
        return vote_list_for_participant(participant=self.current_participant())

    @extend_schema(
        operation_id="votes_cast",
        tags=["votes"],
        summary="Vote on a statement, or change a vote",
        request=VoteCastSerializer,
        responses={
            201: VoteSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            429: TOO_MANY,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        conversation = self.conversation()
        payload = VoteCastSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        statement = statement_get_in_conversation(
            conversation=conversation, statement_id=payload.validated_data["statement"]
        )
        with request_participant_writing(request, conversation) as participant:
            vote = vote_cast(
                participant=participant,
                statement=statement,
                value=payload.validated_data["value"],
                reason=payload.validated_data["reason"],
            )
        return Response(VoteSerializer(vote).data, status=status.HTTP_201_CREATED)


class NextStatementView(ConversationScopedView):
    @extend_schema(
        operation_id="statements_next",
        tags=["statements"],
        summary="The caller's next statement to vote on, drawn by routing priority",
        description=(
            "Unvoted accepted statements are drawn at random, weighted by Polis's routing "
            "priority. When everything is voted, statement is null and done is true."
        ),
        responses={200: NextStatementSerializer, 403: CLOSED, 404: NOT_FOUND},
    )
    def get(self, request: Request, slug: str) -> Response:
        conversation = self.conversation()
        if conversation_write_state(conversation=conversation) is not WriteState.OPEN:
            raise ConversationClosed("This conversation is not open for voting.")
        # Asking for a statement to vote on is where taking part starts: the participant is
        # created here, so the progress and the draw below are theirs from the first card on.
        participant = request_participant(request, conversation, create=True)
        statement = statement_next_for_participant(
            conversation_id=conversation.pk, participant=participant
        )
        return Response(
            NextStatementSerializer(
                {
                    "statement": statement,
                    "done": statement is None,
                    "progress": participant_progress(
                        conversation_id=conversation.pk, participant=participant
                    ),
                }
            ).data
        )
