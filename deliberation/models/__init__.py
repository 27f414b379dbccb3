"""Agora's data model. Each submodule holds one part; import models from here."""

from deliberation.models.conversations import (
    Conversation,
    ModerationMode,
    Participant,
    Statement,
    StatementStatus,
    Visibility,
    normalize_statement_text,
)
from deliberation.models.snapshots import POSITION_DTYPE, Snapshot, SnapshotStatus
from deliberation.models.votes import Vote, VoteEvent, VoteValue

__all__ = [
    "POSITION_DTYPE",
    "Conversation",
    "ModerationMode",
    "Participant",
    "Snapshot",
    "SnapshotStatus",
    "Statement",
    "StatementStatus",
    "Visibility",
    "Vote",
    "VoteEvent",
    "VoteValue",
    "normalize_statement_text",
]
