"""Topics of a conversation: the full fit (a task) and the nearest-topic assignment on arrival.

The fit runs on the local model's stored statement vectors (computed once each), so topics
never mix vector spaces. Offline names are the topic's keywords (class-based TF-IDF) and say
so (``name_source = keywords``); a moderator's name is kept across recomputes.
"""

import logging
from datetime import timedelta

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from clustering.topics import OTHER_ID, PreviousTopic, assign_vector, fit_topics, topic_keywords
from deliberation.assistant.duplicates import local_statement_vectors
from deliberation.assistant.provider import get_provider
from deliberation.assistant.topic_names import TopicInput, topic_names_generate
from deliberation.errors import InvalidInput, NotFound
from deliberation.models import (
    AuditAction,
    Conversation,
    Statement,
    StatementStatus,
    StatementTopic,
    Topic,
    TopicFit,
    TopicNameSource,
)

logger = logging.getLogger(__name__)

# A fit running longer than this lost its worker (5,000 statements fit in seconds).
FIT_STALE_S = 600.0
# A refit is due once this share of the fitted statements arrived since (and at least
# REFIT_MIN_NEW): nearest-topic assignment serves in between.
REFIT_SHARE = 0.1
REFIT_MIN_NEW = 10
TOPIC_NAME_MAX = 120
OTHER_NAME = "Other"


def _accepted(conversation_id: int) -> list[Statement]:
    return list(
        Statement.objects.filter(
            conversation_id=conversation_id, status=StatementStatus.ACCEPTED
        ).order_by("pk")
    )


def _vector(topic: Topic) -> np.ndarray:
    return np.frombuffer(bytes(topic.centroid), dtype=np.float32)


def _keyword_name(words: list[str]) -> str:
    return ", ".join(words)[:TOPIC_NAME_MAX] or "(no keywords)"


def topics_fit_claim(*, conversation_id: int) -> bool:
    """Take the conversation's fit for this worker; False if another worker holds it."""
    TopicFit.objects.get_or_create(conversation_id=conversation_id)
    now = timezone.now()
    # Race: a task delivered twice, or the console and a task, claim at once. The UPDATE
    # re-checks its WHERE on the locked row, so exactly one claimant sees a row updated.
    return bool(
        TopicFit.objects.filter(conversation_id=conversation_id)
        .filter(Q(started_at__isnull=True) | Q(started_at__lt=now - timedelta(seconds=FIT_STALE_S)))
        .update(started_at=now)
    )


def topics_recompute(*, conversation_id: int) -> list[Topic] | None:
    """Fit the topics of a conversation's accepted statements and store them.

    Returns the topics, or None when another worker holds the fit. Safe to run twice: the
    second run restarts from the first one's topics and keeps their numbers.
    """
    if not topics_fit_claim(conversation_id=conversation_id):
        return None
    try:
        return _recompute(conversation_id)
    finally:
        TopicFit.objects.filter(conversation_id=conversation_id).update(started_at=None)


def _recompute(conversation_id: int) -> list[Topic]:
    statements = _accepted(conversation_id)
    keys = np.array([s.pk for s in statements], dtype=np.int64)
    vectors = local_statement_vectors(statements) if statements else np.zeros((0, 1))
    old = {t.number: t for t in Topic.objects.filter(conversation_id=conversation_id)}
    members: dict[int, set[int]] = {number: set() for number in old}
    for row in StatementTopic.objects.filter(topic__conversation_id=conversation_id).values_list(
        "statement_id", "topic__number", "subtopic__number"
    ):
        members[row[1]].add(row[0])
        if row[2] is not None:
            members[row[2]].add(row[0])
    previous = [
        PreviousTopic(
            number,
            None
            if t.parent_id is None
            else next(p.number for p in old.values() if p.pk == t.parent_id),
            frozenset(members[number]),
            _vector(t).astype(np.float64),
        )
        for number, t in old.items()
    ]
    state = TopicFit.objects.get(conversation_id=conversation_id)
    model = fit_topics(
        vectors,
        keys=keys,
        previous=previous,
        previous_k=state.k or None,
        first_new_id=state.next_number,
        random_state=0,
    )
    names = topic_keywords([s.text for s in statements], model.labels)
    # Named outside the transaction: a model call may take seconds.
    by_model = topic_names_generate(
        conversation=Conversation.objects.get(pk=conversation_id),
        topics=[
            TopicInput(
                number=t.id,
                statements=[
                    (statements[i].pk, statements[i].text)
                    for i in t.members[np.argsort(-(vectors[t.members] @ t.centroid))]
                ],
                centroid=t.centroid,
                spread=t.spread,
            )
            for t in model.top_level()
            if not t.is_other and not (t.id in old and old[t.id].renamed_by_moderator)
        ],
        provider=get_provider(),
    )
    subnames = topic_keywords(
        [s.text for s in statements], np.where(model.sublabels >= 0, model.sublabels, -1)
    )
    with transaction.atomic():
        # Race: a moderator renaming a topic while the fit writes; the lock orders them, and
        # the rename's flag is read after it so a moderator's name is never overwritten.
        TopicFit.objects.select_for_update().get(conversation_id=conversation_id)
        current = {t.number: t for t in Topic.objects.filter(conversation_id=conversation_id)}
        kept: dict[int, Topic] = {}
        for fitted in model.topics:
            topic = current.get(fitted.id) or Topic(
                conversation_id=conversation_id, number=fitted.id
            )
            words = (subnames if fitted.parent is not None else names).get(fitted.id, [])
            if topic.renamed_by_moderator:
                pass
            elif fitted.id in by_model:
                topic.name = by_model[fitted.id].name
                topic.description = by_model[fitted.id].description
                topic.name_source = TopicNameSource.MODEL
            else:
                topic.name = OTHER_NAME if fitted.is_other else _keyword_name(words)
                topic.description = ""
                topic.name_source = TopicNameSource.KEYWORDS
            topic.parent = None if fitted.parent is None else kept[fitted.parent]
            topic.size = len(fitted.members)
            topic.centroid = fitted.centroid.astype(np.float32).tobytes()
            topic.spread = fitted.spread
            topic.save()
            kept[fitted.id] = topic
        Topic.objects.filter(conversation_id=conversation_id).exclude(
            number__in=list(kept)
        ).delete()
        StatementTopic.objects.filter(statement__conversation_id=conversation_id).delete()
        StatementTopic.objects.bulk_create(
            StatementTopic(
                statement_id=int(key),
                topic=kept[int(label)],
                subtopic=kept[int(sub)] if sub >= 0 else None,
                by_fit=True,
            )
            for key, label, sub in zip(keys, model.labels, model.sublabels, strict=True)
        )
        TopicFit.objects.filter(conversation_id=conversation_id).update(
            statements_fitted=len(statements),
            assigned_since=0,
            k=model.k,
            next_number=max([state.next_number, *(n + 1 for n in kept)]),
            finished_at=timezone.now(),
        )
    return list(kept.values())


def topic_assign(*, statement: Statement) -> StatementTopic | None:
    """Put a newly accepted statement in its nearest topic (and subtopic) at once.

    Nothing to do before the first fit, or for a statement that is not accepted; a refit is
    scheduled once enough statements arrived since the last one.
    """
    if statement.status != StatementStatus.ACCEPTED:
        return None
    topics = list(Topic.objects.filter(conversation_id=statement.conversation_id))
    if not topics:
        return None
    vector = local_statement_vectors([statement])[0]
    top = [t for t in topics if t.parent_id is None]
    previous = [PreviousTopic(t.number, None, frozenset(), _vector(t)) for t in top]
    number = assign_vector(vector, previous, [t.spread for t in top])
    by_number = {t.number: t for t in top}
    topic = by_number.get(number) or by_number.get(OTHER_ID)
    if topic is None:  # No "other" topic yet: it is created on the next fit.
        topic = Topic.objects.create(
            conversation_id=statement.conversation_id,
            number=OTHER_ID,
            name=OTHER_NAME,
            centroid=np.asarray(vector, dtype=np.float32).tobytes(),
            spread=1.0,
        )
    children = [t for t in topics if t.parent_id == topic.pk]
    subtopic = None
    if children:
        subs = [PreviousTopic(t.number, topic.number, frozenset(), _vector(t)) for t in children]
        # Within its topic a statement always has a nearest subtopic: they cover the topic.
        sub_number = assign_vector(vector, subs, [-1.0] * len(subs))
        subtopic = next(t for t in children if t.number == sub_number)
    assignment, _ = StatementTopic.objects.update_or_create(
        statement=statement, defaults={"topic": topic, "subtopic": subtopic, "by_fit": False}
    )
    _refit_if_due(statement.conversation_id)
    return assignment


def _refit_if_due(conversation_id: int) -> None:
    updated = TopicFit.objects.filter(conversation_id=conversation_id)
    # Race: concurrent assignments each count themselves: F() adds, never overwrites.
    updated.update(assigned_since=F("assigned_since") + 1)
    state = updated.first()
    if state is None:
        return
    if state.assigned_since >= max(REFIT_MIN_NEW, REFIT_SHARE * state.statements_fitted):
        topics_recompute_schedule(conversation_id=conversation_id)


def topics_recompute_schedule(*, conversation_id: int) -> None:
    """Refit the conversation's topics in a worker once the caller commits."""
    from deliberation.tasks import topics_recompute_task  # The tasks module imports services.

    def send() -> None:
        topics_recompute_task.delay(conversation_id)

    transaction.on_commit(send, robust=True)


def topic_assign_schedule(*, conversation_id: int, statement_ids: list[int]) -> None:
    """Assign newly accepted statements to their nearest topics once the caller commits.

    Never fails the caller (a robust callback). Before the first fit there is nothing to
    assign to; a batch larger than a refit's threshold is left to the refit it schedules.
    """

    def assign() -> None:
        if not Topic.objects.filter(conversation_id=conversation_id).exists():
            return
        if len(statement_ids) >= REFIT_MIN_NEW:
            topics_recompute_schedule(conversation_id=conversation_id)
            return
        for statement in Statement.objects.filter(pk__in=statement_ids).order_by("pk"):
            topic_assign(statement=statement)

    transaction.on_commit(assign, robust=True)


def topic_rename(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    conversation: Conversation,
    number: int,
    name: object,
) -> Topic:
    """A moderator names a topic; the name is kept across recomputes, and audited."""
    from deliberation.services.moderation import audit_record, moderation_authorize

    user = moderation_authorize(actor=actor, conversation=conversation)
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A topic needs a name.")
    cleaned = " ".join(name.split())
    if len(cleaned) > TOPIC_NAME_MAX:
        raise InvalidInput(f"A topic name has at most {TOPIC_NAME_MAX} characters.")
    with transaction.atomic():
        topic = (
            Topic.objects.select_for_update()
            .filter(conversation=conversation, number=number)
            .first()
        )
        if topic is None:
            raise NotFound("No such topic.")
        before = {"name": topic.name, "name_source": topic.name_source}
        topic.name = cleaned
        topic.name_source = TopicNameSource.MODERATOR
        topic.renamed_by_moderator = True
        topic.save(update_fields=["name", "name_source", "renamed_by_moderator", "updated_at"])
        audit_record(
            actor=user,
            conversation=conversation,
            action=AuditAction.TOPIC_RENAMED,
            target_type="topic",
            target_id=topic.pk,
            before=before,
            after={"name": topic.name, "name_source": topic.name_source},
        )
    return topic
