"""Conversations with votes for the live-groups tests, written in bulk (no per-vote service)."""

from dataclasses import dataclass

from django.test import Client
from django.utils import timezone

from deliberation.models import Conversation, Participant, Snapshot, Statement, Vote, VoteEvent
from deliberation.services.snapshots import snapshot_run
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory, UserFactory


@dataclass
class Camps:
    conversation: Conversation
    statements: list[Statement]
    camp_a: list[Participant]
    camp_b: list[Participant]


def votes_write(rows: list[tuple[Participant, Statement, int]]) -> None:
    """Store votes and their events as vote_cast would, minus its per-request checks."""
    now = timezone.now()
    VoteEvent.objects.bulk_create(
        VoteEvent(
            conversation_id=s.conversation_id, participant=p, statement=s, value=v, created_at=now
        )
        for p, s, v in rows
    )
    Vote.objects.bulk_create(
        [
            Vote(
                conversation_id=s.conversation_id,
                participant=p,
                statement=s,
                value=v,
                updated_at=now,
            )
            for p, s, v in rows
        ],
        update_conflicts=True,
        unique_fields=["participant", "statement"],
        update_fields=["value", "updated_at"],
    )


def two_camps(*, per_camp: int = 12, n_statements: int = 8) -> Camps:
    """Two camps that vote opposite ways on every statement but the last, which all agree on."""
    conversation = ConversationFactory.create()
    statements = [StatementFactory.create(conversation=conversation) for _ in range(n_statements)]
    camp_a = [ParticipantFactory.create(conversation=conversation) for _ in range(per_camp)]
    camp_b = [ParticipantFactory.create(conversation=conversation) for _ in range(per_camp)]
    rows = []
    for sign, camp in ((1, camp_a), (-1, camp_b)):
        for participant in camp:
            for index, statement in enumerate(statements):
                shared = index == len(statements) - 1
                rows.append(
                    (participant, statement, 1 if shared else sign * (1 if index % 2 else -1))
                )
    votes_write(rows)
    return Camps(conversation, statements, camp_a, camp_b)


def clustered(camps: Camps) -> Snapshot:
    """Run a snapshot of the camps' conversation here and now."""
    snapshot = snapshot_run(snapshot_id=Snapshot.objects.create(conversation=camps.conversation).pk)
    assert snapshot is not None
    return snapshot


def log_in_as_first_of_camp_a(client: Client, camps: Camps) -> int:
    """Log the client in as the first participant of camp A; returns that participant's id."""
    user = UserFactory.create()
    me = camps.camp_a[0]
    me.user = user
    me.save()
    client.force_login(user)
    return me.pk
