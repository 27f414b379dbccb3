"""Reads for the AI assistant: the operator's view of a conversation and the AI ledger."""

from django.db.models import Count, Q, QuerySet, Sum

from deliberation.errors import NotFound
from deliberation.models import AICall, AIOutcome, Conversation


def conversation_for_operator(*, slug: str) -> Conversation:
    """Any conversation by slug, private ones included: for management commands only."""
    conversation = Conversation.objects.filter(slug=slug).first()
    if conversation is None:
        raise NotFound(f"No conversation called {slug!r}.")
    return conversation


def ai_ledger(*, conversation: Conversation, limit: int = 100) -> QuerySet[AICall]:
    """The conversation's latest AI calls, newest first, for the moderators' ledger."""
    return AICall.objects.filter(conversation=conversation).order_by("-id")[:limit]


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
