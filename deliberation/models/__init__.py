"""Agora's data model. Each submodule holds one part; import models from here."""

from deliberation.models.conversations import (
    AccessMode,
    Conversation,
    ModerationMode,
    Participant,
    ReportVisibility,
    Statement,
    StatementStatus,
    Visibility,
    normalize_statement_text,
)
from deliberation.models.moderation import (
    AllowedXid,
    AuditAction,
    AuditLogEntry,
    RateLimitAction,
    RateLimitHit,
)
from deliberation.models.snapshots import POSITION_DTYPE, Snapshot, SnapshotStatus
from deliberation.models.votes import Vote, VoteEvent, VoteValue

__all__ = [
    "POSITION_DTYPE",
    "AccessMode",
    "AllowedXid",
    "AuditAction",
    "AuditLogEntry",
    "Conversation",
    "ModerationMode",
    "Participant",
    "RateLimitAction",
    "RateLimitHit",
    "ReportVisibility",
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
