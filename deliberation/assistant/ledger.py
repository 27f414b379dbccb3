"""Writing the AI ledger: one row per model call attempt, cache hit or offline fallback."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Sum

from deliberation.models import Conversation
from deliberation.models.assistant import AICall, AIOutcome, AIPurpose

# The ledger keeps every prompt so moderators can see what the model was told. A message
# longer than this (a summary prompt of a very large conversation) is cut, and says by how
# much: the input hash still identifies the whole prompt, and the bound keeps a busy
# conversation's ledger (one row per attempt) from growing by megabytes per call.
PROMPT_MESSAGE_MAX_CHARS = 20_000


def bounded_prompt(messages: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """The messages as stored in the ledger: each content cut to the bound, marked if cut."""
    stored = []
    for message in messages:
        content = message.get("content", "")
        if len(content) > PROMPT_MESSAGE_MAX_CHARS:
            left_out = len(content) - PROMPT_MESSAGE_MAX_CHARS
            kept = content[:PROMPT_MESSAGE_MAX_CHARS]
            content = f"{kept}\u2026 [{left_out} more characters not stored]"
        stored.append({**message, "content": content})
    return stored


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
    prompt: Iterable[Mapping[str, str]] = (),
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
        prompt=bounded_prompt(prompt),
        output=output,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        attempt=attempt,
        outcome=outcome,
        detail=detail,
    )


def ai_call_note(*, call: AICall, detail: str) -> None:
    """What became of an answer that was used (the sentences a verification dropped)."""
    AICall.objects.filter(pk=call.pk).update(detail=detail)
    call.detail = detail


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
