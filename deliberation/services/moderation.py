"""What moderators do to a running conversation, each action written to the audit log.

Every function here authorises the actor first, then locks the rows it changes, then writes
the change and its audit entry in one transaction: a decision and its record of who made it
exist together or not at all.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction

from deliberation.errors import InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    AuditAction,
    AuditLogEntry,
    Conversation,
    Participant,
    Statement,
    StatementStatus,
)
from deliberation.selectors.conversations import conversation_can_moderate
from deliberation.services.recompute import recompute_schedule
from deliberation.services.statements import statement_clean_text, statement_find_duplicate
from deliberation.services.topics import topic_assign_schedule, topics_recompute_schedule

DECISIONS = {
    "accept": (StatementStatus.ACCEPTED, AuditAction.STATEMENT_ACCEPTED),
    "reject": (StatementStatus.REJECTED, AuditAction.STATEMENT_REJECTED),
}
BULK_MAX = 500


def moderation_authorize(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation
) -> User:
    """The actor as a moderator of this conversation, or PermissionDenied."""
    if actor is None or not conversation_can_moderate(conversation=conversation, user=actor):
        raise PermissionDenied("You do not moderate this conversation.")
    assert isinstance(actor, User)
    return actor


def audit_record(
    *,
    actor: User | None,
    conversation: Conversation,
    action: AuditAction,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditLogEntry:
    """Write one audit entry. Call it inside the transaction that makes the change.

    ``actor`` is None for what a participant does to their own identity (moving to a new
    device with their signed link); the log names them "participant".
    """
    return AuditLogEntry.objects.create(
        conversation=conversation,
        actor=actor,
        actor_username=actor.get_username() if actor is not None else "participant",
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


def _clean_ids(ids: Iterable[object], *, noun: str) -> list[int]:
    cleaned: list[int] = []
    for raw in ids:
        try:
            cleaned.append(int(str(raw)))
        except ValueError:
            raise InvalidInput(f"{raw!r} is not a {noun} id.", field="ids") from None
    if not cleaned:
        raise InvalidInput(f"Select at least one {noun}.", field="ids")
    if len(cleaned) > BULK_MAX:
        raise InvalidInput(f"Act on at most {BULK_MAX} {noun}s at once.", field="ids")
    return sorted(set(cleaned))


def statement_decide_many(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    conversation: Conversation,
    statement_ids: Iterable[object],
    decision: str,
) -> list[Statement]:
    """Accept or reject statements, all of them or (on any bad id) none.

    Deciding a statement already decided is allowed (a moderator may reverse a decision)
    and is logged like any other, with the state it really had before.
    """
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    if decision not in DECISIONS:
        raise InvalidInput("The decision is either accept or reject.", field="decision")
    status, action = DECISIONS[decision]
    ids = _clean_ids(statement_ids, noun="statement")
    with transaction.atomic():
        # Race: two moderators deciding the same statements at once. Locking the rows (in
        # id order, so two bulk decisions cannot deadlock) makes the second wait and read
        # the first one's decision as its "before": one final status, both actions logged.
        statements = list(
            Statement.objects.select_for_update()
            .filter(conversation=conversation, pk__in=ids)
            .order_by("pk")
        )
        missing = sorted(set(ids) - {statement.pk for statement in statements})
        if missing:
            raise NotFound(
                f"No statement {', '.join(map(str, missing))} in this conversation: "
                "nothing was changed.",
                field="ids",
            )
        for statement in statements:
            before = statement.status
            statement.status = status
            audit_record(
                actor=moderator,
                conversation=conversation,
                action=action,
                target_type="statement",
                target_id=statement.pk,
                before={"status": before},
                after={"status": status.value},
            )
        Statement.objects.bulk_update(statements, ["status"])
        recompute_schedule(conversation_id=conversation.pk)
        if status == StatementStatus.ACCEPTED:
            topic_assign_schedule(
                conversation_id=conversation.pk, statement_ids=[s.pk for s in statements]
            )
    return statements


def statement_decide(
    *, actor: AbstractBaseUser | AnonymousUser | None, statement: Statement, decision: str
) -> Statement:
    """Accept or reject one statement."""
    return statement_decide_many(
        actor=actor,
        conversation=statement.conversation,
        statement_ids=[statement.pk],
        decision=decision,
    )[0]


def statement_text_correct(
    *, actor: AbstractBaseUser | AnonymousUser | None, statement: Statement, text: object
) -> Statement:
    """Fix a typo. The original text stays in the audit log's ``before``."""
    moderator = moderation_authorize(actor=actor, conversation=statement.conversation)
    cleaned = statement_clean_text(text)
    with transaction.atomic():
        locked = Statement.objects.select_for_update().get(pk=statement.pk)
        if cleaned == locked.text:
            raise InvalidInput("The new text is the same as the current one.", field="text")
        clash = statement_find_duplicate(conversation=statement.conversation, text=cleaned)
        if clash is not None and clash.pk != locked.pk:
            raise InvalidInput(
                f"Statement #{clash.pk} already says this; reject this one instead.",
                field="text",
            )
        before = locked.text
        locked.text = cleaned
        locked.save(update_fields=["text", "text_key"])
        audit_record(
            actor=moderator,
            conversation=statement.conversation,
            action=AuditAction.STATEMENT_EDITED,
            target_type="statement",
            target_id=locked.pk,
            before={"text": before},
            after={"text": cleaned},
        )
    return locked


def statement_flags_set(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    statement: Statement,
    is_meta: bool | None = None,
    is_seed: bool | None = None,
) -> Statement:
    """Mark a statement meta (about the conversation itself, left out of the groups) or seed."""
    moderator = moderation_authorize(actor=actor, conversation=statement.conversation)
    if is_meta is None and is_seed is None:
        raise InvalidInput("Say whether the statement is meta, seed, or both.")
    with transaction.atomic():
        locked = Statement.objects.select_for_update().get(pk=statement.pk)
        before = {"is_meta": locked.is_meta, "is_seed": locked.is_seed}
        if is_meta is not None:
            locked.is_meta = is_meta
        if is_seed is not None:
            locked.is_seed = is_seed
        locked.save(update_fields=["is_meta", "is_seed"])
        audit_record(
            actor=moderator,
            conversation=statement.conversation,
            action=AuditAction.STATEMENT_FLAGS_CHANGED,
            target_type="statement",
            target_id=locked.pk,
            before=before,
            after={"is_meta": locked.is_meta, "is_seed": locked.is_seed},
        )
        if before["is_meta"] != locked.is_meta:
            recompute_schedule(conversation_id=statement.conversation_id)
    return locked


def participant_exclusion_set(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    participant: Participant,
    excluded: bool,
    reason: str = "",
) -> Participant:
    """Exclude a participant (their votes leave the math) or undo it; both recompute."""
    conversation = participant.conversation
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    reason = reason.strip()
    if len(reason) > 500:
        raise InvalidInput("A reason can be at most 500 characters.", field="reason")
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        before = locked.excluded
        locked.excluded = excluded
        locked.save(update_fields=["excluded"])
        audit_record(
            actor=moderator,
            conversation=conversation,
            action=AuditAction.PARTICIPANT_EXCLUDED
            if excluded
            else AuditAction.PARTICIPANT_REINSTATED,
            target_type="participant",
            target_id=locked.pk,
            before={"excluded": before},
            after={"excluded": excluded, "reason": reason},
        )
        recompute_schedule(conversation_id=conversation.pk)
    return locked


def conversation_recompute_request(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation
) -> None:
    """The dashboard's "recompute now": schedule a clustering run of this conversation."""
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    with transaction.atomic():
        audit_record(
            actor=moderator,
            conversation=conversation,
            action=AuditAction.RECOMPUTE_REQUESTED,
            target_type="conversation",
            target_id=conversation.pk,
            before=None,
            after=None,
        )
        recompute_schedule(conversation_id=conversation.pk)
        topics_recompute_schedule(conversation_id=conversation.pk)
