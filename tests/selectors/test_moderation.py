import random
from datetime import timedelta

import pytest
from django.utils import timezone

from deliberation.errors import NotFound
from deliberation.models import AuditAction, AuditLogEntry, Participant, StatementStatus
from deliberation.selectors.moderation import (
    audit_counts_by_action,
    conversation_activity,
    conversation_get_for_moderator,
    conversation_list_for_moderator,
    statement_queue,
    statement_resemblances,
    vote_bursts,
)
from tests.factories import (
    ConversationFactory,
    ParticipantFactory,
    StatementFactory,
    UserFactory,
)
from tests.snapshot_data import votes_write

pytestmark = pytest.mark.django_db


def test_moderators_see_their_conversations_and_staff_see_all() -> None:
    moderator = UserFactory.create()
    mine = ConversationFactory.create(owner=moderator)
    helped = ConversationFactory.create()
    other = ConversationFactory.create()
    helped.moderators.add(moderator)
    assert set(conversation_list_for_moderator(user=moderator)) == {mine, helped}
    staff = UserFactory.create(is_staff=True)
    assert set(conversation_list_for_moderator(user=staff)) == {mine, helped, other}
    assert conversation_get_for_moderator(slug=helped.slug, user=moderator) == helped
    with pytest.raises(NotFound):
        conversation_get_for_moderator(slug=other.slug, user=moderator)


def test_queue_filters_by_status_kind_and_text() -> None:
    conversation = ConversationFactory.create()
    author = ParticipantFactory.create(conversation=conversation)
    pending = StatementFactory.create(
        conversation=conversation,
        text="More bike lanes.",
        status=StatementStatus.PENDING,
        author_participant=author,
    )
    seed = StatementFactory.create(conversation=conversation, text="Fewer cars.", is_seed=True)
    meta = StatementFactory.create(conversation=conversation, text="Too long.", is_meta=True)
    assert list(statement_queue(conversation=conversation)) == [pending]
    assert list(statement_queue(conversation=conversation, status="", kind="seed")) == [seed]
    assert list(statement_queue(conversation=conversation, status="", kind="meta")) == [meta]
    assert list(statement_queue(conversation=conversation, status="", kind="participant")) == [
        pending
    ]
    assert list(statement_queue(conversation=conversation, status="", text="CARS")) == [seed]


def test_pending_statement_resembling_another_is_flagged_with_its_id() -> None:
    conversation = ConversationFactory.create()
    original = StatementFactory.create(
        conversation=conversation, text="The city should build more bike lanes downtown."
    )
    resubmitted = StatementFactory.create(
        conversation=conversation,
        text="The city should build more bike lanes in downtown!",
        status=StatementStatus.PENDING,
    )
    unrelated = StatementFactory.create(
        conversation=conversation, text="Libraries need longer opening hours.", status="pending"
    )
    flags = statement_resemblances(conversation=conversation, statements=[resubmitted, unrelated])
    assert [match.statement_id for match in flags[resubmitted.pk]] == [original.pk]
    assert unrelated.pk not in flags


def _voters(conversation_id: int, n: int, created_ago: timedelta) -> list[Participant]:
    participants = ParticipantFactory.create_batch(n, conversation_id=conversation_id)
    Participant.objects.filter(pk__in=[p.pk for p in participants]).update(
        created_at=timezone.now() - created_ago
    )
    return participants


def test_burst_of_identical_voters_arriving_together_is_reported() -> None:
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(8, conversation=conversation)
    sockpuppets = _voters(conversation.pk, 4, timedelta(minutes=5))
    honest = _voters(conversation.pk, 6, timedelta(minutes=5))
    rows = [(p, s, 1 if i % 2 else -1) for p in sockpuppets for i, s in enumerate(statements)]
    rows += [
        (p, s, random.Random(j * 100 + i).choice([-1, 0, 1]))
        for j, p in enumerate(honest)
        for i, s in enumerate(statements)
    ]
    votes_write(rows)
    bursts = vote_bursts(conversation=conversation)
    assert [burst.participant_ids for burst in bursts] == [sorted(p.pk for p in sockpuppets)]
    assert bursts[0].shared_statements == 8
    assert bursts[0].similarity == 1.0


def test_identical_voters_arriving_hours_apart_are_not_a_burst() -> None:
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(6, conversation=conversation)
    spread = [_voters(conversation.pk, 1, timedelta(hours=h))[0] for h in (1, 3, 5, 7)]
    votes_write([(p, s, 1) for p in spread for s in statements])
    assert vote_bursts(conversation=conversation) == []


def test_audit_counts_by_action_for_the_methodology_section() -> None:
    conversation = ConversationFactory.create()
    for action in [AuditAction.STATEMENT_REJECTED] * 3 + [AuditAction.PARTICIPANT_EXCLUDED]:
        AuditLogEntry.objects.create(
            conversation=conversation, actor_username="mod", action=action, target_type="x"
        )
    AuditLogEntry.objects.create(
        conversation=ConversationFactory.create(),
        actor_username="mod",
        action=AuditAction.STATEMENT_REJECTED,
        target_type="x",
    )
    assert audit_counts_by_action(conversation=conversation) == {
        "participant_excluded": 1,
        "statement_rejected": 3,
    }


def test_activity_is_cumulative_per_bucket() -> None:
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(2, conversation=conversation)
    voters = ParticipantFactory.create_batch(3, conversation=conversation)
    votes_write([(p, s, 1) for p in voters for s in statements])
    activity = conversation_activity(conversation=conversation)
    assert activity.bucket == "hour"
    assert (activity.participants[-1], activity.votes[-1], activity.statements[-1]) == (3, 6, 2)
