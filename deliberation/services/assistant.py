"""The AI assistant's service functions: what views, commands and tasks call.

Each one picks the configured provider, does its work through ``deliberation/assistant/``
and returns what people are shown, with the limitations of any offline fallback.
"""

from pathlib import Path
from typing import Any

from deliberation.assistant.duplicates import (
    DuplicateCheck,
    duplicate_check,
    pair_verdicts,
    read_pairs_csv,
)
from deliberation.assistant.provider import get_provider
from deliberation.models import Conversation
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
