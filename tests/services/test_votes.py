import pytest

from deliberation.errors import ConversationClosed, InvalidInput, NotFound
from deliberation.models import StatementStatus, Vote, VoteEvent
from deliberation.services.votes import vote_cast
from tests.factories import ParticipantFactory, StatementFactory

pytestmark = pytest.mark.django_db


def test_revote_keeps_one_vote_and_logs_every_event() -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)
    vote_cast(participant=participant, statement=statement, value=1)
    vote = vote_cast(participant=participant, statement=statement, value=-1, reason=" costs ")
    assert (vote.value, vote.reason) == (-1, "costs")
    assert Vote.objects.count() == 1
    assert list(VoteEvent.objects.order_by("id").values_list("value", flat=True)) == [1, -1]


@pytest.mark.parametrize("value", [2, -2, "agree", None, True, 1.5])
def test_vote_outside_minus_one_to_one_is_refused_and_writes_nothing(value: object) -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)
    with pytest.raises(InvalidInput):
        vote_cast(participant=participant, statement=statement, value=value)
    assert not VoteEvent.objects.exists()


@pytest.mark.parametrize("status", [StatementStatus.PENDING, StatementStatus.REJECTED])
def test_vote_on_statement_not_accepted_is_refused(status: StatementStatus) -> None:
    statement = StatementFactory.create(status=status)
    participant = ParticipantFactory.create(conversation=statement.conversation)
    with pytest.raises(InvalidInput, match="not open for voting"):
        vote_cast(participant=participant, statement=statement, value=1)
    assert not Vote.objects.exists()


def test_vote_on_statement_of_another_conversation_is_not_found() -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create()
    with pytest.raises(NotFound):
        vote_cast(participant=participant, statement=statement, value=1)


def test_vote_in_closed_conversation_is_refused() -> None:
    statement = StatementFactory.create(conversation__is_open=False)
    participant = ParticipantFactory.create(conversation=statement.conversation)
    with pytest.raises(ConversationClosed):
        vote_cast(participant=participant, statement=statement, value=0)
    assert not VoteEvent.objects.exists()
