"""Adding statements to a conversation."""

import unicodedata
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation.errors import (
    DuplicateStatement,
    InvalidInput,
    PermissionDenied,
)
from deliberation.models import (
    Conversation,
    ModerationMode,
    Participant,
    RateLimitAction,
    Statement,
    StatementStatus,
    normalize_statement_text,
)
from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.services.access import access_check_write
from deliberation.services.recompute import recompute_schedule
from deliberation.services.text import text_is_visible, text_refuse_unstorable
from deliberation.services.topics import topic_assign_schedule


def statement_clean_text(text: object) -> str:
    """The statement text, composed (NFC) and trimmed, or a clear error saying what is wrong
    with it.

    Composed first, so the length counts what a reader sees ("é" is one character however it
    was typed) and the stored text and its key (normalize_statement_text) are the ones every
    path (API, web, assistant, console, import) produces for the same words.
    """
    if not isinstance(text, str):
        raise InvalidInput("A statement must be text.", field="text")
    # On the text as sent, so the position given is the sender's, and so control characters
    # that strip() takes for spacing (U+001C to U+001F, U+0085) are refused, not trimmed.
    text_refuse_unstorable(text, subject="A statement", field="text")
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not text_is_visible(cleaned):
        raise InvalidInput("A statement cannot be empty.", field="text")
    if len(cleaned) > STATEMENT_MAX_LENGTH:
        raise InvalidInput(
            f"A statement can be at most {STATEMENT_MAX_LENGTH} characters "
            f"(this one has {len(cleaned)}).",
            field="text",
        )
    return cleaned


def statement_find_duplicate(*, conversation: Conversation, text: str) -> Statement | None:
    """The statement of this conversation with the same text, ignoring case and spacing."""
    return Statement.objects.filter(
        conversation=conversation, text_key=normalize_statement_text(text)
    ).first()


def statement_refuse_duplicate(*, conversation: Conversation, text: str) -> None:
    """Refuse a text this conversation already has (ignoring case and spacing)."""
    existing = statement_find_duplicate(conversation=conversation, text=text)
    if existing is not None:
        raise DuplicateStatement(
            "This statement is already in the conversation: vote on it instead.",
            existing_id=existing.pk,
        )


def statement_create(
    *,
    conversation: Conversation,
    text: object,
    author_participant: Participant | None = None,
    author_user: User | None = None,
    is_seed: bool = False,
    is_meta: bool = False,
    is_ai_suggested: bool = False,
    status: StatementStatus | None = None,
    external_id: str | None = None,
    created_at: datetime | None = None,
) -> Statement:
    """Add a statement.

    Participants' statements wait for approval in strict moderation and are visible at once
    in open moderation; statements from moderators (and seeds) are accepted. ``status``
    overrides that, for importers that carry a moderation decision with them.
    """
    cleaned = statement_clean_text(text)
    if author_participant is not None:
        if author_participant.conversation_id != conversation.pk:
            raise PermissionDenied("That participant belongs to another conversation.")
        if not conversation.participants_can_add:
            raise PermissionDenied("Participants cannot add statements to this conversation.")
    access_check_write(
        conversation=conversation,
        participant=author_participant,
        action=RateLimitAction.STATEMENT,
    )
    if status is None:
        by_participant = author_participant is not None and author_user is None
        strict = conversation.moderation_mode == ModerationMode.STRICT
        status = StatementStatus.PENDING if by_participant and strict else StatementStatus.ACCEPTED
    statement_refuse_duplicate(conversation=conversation, text=cleaned)
    try:
        with transaction.atomic():
            recompute_schedule(conversation_id=conversation.pk)
            statement = Statement.objects.create(
                conversation=conversation,
                text=cleaned,
                author_participant=author_participant,
                author_user=author_user,
                status=status,
                is_seed=is_seed,
                is_meta=is_meta,
                is_ai_suggested=is_ai_suggested,
                external_id=external_id,
                created_at=created_at or timezone.now(),
            )
            if status == StatementStatus.ACCEPTED:
                topic_assign_schedule(conversation_id=conversation.pk, statement_ids=[statement.pk])
            return statement
    except IntegrityError:
        # Race: the same text was submitted concurrently and the other insert won.
        statement_refuse_duplicate(conversation=conversation, text=cleaned)
        raise
