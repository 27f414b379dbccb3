"""Reads for the AI assistant: the operator's view of a conversation, the AI ledger and the
bridging suggestions."""

from django.db.models import Count, Q, QuerySet, Sum

from deliberation.errors import NotFound
from deliberation.models import (
    AICall,
    AIOutcome,
    BridgingSuggestion,
    Conversation,
    SuggestionStatus,
)


def conversation_for_operator(*, slug: str) -> Conversation:
    """Any conversation by slug, private ones included: for management commands only."""
    conversation = Conversation.objects.filter(slug=slug).first()
    if conversation is None:
        raise NotFound(f"No conversation called {slug!r}.")
    return conversation


def ai_ledger_page(*, conversation: Conversation) -> QuerySet[AICall]:
    """The conversation's AI calls, newest first, for the moderators' paginated ledger."""
    return (
        AICall.objects.filter(conversation=conversation)
        .select_related("decided_by")
        .order_by("-id")
    )


def bridging_list(
    *,
    conversation: Conversation,
    status: SuggestionStatus | None = None,
    decided: bool = False,
) -> QuerySet[BridgingSuggestion]:
    """Bridging suggestions, best forecast first: those in ``status``, or every decided one
    (newest decision first) with its realised agreement."""
    suggestions = BridgingSuggestion.objects.filter(conversation=conversation).select_related(
        "statement", "decided_by"
    )
    if decided:
        return suggestions.exclude(status=SuggestionStatus.PROPOSED).order_by("-decided_at")
    if status is not None:
        suggestions = suggestions.filter(status=status)
    return suggestions.order_by("-forecast_bridging", "id")


def ai_ledger_totals(*, conversation: Conversation) -> dict[str, int]:
    """What the report says about the AI: calls, answers used, fallbacks and tokens."""
    calls = AICall.objects.filter(conversation=conversation)
    totals = calls.aggregate(
        calls=Count("id"),
        answered=Count("id", filter=Q(outcome__in=[AIOutcome.OK, AIOutcome.CACHED])),
        refused_by_gate=Count("id", filter=Q(outcome=AIOutcome.GATE_FAILED)),
        failed=Count(
            "id",
            filter=Q(
                outcome__in=[
                    AIOutcome.ERROR,
                    AIOutcome.TIMEOUT,
                    AIOutcome.RATE_LIMITED,
                    AIOutcome.INVALID_OUTPUT,
                ]
            ),
        ),
        offline=Count("id", filter=Q(outcome__in=[AIOutcome.OFFLINE, AIOutcome.BUDGET_EXHAUSTED])),
        prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"),
    )
    return {name: int(value or 0) for name, value in totals.items()}
