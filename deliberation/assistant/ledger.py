"""Writing the AI ledger: one row per model call attempt, cache hit or offline fallback."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Sum

from deliberation.models import Conversation
from deliberation.models.assistant import AICall, AIOutcome, AIPurpose

PROMPT_MESSAGE_MAX_CHARS = 20_000


def ai_call_record(
    *,
    conversation: Conversation | None,
    purpose: AIPurpose,
    provider: str,
    outcome: AIOutcome,
    model: str = "",
    prompt_version: str = "",
    input_hash: str = "",
    statement_ids: Iterable[int] = (),
    output: str = "",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    latency_ms: int = 0,
    attempt: int = 1,
    detail: str = "",
) -> AICall:
    return AICall.objects.create(
        conversation=conversation,
        purpose=purpose,
        provider=provider,
        model=model,
        prompt_version=prompt_version,
        input_hash=input_hash,
        input_statement_ids=sorted(set(statement_ids)),
        output=output,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        attempt=attempt,
        outcome=outcome,
        detail=detail,
    )


def ai_call_mark_gate_failed(*, call: AICall, reasons: list[str]) -> None:
    """The model answered but the gate refused the answer: never serve it from the cache."""
    AICall.objects.filter(pk=call.pk).update(
        outcome=AIOutcome.GATE_FAILED, detail="\n".join(reasons)
    )
    call.outcome = AIOutcome.GATE_FAILED
    call.detail = "\n".join(reasons)


def ai_tokens_spent(*, conversation: Conversation) -> int:
    totals: dict[str, Any] = AICall.objects.filter(conversation=conversation).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")
    )
    return int(totals["prompt"] or 0) + int(totals["completion"] or 0)
