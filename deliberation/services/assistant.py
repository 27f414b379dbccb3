"""The AI assistant's service functions: what views, commands and tasks call.

Each one picks the configured provider, does its work through ``deliberation/assistant/``
and returns what people are shown, with the limitations of any offline fallback.
"""

from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from deliberation.assistant.duplicates import (
    DuplicateCheck,
    duplicate_check,
    pair_verdicts,
    read_pairs_csv,
)
from deliberation.assistant.provider import get_provider
from deliberation.assistant.summaries import summarize
from deliberation.errors import InvalidInput, NotFound
from deliberation.models import Conversation, Snapshot, SnapshotStatus, SnapshotSummary
from deliberation.selectors.assistant import conversation_for_operator
from deliberation.selectors.groups import snapshot_latest
from deliberation.services.statements import statement_clean_text


def assistant_dedupe_pairs(*, path: Path) -> dict[str, Any]:
    """Tier every pair of a CSV file with the configured provider (``assistant dedupe``)."""
    pairs = read_pairs_csv(path)
    verdicts, method, limitations = pair_verdicts(provider=get_provider(), pairs=pairs)
    return {
        "method": method,
        "limitations": limitations,
        "pairs": [
            {"a": a, "b": b, "tier": verdict.tier.value, "score": round(verdict.score, 4)}
            for (a, b), verdict in zip(pairs, verdicts, strict=True)
        ],
    }


def assistant_draft_check(*, conversation: Conversation, text: object) -> DuplicateCheck:
    """What a statement being drafted resembles, for the hints shown as the author types."""
    return duplicate_check(
        provider=get_provider(), conversation=conversation, text=statement_clean_text(text)
    )


def assistant_summarize(*, snapshot: Snapshot) -> SnapshotSummary:
    """The snapshot's summaries, written once: a second call returns the stored ones."""
    existing = SnapshotSummary.objects.filter(snapshot=snapshot).first()
    if existing is not None:
        return existing
    if snapshot.status != SnapshotStatus.SUCCEEDED:
        raise InvalidInput("Only a finished snapshot can be summarized.", field="snapshot")
    result = summarize(snapshot=snapshot, provider=get_provider())
    try:
        with transaction.atomic():
            return SnapshotSummary.objects.create(
                snapshot=snapshot,
                groups=result.groups,
                overview=result.overview,
                limitations=result.limitations,
                ai_call=result.call,
            )
    except IntegrityError:
        # Race: two workers summarized the same snapshot at once; the first stored wins and
        # the other's model calls stay in the ledger.
        return SnapshotSummary.objects.get(snapshot=snapshot)


def assistant_summarize_latest(*, conversation: Conversation) -> SnapshotSummary:
    snapshot = snapshot_latest(conversation=conversation)
    if snapshot is None:
        raise NotFound("This conversation has no opinion groups yet: nothing to summarize.")
    return assistant_summarize(snapshot=snapshot)


def assistant_summary_document(*, slug: str) -> dict[str, Any]:
    """``assistant summarize SLUG``: the latest snapshot's summaries as JSON."""
    summary = assistant_summarize_latest(conversation=conversation_for_operator(slug=slug))
    return {
        "snapshot": summary.snapshot_id,
        "groups": summary.groups,
        "overview": summary.overview,
        "limitations": summary.limitations,
    }
