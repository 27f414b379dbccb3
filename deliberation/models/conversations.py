"""Conversations, the people taking part in them, and the statements they vote on."""

import re
import secrets
import unicodedata

from django.conf import settings
from django.db import models

STATEMENT_MAX_LENGTH = 500
# Case folding lengthens some characters up to three times ("ﬃ" → "ffi", "ΐ" → three code
# points), so the key of a statement at the length limit needs a column three times as long.
# tests/models/test_conversations.py checks the factor over every code point.
STATEMENT_KEY_GROWTH = 3
STATEMENT_KEY_MAX_LENGTH = STATEMENT_MAX_LENGTH * STATEMENT_KEY_GROWTH
_WHITESPACE = re.compile(r"\s+")


def normalize_statement_text(text: str) -> str:
    """The key two statements share when they are "the same text".

    Case- and whitespace-insensitive: "Ban  cars" and "ban cars" collide; so do texts that
    differ only in how their accents are encoded (composed or not).
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip().casefold()


class ModerationMode(models.TextChoices):
    STRICT = "strict", "Strict: new statements wait for approval"
    OPEN = "open", "Open: new statements are visible at once"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public: listed on the home page"
    UNLISTED = "unlisted", "Unlisted: anyone with the link"
    PRIVATE = "private", "Private: moderators only"


class AccessMode(models.TextChoices):
    ANYONE = "anyone", "Anyone, anonymously"
    INVITE = "invite", "Holders of the invite link"
    SIGNED = "signed", "External ids your site signs"
    XID_LIST = "xid_list", "Listed external ids, through their personal links"
    LOGGED_IN = "logged_in", "Logged-in users"


# Modes that admit members only: these can keep the conversation from non-members' eyes too.
MEMBER_ACCESS_MODES = (AccessMode.INVITE, AccessMode.SIGNED, AccessMode.XID_LIST)


class ParticipantRequirement(models.TextChoices):
    NONE = "none", "Nothing more"
    EMAIL = "email", "A verified email address (one participant per address)"
    ACCOUNT = "account", "A user account (logged-in users only)"


def link_salt_new() -> str:
    """A conversation's random salt for its link keys (see deliberation.services.access)."""
    return secrets.token_hex(32)


class ReportVisibility(models.TextChoices):
    PUBLIC = "public", "Anyone who can see the conversation"
    AFTER_CLOSE = "after_close", "Anyone, once the conversation has closed"
    MODERATORS = "moderators", "Moderators only"


class Conversation(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    topic = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    moderation_mode = models.CharField(
        max_length=10, choices=ModerationMode.choices, default=ModerationMode.STRICT
    )
    participants_can_add = models.BooleanField(
        default=True, help_text="Whether participants may add statements of their own."
    )
    is_open = models.BooleanField(default=True, help_text="A closed conversation takes no writes.")
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_conversations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    opens_at = models.DateTimeField(
        null=True, blank=True, help_text="Before this time only moderators can write."
    )
    closes_at = models.DateTimeField(
        null=True, blank=True, help_text="From this time nobody can write."
    )
    show_groups = models.BooleanField(
        default=True, help_text="Whether participants see the opinion groups."
    )
    report_visibility = models.CharField(
        max_length=12, choices=ReportVisibility.choices, default=ReportVisibility.PUBLIC
    )
    access_mode = models.CharField(
        max_length=10, choices=AccessMode.choices, default=AccessMode.ANYONE
    )
    invite_version = models.PositiveIntegerField(
        default=1, help_text="Bumped to revoke every invite link handed out so far."
    )
    members_only = models.BooleanField(
        default=True,
        help_text="With invite, signed or id-list access: only members read the conversation.",
    )
    participant_requirement = models.CharField(
        max_length=10, choices=ParticipantRequirement.choices, default=ParticipantRequirement.NONE
    )
    # Random, never shown: with settings.AGORA_LINK_SECRET they derive the keys that sign
    # invite links (link_salt) and external-id links (xid_salt, replaced on rotation).
    link_salt = models.CharField(max_length=64, default=link_salt_new, editable=False)
    xid_salt = models.CharField(max_length=64, default=link_salt_new, editable=False)
    xid_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="moderated_conversations"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opens_at__isnull=True)
                | models.Q(closes_at__isnull=True)
                | models.Q(closes_at__gt=models.F("opens_at")),
                name="conversation_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return self.topic


class Participant(models.Model):
    """One person in one conversation.

    Anonymous by default (identified by their session), optionally tied to a user account or
    to an external id (``xid``) such as a Polis voter id or a community member number.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    session_key = models.CharField(max_length=40, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="participations",
    )
    xid = models.CharField(max_length=200, null=True, blank=True)
    imported = models.BooleanField(
        default=False, help_text="Imported from Polis: its external id can never be claimed."
    )
    email_hash = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        help_text="Keyed hash of the verified email address; the address is not kept.",
    )
    excluded = models.BooleanField(
        default=False, help_text="Excluded participants' votes are left out of the math."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Race: two first requests from one browser at once would each create a
            # participant; the constraint makes the loser fetch the winner's row instead.
            models.UniqueConstraint(
                fields=["conversation", "session_key"],
                condition=~models.Q(session_key=""),
                name="participant_unique_session",
            ),
            models.UniqueConstraint(
                fields=["conversation", "xid"],
                condition=models.Q(xid__isnull=False),
                name="participant_unique_xid",
            ),
            models.UniqueConstraint(
                fields=["conversation", "user"],
                condition=models.Q(user__isnull=False),
                name="participant_unique_user",
            ),
            # Race: one address verified from two browsers at once; one participant wins.
            models.UniqueConstraint(
                fields=["conversation", "email_hash"],
                condition=models.Q(email_hash__isnull=False),
                name="participant_unique_email",
            ),
        ]

    def __str__(self) -> str:
        return f"participant {self.pk} in {self.conversation_id}"


class StatementStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Statement(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="statements"
    )
    text = models.CharField(max_length=STATEMENT_MAX_LENGTH)
    text_key = models.CharField(max_length=STATEMENT_KEY_MAX_LENGTH, editable=False)
    external_id = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="The id this statement has elsewhere (a Polis comment id).",
    )
    author_participant = models.ForeignKey(
        Participant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="statements",
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_statements",
    )
    status = models.CharField(
        max_length=10, choices=StatementStatus.choices, default=StatementStatus.PENDING
    )
    is_seed = models.BooleanField(default=False)
    is_meta = models.BooleanField(default=False)
    is_ai_suggested = models.BooleanField(
        default=False, help_text="Drafted by the AI assistant and approved by a moderator."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Race: two people submitting the same text at once; one insert wins.
            models.UniqueConstraint(
                fields=["conversation", "text_key"], name="statement_unique_text"
            ),
            models.UniqueConstraint(
                fields=["conversation", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="statement_unique_external_id",
            ),
            models.CheckConstraint(condition=~models.Q(text=""), name="statement_text_not_empty"),
        ]
        indexes = [models.Index(fields=["conversation", "status"])]

    def __str__(self) -> str:
        return self.text[:80]

    def save(self, *args: object, **kwargs: object) -> None:
        self.text_key = normalize_statement_text(self.text)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def display_id(self) -> str:
        """The id people cite: the external id when imported, else the database id."""
        return self.external_id if self.external_id is not None else str(self.pk)


__all__ = [
    "MEMBER_ACCESS_MODES",
    "STATEMENT_KEY_MAX_LENGTH",
    "STATEMENT_MAX_LENGTH",
    "AccessMode",
    "Conversation",
    "ModerationMode",
    "Participant",
    "ParticipantRequirement",
    "ReportVisibility",
    "Statement",
    "StatementStatus",
    "Visibility",
    "normalize_statement_text",
]
