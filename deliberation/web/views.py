"""The participant web UI: the home page and a conversation's voting page.

Every write works twice over: htmx posts get the changed fragments back (the card, the
progress bar, the add-statement form), plain form posts get a redirect or, on refusal, the
whole page. Refusals are the services' AgoraErrors, shown next to the form with their
status code, with what the person typed still in the field.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from deliberation.errors import AgoraError, DuplicateStatement, NotFound, PermissionDenied
from deliberation.identity import (
    request_participant,
    request_participant_writing,
    request_read_require,
)
from deliberation.models import (
    Conversation,
    ModerationMode,
    Participant,
    ParticipantRequirement,
    Statement,
    StatementStatus,
)
from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.models.votes import REASON_MAX_LENGTH
from deliberation.selectors.conversations import (
    WriteState,
    conversation_get,
    conversation_write_state,
    statement_get_in_conversation,
)
from deliberation.selectors.report import report_refusal
from deliberation.services.access import access_check_join
from deliberation.services.assistant import assistant_statement_submit
from deliberation.services.votes import vote_cast
from deliberation.web.pages import (
    VotingCard,
    conversation_list_for_home,
    duplicate_offer,
    voting_card,
)

CONVERSATION_TEMPLATE = "participate/conversation.html"

ConversationView = Callable[[HttpRequest, Conversation], HttpResponse]


def _with_conversation(view: ConversationView) -> Callable[[HttpRequest, str], HttpResponse]:
    """Resolve the URL's slug to a conversation this person may see, or answer 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        try:
            conversation = conversation_get(slug=slug, user=request.user)
        except NotFound as error:
            return _error_page(request, error)
        return view(request, conversation)

    return wrapper


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"conversations": conversation_list_for_home()})


@require_GET
@_with_conversation
def conversation_detail(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    try:
        request_read_require(request, conversation)
    except PermissionDenied as error:
        return _error_page(request, error)
    try:
        participant = _page_participant(request, conversation)
    except AgoraError as error:
        return _join_refusal(request, conversation, error, CONVERSATION_TEMPLATE)
    card = voting_card(
        conversation=conversation,
        participant=participant,
        requested=request.GET.get("statement"),
        linked=True,
    )
    # Conversations that count one participant per address offer the link form up front.
    email_form = conversation.participant_requirement == ParticipantRequirement.EMAIL and (
        participant is None or participant.email_hash is None
    )
    return render(
        request, CONVERSATION_TEMPLATE, page_context(conversation, card, email_form=email_form)
    )


@require_POST
@_with_conversation
def vote(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    posted_statement = request.POST.get("statement")
    participant: Participant | None = None
    try:
        with request_participant_writing(request, conversation) as participant:
            statement = statement_get_in_conversation(
                conversation=conversation, statement_id=posted_statement
            )
            vote_cast(
                participant=participant,
                statement=statement,
                value=request.POST.get("value"),
                reason=request.POST.get("reason", ""),
            )
    except AgoraError as error:
        if participant is None:
            return _join_refusal(request, conversation, error, "participate/_vote_result.html")
        card = voting_card(
            conversation=conversation,
            participant=_page_participant(request, conversation),
            requested=posted_statement,
        )
        # The reason typed belongs to the statement it was typed for: keep it only when
        # that statement is still the one on the card.
        same_card = card.statement is not None and str(card.statement.pk) == posted_statement
        context = page_context(
            conversation,
            card,
            vote_error=error,
            reason_draft=request.POST.get("reason", "") if same_card else "",
        )
        return _refusal(request, "participate/_vote_result.html", context, error)
    if not is_htmx(request):
        return redirect("web:conversation", slug=conversation.slug)
    card = voting_card(conversation=conversation, participant=participant)
    return render(
        request, "participate/_vote_result.html", page_context(conversation, card, voted=True)
    )


@require_POST
@_with_conversation
def statement_add(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    text = request.POST.get("text", "")
    # The statement on the card the page shows now, sent along by htmx so the answer can
    # leave that card alone.
    shown = request.POST.get("statement")
    participant: Participant | None = None
    try:
        with request_participant_writing(request, conversation) as participant:
            statement = assistant_statement_submit(
                conversation=conversation,
                participant=participant,
                text=text,
                confirmed=request.POST.get("confirmed") == "1",
            )
    except AgoraError as error:
        if participant is None:
            return _join_refusal(
                request,
                conversation,
                error,
                "participate/_add_statement.html",
                statement_error=error,
                statement_draft=text,
            )
        participant = _page_participant(request, conversation)
        offer = (
            duplicate_offer(
                conversation=conversation,
                participant=participant,
                existing_id=error.existing_id,
            )
            if isinstance(error, DuplicateStatement)
            else None
        )
        card = voting_card(conversation=conversation, participant=participant, requested=shown)
        context = page_context(
            conversation, card, statement_error=error, statement_draft=text, duplicate=offer
        )
        return _refusal(request, "participate/_add_statement.html", context, error)
    messages.success(request, _added_message(statement))
    if not is_htmx(request):
        return redirect(reverse("web:conversation", args=[conversation.slug]) + "#add-statement")
    card = voting_card(conversation=conversation, participant=participant, requested=shown)
    # A page at its end state shows no card; a statement visible at once may give it one.
    return render(
        request,
        "participate/_add_result.html",
        page_context(conversation, card, refresh_card=not shown),
    )


def page_context(conversation: Conversation, card: VotingCard, **extra: Any) -> dict[str, Any]:
    """Everything the conversation page and its fragments draw from; shared with the
    assistant's no-JavaScript answers, which render the same page."""
    return {
        "conversation": conversation,
        "card": card,
        "can_add": (
            card.state is WriteState.OPEN
            and conversation.participants_can_add
            and "join_error" not in extra
        ),
        "strict": conversation.moderation_mode == ModerationMode.STRICT,
        # Linked as the public sees it; moderators reach restricted reports from the console.
        "report_readable": report_refusal(conversation=conversation, user=None) is None,
        "statement_max_length": STATEMENT_MAX_LENGTH,
        "reason_max_length": REASON_MAX_LENGTH,
        **extra,
    }


def _page_participant(request: HttpRequest, conversation: Conversation) -> Participant | None:
    """The participant the conversation page draws its card for, or None for a visitor
    who has not written yet: reading a conversation creates nothing (their first vote
    does). After a refused write this is read afresh: a newcomer's participant went with it.
    """
    participant = request_participant(request, conversation, create=False)
    if participant is None and conversation_write_state(conversation=conversation) is (
        WriteState.OPEN
    ):
        # A visitor the access mode keeps out learns why now, not at their first vote.
        access_check_join(conversation=conversation, user=request.user, xid=None, invited=False)
    return participant


def _join_refusal(
    request: HttpRequest,
    conversation: Conversation,
    error: AgoraError,
    fragment: str,
    **extra: Any,
) -> HttpResponse:
    """The conversation's access mode keeps this person out (invitation, member list,
    logged-in users only): show the page without a card, saying why."""
    card = voting_card(conversation=conversation, participant=None, kept_out=True)
    return _refusal(
        request, fragment, page_context(conversation, card, join_error=error, **extra), error
    )


def _refusal(
    request: HttpRequest, fragment: str, context: dict[str, Any], error: AgoraError
) -> HttpResponse:
    """A refused write: the fragment for htmx, the whole page for a plain post."""
    template = fragment if is_htmx(request) else CONVERSATION_TEMPLATE
    return render(request, template, context, status=error.status_code)


def _added_message(statement: Statement) -> str:
    if statement.status == StatementStatus.ACCEPTED:
        return "Thank you: your statement is now in the conversation for others to vote on."
    return "Thank you: your statement will appear to others once a moderator has reviewed it."


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_page(request: HttpRequest, error: AgoraError) -> HttpResponse:
    response = render(request, "error.html", {"error": error}, status=error.status_code)
    if is_htmx(request):
        # A fragment cannot say "this conversation is gone": reload, and the page will.
        response["HX-Refresh"] = "true"
    return response
