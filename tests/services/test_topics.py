import csv
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deliberation.assistant.duplicates import statement_vectors_store
from deliberation.assistant.embeddings import LOCAL_MODEL, local_embedder
from deliberation.errors import PermissionDenied
from deliberation.models import (
    AuditAction,
    AuditLogEntry,
    Conversation,
    Statement,
    StatementStatus,
    StatementTopic,
    Topic,
    TopicFit,
    TopicNameSource,
)
from deliberation.services.moderation import statement_decide
from deliberation.services.statements import statement_create
from deliberation.services.topics import (
    REFIT_MIN_NEW,
    REFIT_SHARE,
    topic_rename,
    topics_fit_claim,
    topics_recompute,
)
from tests.factories import ConversationFactory, StatementFactory, UserFactory

THEMES = Path(__file__).parents[1] / "clustering" / "data" / "topics_themes.csv"
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def themed() -> list[tuple[str, str, np.ndarray]]:
    with THEMES.open() as handle:
        rows = list(csv.DictReader(handle))
    vectors = local_embedder().embed([row["text"] for row in rows])
    return [(row["theme"], row["text"], v) for row, v in zip(rows, vectors, strict=True)]


def seeded(themed: list[tuple[str, str, np.ndarray]], *, leave_out: int = 0) -> Conversation:
    """A conversation holding the themed statements, their local vectors stored."""
    conversation = ConversationFactory.create()
    rows = themed[: len(themed) - leave_out]
    statements = [StatementFactory.create(conversation=conversation, text=t) for _, t, _ in rows]
    statement_vectors_store(
        statements=statements, model=LOCAL_MODEL, vectors=np.vstack([v for _, _, v in rows])
    )
    return conversation


def assignments(conversation: Conversation) -> dict[int, int]:
    return dict(
        StatementTopic.objects.filter(statement__conversation=conversation).values_list(
            "statement_id", "topic__number"
        )
    )


def test_recompute_puts_every_accepted_statement_in_one_topic_and_no_other(
    themed: list[tuple[str, str, np.ndarray]],
) -> None:
    conversation = seeded(themed)
    pending = StatementFactory.create(
        conversation=conversation, text="Unreviewed text", status=StatementStatus.PENDING
    )
    topics = topics_recompute(conversation_id=conversation.pk)
    assert topics is not None and len([t for t in topics if t.parent is None]) >= 5
    accepted = set(
        Statement.objects.filter(
            conversation=conversation, status=StatementStatus.ACCEPTED
        ).values_list("pk", flat=True)
    )
    assert set(assignments(conversation)) == accepted and pending.pk not in accepted
    for topic in Topic.objects.filter(conversation=conversation, parent=None):
        assert topic.name_source == TopicNameSource.KEYWORDS and topic.name
        assert topic.size == topic.assignments.count()


def test_recompute_with_one_new_statement_keeps_every_topic_number(
    themed: list[tuple[str, str, np.ndarray]],
) -> None:
    conversation = seeded(themed, leave_out=1)
    topics_recompute(conversation_id=conversation.pk)
    before = assignments(conversation)
    numbers = set(Topic.objects.filter(conversation=conversation).values_list("number", flat=True))
    _, text, vector = themed[-1]
    new = StatementFactory.create(conversation=conversation, text=text)
    statement_vectors_store(statements=[new], model=LOCAL_MODEL, vectors=vector[None, :])
    topics_recompute(conversation_id=conversation.pk)
    after = assignments(conversation)
    assert numbers <= set(
        Topic.objects.filter(conversation=conversation).values_list("number", flat=True)
    )
    assert sum(before[k] != after[k] for k in before) <= 1 and new.pk in after


def test_a_new_accepted_statement_joins_its_nearest_topic_at_once_and_fast(
    themed: list[tuple[str, str, np.ndarray]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    conversation = seeded(themed)
    topics_recompute(conversation_id=conversation.pk)
    transit = Statement.objects.get(
        conversation=conversation, text="Buses should get priority at traffic lights."
    )
    transit_topic = StatementTopic.objects.get(statement=transit).topic
    local_embedder().embed(["warm up"])
    with django_capture_on_commit_callbacks() as callbacks:
        new = statement_create(
            conversation=conversation, text="The number 12 bus should run later on Sundays."
        )
    assign = [c for c in callbacks if c.__qualname__.startswith("topic_assign_schedule")]
    # Only the assignment is timed: the other callbacks are the snapshot run, eager here.
    started = time.perf_counter()
    assign[0]()
    elapsed = time.perf_counter() - started
    print(f"\nnearest-topic assignment of one statement (embedding included): {elapsed:.3f} s")
    assignment = StatementTopic.objects.get(statement=new)
    assert assignment.topic == transit_topic and not assignment.by_fit
    assert elapsed < 0.5


def test_a_pending_statement_is_assigned_only_once_accepted(
    themed: list[tuple[str, str, np.ndarray]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    conversation = seeded(themed)
    topics_recompute(conversation_id=conversation.pk)
    pending = StatementFactory.create(
        conversation=conversation,
        text="Hospitals need more nurses on the night shift.",
        status=StatementStatus.PENDING,
    )
    assert not StatementTopic.objects.filter(statement=pending).exists()
    with django_capture_on_commit_callbacks(execute=True):
        statement_decide(actor=conversation.owner, statement=pending, decision="accept")
    assert StatementTopic.objects.filter(statement=pending).exists()


def test_enough_new_statements_trigger_a_refit(
    themed: list[tuple[str, str, np.ndarray]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # 114 fitted: a refit is due after max(10, 10% of 114) = 12 arrivals, not before.
    arrivals = 12
    assert arrivals == math.ceil(max(REFIT_MIN_NEW, REFIT_SHARE * (len(themed) - arrivals)))
    conversation = seeded(themed, leave_out=arrivals)
    topics_recompute(conversation_id=conversation.pk)
    for i, (_, text, _) in enumerate(themed[-arrivals:], start=1):
        with django_capture_on_commit_callbacks(execute=True):
            statement_create(conversation=conversation, text=text)
        state = TopicFit.objects.get(conversation=conversation)
        if i < arrivals:
            assert state.assigned_since == i and state.statements_fitted == len(themed) - arrivals
    # The last arrival reached the threshold; the (eager) task refitted all of them.
    assert state.assigned_since == 0 and state.statements_fitted == len(themed)
    assert StatementTopic.objects.filter(statement__conversation=conversation).filter(
        by_fit=True
    ).count() == len(themed)


def test_a_claimed_fit_is_not_run_twice(themed: list[tuple[str, str, np.ndarray]]) -> None:
    conversation = seeded(themed[:30])
    assert topics_fit_claim(conversation_id=conversation.pk)
    assert topics_recompute(conversation_id=conversation.pk) is None
    assert not StatementTopic.objects.filter(statement__conversation=conversation).exists()


def test_a_moderators_name_is_audited_and_survives_recomputes(
    themed: list[tuple[str, str, np.ndarray]],
) -> None:
    conversation = seeded(themed)
    topics_recompute(conversation_id=conversation.pk)
    topic = Topic.objects.filter(conversation=conversation, parent=None).exclude(number=0)[0]
    with pytest.raises(PermissionDenied):
        topic_rename(
            actor=UserFactory.create(), conversation=conversation, number=topic.number, name="X"
        )
    topic_rename(
        actor=conversation.owner, conversation=conversation, number=topic.number, name=" Buses "
    )
    topics_recompute(conversation_id=conversation.pk)
    topic.refresh_from_db()
    assert (topic.name, topic.name_source) == ("Buses", TopicNameSource.MODERATOR)
    entry = AuditLogEntry.objects.get(action=AuditAction.TOPIC_RENAMED)
    assert entry.after == {"name": "Buses", "name_source": "moderator"}
