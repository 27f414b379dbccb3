"""Casting votes."""

from django.db import transaction
from django.utils import timezone

from deliberation.errors import InvalidInput, NotFound
from deliberation.models import (
    Participant,
    RateLimitAction,
    Statement,
    StatementStatus,
    Vote,
    VoteEvent,
    VoteValue,
)
from deliberation.models.votes import REASON_MAX_LENGTH
from deliberation.services.access import access_check_write
from deliberation.services.recompute import recompute_schedule
from deliberation.services.text import text_refuse_unstorable


def vote_clean_value(value: object) -> int:
    """The vote value as -1, 0 or +1, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("A vote is 1 (agree), -1 (disagree) or 0 (pass).", field="value")
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(
            "A vote is 1 (agree), -1 (disagree) or 0 (pass).", field="value"
        ) from None
    if number not in VoteValue.values:
        raise InvalidInput(
            f"A vote is 1 (agree), -1 (disagree) or 0 (pass), not {number}.", field="value"
        )
    return number


def vote_cast(
    *, participant: Participant, statement: Statement, value: object, reason: str = ""
) -> Vote:
    """Record a vote (or a change of vote) and log it.

    Only accepted statements of the participant's own, open conversation take votes.
    """
    number = vote_clean_value(value)
    reason = (reason or "").strip()
    text_refuse_unstorable(reason, subject="A reason", field="reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            f"A reason can be at most {REASON_MAX_LENGTH} characters.", field="reason"
        )
    if statement.conversation_id != participant.conversation_id:
        raise NotFound("No such statement in this conversation.", field="statement")
    if statement.status != StatementStatus.ACCEPTED:
        raise InvalidInput(
            "This statement is not open for voting (it is "
            f"{StatementStatus(statement.status).label.lower()}).",
            field="statement",
        )
    conversation = statement.conversation
    access_check_write(
        conversation=conversation, participant=participant, action=RateLimitAction.VOTE
    )
    now = timezone.now()
    with transaction.atomic():
        # Race: two votes by one participant on one statement at once. The unique
        # constraint plus ON CONFLICT DO UPDATE turns them into one row holding the later
        # value. The upsert comes first: its row lock queues the racers, so each logs its
        # event only once its value is in, and the last event always matches the Vote.
        Vote.objects.bulk_create(
            [
                Vote(
                    conversation_id=conversation.pk,
                    participant=participant,
                    statement=statement,
                    value=number,
                    reason=reason,
                    updated_at=now,
                )
            ],
            update_conflicts=True,
            unique_fields=["participant", "statement"],
            update_fields=["value", "reason", "updated_at"],
        )
        VoteEvent.objects.create(
            conversation_id=conversation.pk,
            participant=participant,
            statement=statement,
            value=number,
            reason=reason,
            created_at=now,
        )
        recompute_schedule(conversation_id=conversation.pk)
        # Read under the row lock, so this is the vote this call wrote, not a racer's.
        return Vote.objects.get(participant=participant, statement=statement)
