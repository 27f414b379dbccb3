"""vote_cast under real concurrency: separate PostgreSQL connections, colliding on purpose."""

import pytest

from deliberation.models import Vote, VoteEvent
from deliberation.services.votes import vote_cast
from tests.concurrency import meet_at, run_together
from tests.factories import ParticipantFactory, StatementFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_simultaneous_votes_by_one_participant_leave_one_vote_and_two_events() -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)

    # Both racers have passed every check before either writes.
    with meet_at("deliberation.services.votes.access_check_write", parties=2):
        outcomes = run_together(
            lambda: vote_cast(participant=participant, statement=statement, value=1),
            lambda: vote_cast(participant=participant, statement=statement, value=-1),
        )

    assert [type(outcome) for outcome in outcomes] == [Vote, Vote]
    vote = Vote.objects.get()
    events = list(VoteEvent.objects.order_by("id"))
    assert sorted(event.value for event in events) == [-1, 1]
    assert vote.value == events[-1].value, "the Vote must hold the value logged last"


def test_each_racer_gets_back_the_vote_it_wrote() -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)

    with meet_at("deliberation.services.votes.access_check_write", parties=2):
        agree, disagree = run_together(
            lambda: vote_cast(participant=participant, statement=statement, value=1),
            lambda: vote_cast(participant=participant, statement=statement, value=-1),
        )

    assert (agree.value, disagree.value) == (1, -1)
