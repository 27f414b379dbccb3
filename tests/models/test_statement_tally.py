"""StatementTally: kept equal to the vote table by its triggers, whatever writes the votes."""

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from deliberation.models import Statement, StatementTally, Vote
from deliberation.services.votes import vote_cast
from tests.concurrency import meet_at, run_together
from tests.factories import ParticipantFactory, StatementFactory


def recount(statement: Statement) -> tuple[int, int, int]:
    counts = Vote.objects.filter(statement=statement).aggregate(
        agree=Count("pk", filter=Q(value=1)),
        disagree=Count("pk", filter=Q(value=-1)),
        passes=Count("pk", filter=Q(value=0)),
    )
    return counts["agree"], counts["disagree"], counts["passes"]


def tally(statement: Statement) -> tuple[int, int, int]:
    row = StatementTally.objects.filter(statement=statement).first()
    return (row.agree, row.disagree, row.passes) if row else (0, 0, 0)


@pytest.mark.django_db
def test_tallies_follow_votes_cast_changed_bulk_written_and_deleted() -> None:
    statement = StatementFactory.create()
    other = StatementFactory.create(conversation=statement.conversation)
    people = ParticipantFactory.create_batch(6, conversation=statement.conversation)
    for person, value in zip(people[:3], (1, 1, -1), strict=True):
        vote_cast(participant=person, statement=statement, value=value)
    assert tally(statement) == (2, 1, 0)

    vote_cast(participant=people[0], statement=statement, value=0)  # a change of mind
    vote_cast(participant=people[1], statement=statement, value=1)  # the same vote again
    assert tally(statement) == (1, 1, 1)

    now = timezone.now()
    Vote.objects.bulk_create(  # as an import writes: many statements in one statement
        [
            Vote(
                conversation=statement.conversation,
                participant=person,
                statement=target,
                value=-1,
                updated_at=now,
            )
            for person in people[3:]
            for target in (statement, other)
        ]
    )
    Vote.objects.filter(participant=people[3]).update(value=1)
    assert (tally(statement), tally(other)) == ((2, 3, 1), (1, 2, 0))

    people[4].delete()  # its votes go with it
    for target in (statement, other):
        assert tally(target) == recount(target)
    assert tally(statement) == (2, 2, 1)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_votes_on_one_statement_lose_no_count() -> None:
    statement = StatementFactory.create()
    people = ParticipantFactory.create_batch(6, conversation=statement.conversation)

    with meet_at("deliberation.services.votes.access_check_write", parties=len(people)):
        outcomes = run_together(
            *(
                lambda person=person: vote_cast(participant=person, statement=statement, value=1)
                for person in people
            )
        )

    assert all(isinstance(outcome, Vote) for outcome in outcomes), outcomes
    assert tally(statement) == recount(statement) == (6, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_one_participants_racing_changes_leave_the_tally_on_the_final_vote() -> None:
    statement = StatementFactory.create()
    person = ParticipantFactory.create(conversation=statement.conversation)
    vote_cast(participant=person, statement=statement, value=0)

    with meet_at("deliberation.services.votes.access_check_write", parties=3):
        run_together(
            lambda: vote_cast(participant=person, statement=statement, value=1),
            lambda: vote_cast(participant=person, statement=statement, value=-1),
            lambda: vote_cast(participant=person, statement=statement, value=1),
        )

    assert tally(statement) == recount(statement)
    assert sum(tally(statement)) == 1
