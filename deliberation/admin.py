"""The Django admin: every model, with the columns, filters and search an operator needs.

The admin is for operators looking things up and fixing the odd record; moderators run
conversations from the console, where every action is audited. The audit log and the vote
log are therefore read-only here.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from deliberation.models import (
    AICall,
    AllowedXid,
    AuditLogEntry,
    BridgingSuggestion,
    Conversation,
    DuplicateFlag,
    EmailLink,
    Participant,
    RateLimitHit,
    Snapshot,
    SnapshotSummary,
    Statement,
    StatementEmbedding,
    StatementTally,
    StatementTopic,
    Topic,
    TopicFit,
    Vote,
    VoteEvent,
)
from deliberation.models.assistant import ModerationFlag, ModerationScreening


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are history: viewable, never edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "topic",
        "owner",
        "moderation_mode",
        "access_mode",
        "visibility",
        "is_open",
        "opens_at",
        "closes_at",
        "created_at",
    ]
    list_filter = ["moderation_mode", "access_mode", "visibility", "is_open", "show_groups"]
    search_fields = ["slug", "topic", "description", "owner__username"]
    filter_horizontal = ["moderators"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["id", "conversation", "user", "xid", "excluded", "created_at"]
    list_filter = ["excluded", "conversation"]
    search_fields = ["xid", "user__username", "session_key", "conversation__slug"]
    raw_id_fields = ["conversation", "user"]


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "conversation",
        "text",
        "status",
        "is_seed",
        "is_meta",
        "external_id",
        "created_at",
    ]
    list_filter = ["status", "is_seed", "is_meta", "conversation"]
    search_fields = ["text", "external_id", "conversation__slug"]
    raw_id_fields = ["conversation", "author_participant", "author_user"]
    readonly_fields = ["text_key"]


class _VoteLogAdmin(ReadOnlyAdmin):
    list_filter = ["value", "conversation"]
    search_fields = ["reason", "statement__text", "participant__xid"]
    raw_id_fields = ["conversation", "participant", "statement"]


@admin.register(Vote)
class VoteAdmin(_VoteLogAdmin):
    list_display = ["id", "conversation", "participant", "statement", "value", "updated_at"]


@admin.register(VoteEvent)
class VoteEventAdmin(_VoteLogAdmin):
    list_display = ["id", "conversation", "participant", "statement", "value", "created_at"]


@admin.register(StatementTally)
class StatementTallyAdmin(ReadOnlyAdmin):
    # Kept by database triggers on the vote table: read-only here like the votes.
    list_display = ["statement", "conversation", "agree", "disagree", "passes"]
    list_filter = ["conversation"]
    search_fields = ["statement__text", "conversation__slug"]
    raw_id_fields = ["statement", "conversation"]


# Topics are renamed in the console, where the rename is audited: read-only here.
@admin.register(Topic)
class TopicAdmin(ReadOnlyAdmin):
    list_display = ["number", "name", "conversation", "parent", "size", "name_source"]
    list_filter = ["name_source", "renamed_by_moderator", "conversation"]
    search_fields = ["name", "description", "conversation__slug"]
    exclude = ["centroid"]


@admin.register(StatementTopic)
class StatementTopicAdmin(ReadOnlyAdmin):
    list_display = ["statement", "topic", "subtopic", "by_fit"]
    list_filter = ["by_fit", "topic__conversation"]
    search_fields = ["statement__text", "topic__name"]
    raw_id_fields = ["statement", "topic", "subtopic"]


@admin.register(TopicFit)
class TopicFitAdmin(ReadOnlyAdmin):
    list_display = ["conversation", "statements_fitted", "assigned_since", "k", "finished_at"]
    list_filter = ["finished_at"]
    search_fields = ["conversation__slug"]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "conversation",
        "actor_username",
        "action",
        "target_type",
        "target_id",
    ]
    list_filter = ["action", "target_type", "conversation"]
    search_fields = ["actor_username", "conversation__slug"]
    date_hierarchy = "created_at"


@admin.register(AllowedXid)
class AllowedXidAdmin(admin.ModelAdmin):
    list_display = ["xid", "conversation", "added_at"]
    list_filter = ["conversation"]
    search_fields = ["xid", "conversation__slug"]
    raw_id_fields = ["conversation"]


@admin.register(EmailLink)
class EmailLinkAdmin(ReadOnlyAdmin):
    # Hashes only: the address and the token were never stored.
    list_display = ["created_at", "conversation", "used_at"]
    list_filter = ["conversation"]
    search_fields = ["conversation__slug"]


@admin.register(RateLimitHit)
class RateLimitHitAdmin(ReadOnlyAdmin):
    list_display = ["window_start", "conversation", "participant", "action", "hits", "last_hit_at"]
    list_filter = ["action", "conversation"]
    search_fields = ["conversation__slug", "participant__xid"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "conversation",
        "status",
        "attempt",
        "watermark",
        "n_participants",
        "n_votes",
        "k",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "conversation"]
    search_fields = ["conversation__slug", "error"]
    # The packed positions and the clustering state are large binary/JSON blobs.
    exclude = ["positions", "state"]


@admin.register(AICall)
class AICallAdmin(ReadOnlyAdmin):
    """The AI ledger: every model call, as the report and the console summarize it."""

    list_display = [
        "created_at",
        "conversation",
        "purpose",
        "provider",
        "model",
        "outcome",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "decision",
    ]
    list_filter = ["purpose", "outcome", "provider", "decision"]
    search_fields = ["conversation__slug", "model", "prompt_version", "input_hash"]
    date_hierarchy = "created_at"


@admin.register(StatementEmbedding)
class StatementEmbeddingAdmin(ReadOnlyAdmin):
    list_display = ["statement", "model", "text_hash", "created_at"]
    list_filter = ["model"]
    search_fields = ["statement__text", "text_hash"]
    exclude = ["vector"]


@admin.register(DuplicateFlag)
class DuplicateFlagAdmin(ReadOnlyAdmin):
    list_display = ["statement", "similar_to", "tier", "score", "stance", "method", "created_at"]
    list_filter = ["tier", "stance", "method"]
    search_fields = ["statement__text", "similar_to__text"]


@admin.register(SnapshotSummary)
class SnapshotSummaryAdmin(ReadOnlyAdmin):
    list_display = ["id", "snapshot", "ai_call", "created_at"]
    list_filter = ["snapshot__conversation"]
    search_fields = ["snapshot__conversation__slug"]


@admin.register(BridgingSuggestion)
class BridgingSuggestionAdmin(admin.ModelAdmin):
    list_display = [
        "text",
        "conversation",
        "status",
        "source",
        "forecast_bridging",
        "forecast_error",
        "decided_by",
        "created_at",
    ]
    list_filter = ["status", "source", "conversation"]
    search_fields = ["text", "original_text", "conversation__slug"]
    raw_id_fields = ["conversation", "snapshot", "statement", "ai_call"]


@admin.register(ModerationScreening)
class ModerationScreeningAdmin(ReadOnlyAdmin):
    list_display = ["statement", "state", "source", "attempt", "claimed_at", "finished_at"]
    list_filter = ["state", "source"]
    search_fields = ["statement__text"]


@admin.register(ModerationFlag)
class ModerationFlagAdmin(ReadOnlyAdmin):
    list_display = ["statement", "kind", "confidence", "source", "reason", "created_at"]
    list_filter = ["kind", "source"]
    search_fields = ["statement__text", "reason"]
