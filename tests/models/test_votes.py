import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation.models import Vote, VoteEvent
from tests.factories import ParticipantFactory, StatementFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Vote, VoteEvent])
@pytest.mark.parametrize("value", [2, -2, 5])
def test_vote_value_outside_minus_one_to_one_is_refused_by_the_database(
    model: type[Vote] | type[VoteEvent], value: int
) -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)
    time_field = "updated_at" if model is Vote else "created_at"
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(
            conversation=statement.conversation,
            participant=participant,
            statement=statement,
            value=value,
            **{time_field: timezone.now()},
        )
    assert not model.objects.exists()


@pytest.mark.parametrize("value", [-1, 0, 1])
def test_vote_values_minus_one_to_one_are_stored(value: int) -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)
    Vote.objects.create(
        conversation=statement.conversation,
        participant=participant,
        statement=statement,
        value=value,
        updated_at=timezone.now(),
    )
    assert Vote.objects.get().value == value


def test_second_vote_row_for_one_participant_and_statement_is_refused() -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)
    fields = {
        "conversation": statement.conversation,
        "participant": participant,
        "statement": statement,
        "updated_at": timezone.now(),
    }
    Vote.objects.create(value=1, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(value=-1, **fields)
