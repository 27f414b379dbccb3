"""Which statement a participant sees next (polis-math.md section 6)."""

import random
from collections import Counter

import pytest
from django.utils import timezone

from clustering.stats import META_PRIORITY
from deliberation.models import Participant, Statement, StatementStatus, Vote
from deliberation.selectors.routing import participant_progress, statement_next_for_participant
from tests.factories import ParticipantFactory, StatementFactory

# Seeded, so each run draws the same; 1000 draws put 3 standard deviations under 0.04.
DRAWS = 1000
TOLERANCE = 0.04


def record_vote(participant: Participant, statement: Statement, value: int) -> None:
    # Straight into the table the selectors read, past vote_cast's checks and triggers.
    Vote.objects.create(
        conversation=statement.conversation,
        participant=participant,
        statement=statement,
        value=value,
        updated_at=timezone.now(),
    )


def add_votes(statement: Statement, values: list[int]) -> None:
    """Votes on this statement by as many other participants as there are values."""
    for value in values:
        record_vote(
            ParticipantFactory.create(conversation=statement.conversation), statement, value
        )


def draw_counts(participant: Participant, extremity: dict[int, float]) -> Counter[int | None]:
    rng = random.Random(2024)
    drawn: Counter[int | None] = Counter()
    for _ in range(DRAWS):
        statement = statement_next_for_participant(
            conversation_id=participant.conversation_id,
            participant=participant,
            rng=rng,
            extremity=extremity,
        )
        drawn[statement.pk if statement else None] += 1
    return drawn


@pytest.mark.django_db
class TestStatementNextForParticipant:
    def test_never_draws_a_voted_or_unaccepted_statement(self) -> None:
        participant = ParticipantFactory.create()
        conversation = participant.conversation
        open_ones = StatementFactory.create_batch(3, conversation=conversation)
        voted = StatementFactory.create(conversation=conversation)
        record_vote(participant, voted, 0)
        for status in (StatementStatus.PENDING, StatementStatus.REJECTED):
            StatementFactory.create(conversation=conversation, status=status)
        StatementFactory.create()  # another conversation's

        rng = random.Random(7)
        drawn = {
            statement_next_for_participant(
                conversation_id=participant.conversation_id, participant=participant, rng=rng
            )
            for _ in range(300)
        }

        assert drawn == set(open_ones)

    def test_returns_none_once_everything_accepted_is_voted(self) -> None:
        participant = ParticipantFactory.create()
        statement = StatementFactory.create(conversation=participant.conversation)
        StatementFactory.create(
            conversation=participant.conversation, status=StatementStatus.PENDING
        )
        record_vote(participant, statement, 1)
        assert (
            statement_next_for_participant(
                conversation_id=participant.conversation_id, participant=participant
            )
            is None
        )

    def test_returns_none_in_an_empty_conversation(self) -> None:
        alone = ParticipantFactory.create()
        assert (
            statement_next_for_participant(conversation_id=alone.conversation_id, participant=alone)
            is None
        )

    def test_draws_in_proportion_to_priority_favouring_new_statements(self) -> None:
        participant = ParticipantFactory.create()
        fresh = StatementFactory.create(conversation=participant.conversation)
        divisive = StatementFactory.create(conversation=participant.conversation)
        add_votes(divisive, [1, -1, -1, -1, -1])
        ignored = StatementFactory.create(conversation=participant.conversation)
        add_votes(ignored, [0] * 10)
        weights = {fresh.pk: (9 / 4) ** 2, divisive.pk: (60 / 49) ** 2, ignored.pk: (3 / 144) ** 2}

        drawn = draw_counts(participant, extremity={})

        total = sum(weights.values())
        for pk, weight in weights.items():
            assert drawn[pk] / DRAWS == pytest.approx(weight / total, abs=TOLERANCE)
        assert drawn[fresh.pk] > 2 * drawn[divisive.pk]
        assert drawn[ignored.pk] <= 1

    def test_extremity_raises_a_statements_priority(self) -> None:
        participant = ParticipantFactory.create()
        plain, extreme = StatementFactory.create_batch(2, conversation=participant.conversation)

        drawn = draw_counts(participant, extremity={extreme.pk: 1.0})

        # (E + 1) doubles importance, squaring makes it 4x: 4/5 of the draws.
        assert drawn[extreme.pk] / DRAWS == pytest.approx(0.8, abs=TOLERANCE)
        assert drawn[plain.pk] + drawn[extreme.pk] == DRAWS

    def test_meta_statements_get_the_fixed_meta_priority(self) -> None:
        participant = ParticipantFactory.create()
        regular = StatementFactory.create(conversation=participant.conversation)
        meta = StatementFactory.create(conversation=participant.conversation, is_meta=True)

        drawn = draw_counts(participant, extremity={})

        share = META_PRIORITY / (META_PRIORITY + (9 / 4) ** 2)
        assert drawn[meta.pk] / DRAWS == pytest.approx(share, abs=TOLERANCE)
        assert drawn[regular.pk] > 0


@pytest.mark.django_db
def test_progress_counts_votes_on_accepted_statements_only() -> None:
    participant = ParticipantFactory.create()
    conversation = participant.conversation
    accepted = StatementFactory.create_batch(3, conversation=conversation)
    withdrawn = StatementFactory.create(conversation=conversation)
    for statement in (accepted[0], withdrawn):
        record_vote(participant, statement, 1)
    Statement.objects.filter(pk=withdrawn.pk).update(status=StatementStatus.REJECTED)
    add_votes(accepted[1], [1])

    progress = participant_progress(
        conversation_id=participant.conversation_id, participant=participant
    )

    assert (progress.voted, progress.available, progress.remaining) == (1, 3, 2)


@pytest.mark.django_db
def test_a_visitor_who_is_not_yet_a_participant_draws_any_statement_and_has_voted_on_none() -> None:
    statement = StatementFactory.create()

    progress = participant_progress(conversation_id=statement.conversation_id, participant=None)
    drawn = statement_next_for_participant(
        conversation_id=statement.conversation_id, participant=None
    )

    assert (progress.voted, progress.available) == (0, 1)
    assert drawn == statement
