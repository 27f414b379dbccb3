"""Web views of the AI assistant: the participant's chat panel and draft hints, and the
moderators' AI ledger and bridging review (under the console's permission check).

The participant's fragments answer htmx posts with status 200 even when the answer is a
refusal: the refusal is part of the conversation with the assistant, shown in the panel, and
a failing model only ever means an offline answer. A rate limit's refusal is the exception:
a 429 (base.html has htmx swap 4xx answers like any other), shown in the panel the same way.
Without JavaScript the same forms post plainly and get the whole conversation page back, with
the answer in the panel (or the hints under the statement being drafted).
"""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from deliberation.assistant.chat import ChatReply, Intent
from deliberation.console.views import console_view
from deliberation.errors import AgoraError, NotFound, PermissionDenied, RateLimited
from deliberation.identity import (
    request_participant,
    request_participant_acting,
    request_read_require,
)
from deliberation.models import Conversation, DuplicateTier, Participant, SuggestionStatus
from deliberation.selectors.assistant import ai_ledger_page, ai_ledger_totals, bridging_list
from deliberation.selectors.conversations import conversation_get
from deliberation.services.assistant import (
    assistant_chat,
    assistant_draft_check,
    bridging_suggestion_decide,
    bridging_suggestions_draft,
)
from deliberation.web.pages import voting_card
from deliberation.web.views import CONVERSATION_TEMPLATE, is_htmx, page_context

LEDGER_PAGE_SIZE = 50


def _conversation(request: HttpRequest, slug: str) -> Conversation | HttpResponse:
    try:
        return request_read_require(request, conversation_get(slug=slug, user=request.user))
    except (NotFound, PermissionDenied) as error:
        response = render(request, "error.html", {"error": error}, status=error.status_code)
        response["HX-Refresh"] = "true"
        return response


def _conversation_page(
    request: HttpRequest,
    conversation: Conversation,
    participant: Participant | None,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """The whole conversation page, for a form posted without JavaScript."""
    card = voting_card(conversation=conversation, participant=participant)
    return render(
        request,
        CONVERSATION_TEMPLATE,
        page_context(conversation, card, tiers=DuplicateTier, **extra),
        status=status,
    )


@require_POST
def draft_check(request: HttpRequest, slug: str) -> HttpResponse:
    """Hints as the participant types a statement (debounced by htmx), or on the check
    button: the page again with the draft kept and the hints under it."""
    conversation = _conversation(request, slug)
    if isinstance(conversation, HttpResponse):
        return conversation
    text = request.POST.get("text", "")
    hints: dict[str, Any] = {}
    participant = request_participant(request, conversation, create=False)
    if text.strip():
        try:
            hints["check"] = assistant_draft_check(
                conversation=conversation, participant=participant, text=text
            )
        except AgoraError as error:
            hints["error"] = error
    status = _status(hints.get("error"))
    if is_htmx(request):
        return render(
            request,
            "assistant/_draft_hints.html",
            {"conversation": conversation, "tiers": DuplicateTier, **hints},
            status=status,
        )
    return _conversation_page(
        request, conversation, participant, status=status, statement_draft=text, **hints
    )


def _status(error: AgoraError | None) -> int:
    """Refusals are answers in the panel (200), except a rate limit's: a 429, whose
    Retry-After tells a script when to come back."""
    return error.status_code if isinstance(error, RateLimited) else 200


@require_POST
def chat(request: HttpRequest, slug: str) -> HttpResponse:
    conversation = _conversation(request, slug)
    if isinstance(conversation, HttpResponse):
        return conversation
    intent = request.POST.get("intent", "")
    text = request.POST.get("text", "")
    context: dict[str, Any] = {"asked": text, "intent": intent}
    try:
        # Only adding a statement makes the visitor a participant, and a refused one does not.
        with request_participant_acting(
            request, conversation, writes=intent == Intent.SUBMIT.value
        ) as participant:
            context["reply"] = assistant_chat(
                conversation=conversation,
                participant=participant,
                user=request.user,
                intent=intent,
                text=text,
                confirmed=request.POST.get("confirmed") == "1",
            )
    except AgoraError as error:
        context["error"] = error
        context["existing_id"] = getattr(error, "existing_id", None)
        context["reply"] = ChatReply(intent=Intent.DRAFT, draft=text)
    status = _status(context.get("error"))
    if is_htmx(request):
        return render(
            request,
            "assistant/_chat_reply.html",
            {**context, "conversation": conversation, "tiers": DuplicateTier},
            status=status,
        )
    # Read afresh: a newcomer's participant went with a refused statement.
    participant = request_participant(request, conversation, create=False)
    return _conversation_page(
        request, conversation, participant, status=status, assistant_exchange=context
    )


@require_GET
@console_view
def ledger(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    page = Paginator(ai_ledger_page(conversation=conversation), LEDGER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "assistant/ledger.html",
        {
            "conversation": conversation,
            "section": "assistant",
            "page": page,
            "totals": ai_ledger_totals(conversation=conversation),
        },
    )


@require_GET
@console_view
def bridging_review(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    return _bridging_page(request, conversation)


def _bridging_page(request: HttpRequest, conversation: Conversation, **extra: Any) -> HttpResponse:
    return render(
        request,
        "assistant/bridging_review.html",
        {
            "conversation": conversation,
            "section": "assistant",
            "proposed": bridging_list(conversation=conversation, status=SuggestionStatus.PROPOSED),
            "decided": bridging_list(conversation=conversation, decided=True),
            **extra,
        },
    )


@require_POST
@console_view
def bridging_draft(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    try:
        draft, stored = bridging_suggestions_draft(actor=request.user, conversation=conversation)
    except AgoraError as error:
        messages.error(request, error.message)
        return redirect("assistant:bridging", slug=conversation.slug)
    # Offline candidates are existing statements, shown here rather than stored.
    return _bridging_page(request, conversation, draft=draft, stored=stored)


@require_POST
@console_view
def bridging_decide(
    request: HttpRequest, conversation: Conversation, suggestion_id: int
) -> HttpResponse:
    try:
        suggestion = bridging_suggestion_decide(
            actor=request.user,
            conversation=conversation,
            suggestion_id=suggestion_id,
            decision=request.POST.get("decision", ""),
            text=request.POST.get("text"),
        )
    except AgoraError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Suggestion {suggestion.get_status_display().lower()}.")
    return redirect("assistant:bridging", slug=conversation.slug)


app_name = "assistant"
urlpatterns = [
    path("c/<slug:slug>/assistant/draft/", draft_check, name="draft_check"),
    path("c/<slug:slug>/assistant/chat/", chat, name="chat"),
    path("console/c/<slug:slug>/assistant/ledger/", ledger, name="ledger"),
    path("console/c/<slug:slug>/assistant/bridging/", bridging_review, name="bridging"),
    path("console/c/<slug:slug>/assistant/bridging/draft/", bridging_draft, name="bridging_draft"),
    path(
        "console/c/<slug:slug>/assistant/bridging/<int:suggestion_id>/",
        bridging_decide,
        name="bridging_decide",
    ),
]
