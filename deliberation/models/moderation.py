"""What moderators do and what they watch: the audit log, access lists, abuse signals."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from deliberation.models.conversations import Conversation, Participant

XID_MAX_LENGTH = 200


class AuditAction(models.TextChoices):
    CONVERSATION_CREATED = "conversation_created", "Conversation created"
    CONVERSATION_UPDATED = "conversation_updated", "Settings changed"
    ACCESS_CHANGED = "access_changed", "Access changed"
    INVITE_LINK_RESET = "invite_link_reset", "Invite link reset"
    MODERATOR_ADDED = "moderator_added", "Moderator added"
    MODERATOR_REMOVED = "moderator_removed", "Moderator removed"
    STATEMENT_SEEDED = "statement_seeded", "Seed statement added"
    STATEMENT_ACCEPTED = "statement_accepted", "Statement accepted"
    STATEMENT_REJECTED = "statement_rejected", "Statement rejected"
    STATEMENT_EDITED = "statement_edited", "Statement text corrected"
    STATEMENT_FLAGS_CHANGED = "statement_flags_changed", "Statement marked meta/seed"
    PARTICIPANT_EXCLUDED = "participant_excluded", "Participant excluded"
    PARTICIPANT_REINSTATED = "participant_reinstated", "Participant reinstated"
    RECOMPUTE_REQUESTED = "recompute_requested", "Recompute requested"
    XID_SECRET_ROTATED = "xid_secret_rotated", "External-id signing secret replaced"
    PARTICIPANT_MOVED = "participant_moved", "Participant moved to a new device"
    TOPIC_RENAMED = "topic_renamed", "Topic renamed"


class AuditLogEntry(models.Model):
    """One moderator action: who, when, what, and the state before and after it.

    Append-only. ``actor_username`` is copied so the log still names the moderator after
    their account is deleted.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40)
    target_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit log entries"
        indexes = [
            models.Index(fields=["conversation", "-created_at"]),
            models.Index(fields=["conversation", "action"]),
            models.Index(fields=["conversation", "target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.action} {self.target_type} {self.target_id}"


class AllowedXid(models.Model):
    """An external id allowed to take part in an xid-list conversation."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="allowed_xids"
    )
    xid = models.CharField(max_length=XID_MAX_LENGTH)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["xid"]
        verbose_name = "allowed external id"
        constraints = [
            models.UniqueConstraint(fields=["conversation", "xid"], name="allowed_xid_unique"),
        ]

    def __str__(self) -> str:
        return self.xid


class EmailLink(models.Model):
    """A one-time link sent to prove an email address, for conversations that require one.

    Only the token's SHA-256 is kept, so the table cannot be used to log in as anyone; the
    address itself is kept as the keyed hash the participant will carry.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="email_links"
    )
    email_hash = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"email link {self.pk} in {self.conversation_id}"


class RateLimitAction(models.TextChoices):
    JOIN = "join", "Join"
    VOTE = "vote", "Vote"
    STATEMENT = "statement", "Statement"
    DRAFT_CHECK = "draft", "Draft check"
    ASSISTANT = "assistant", "Assistant question"
    EMAIL = "email", "Email link"


class RateLimitHit(models.Model):
    """Writes a participant had refused for going over the rate limit, one row per window.

    A flooding script is refused hundreds of times a minute; counting them in one row per
    (participant, action, window) keeps the signal without letting it flood the table.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="rate_limit_hits"
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="rate_limit_hits"
    )
    action = models.CharField(max_length=10, choices=RateLimitAction.choices)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=1)
    last_hit_at = models.DateTimeField()

    class Meta:
        ordering = ["-window_start", "-id"]
        constraints = [
            # Race: concurrent refused writes in one window. They are counted with
            # INSERT ... ON CONFLICT DO UPDATE SET hits = hits + 1, so none is lost.
            models.UniqueConstraint(
                fields=["participant", "action", "window_start"], name="rate_limit_hit_window"
            ),
        ]
        indexes = [models.Index(fields=["conversation", "-window_start"])]

    def __str__(self) -> str:
        return f"{self.participant_id} over the {self.action} limit x{self.hits}"


__all__ = [
    "XID_MAX_LENGTH",
    "AllowedXid",
    "AuditAction",
    "AuditLogEntry",
    "EmailLink",
    "RateLimitAction",
    "RateLimitHit",
]
