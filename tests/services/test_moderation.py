from collections.abc import Callable
from typing import Any

import pytest

from deliberation.errors import InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    AuditAction,
    AuditLogEntry,
    Participant,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
)
from deliberation.services.moderation import (
    conversation_recompute_request,
    participant_exclusion_set,
    statement_decide,
    statement_decide_many,
    statement_flags_set,
    statement_text_correct,
)
from tests.concurrency import run_together
from tests.factories import (
    ConversationFactory,
    ParticipantFactory,
    StatementFactory,
    UserFactory,
)
from tests.snapshot_data import two_camps

pytestmark = pytest.mark.django_db

CaptureCallbacks = Callable[..., Any]


def _pending(**kwargs: Any) -> Statement:
    return StatementFactory.create(status=StatementStatus.PENDING, **kwargs)


def test_owner_accepts_a_pending_statement_and_the_log_says_who_and_what() -> None:
    statement = _pending()
    owner = statement.conversation.owner
    statement_decide(actor=owner, statement=statement, decision="accept")
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ACCEPTED
    entry = AuditLogEntry.objects.get()
    assert (entry.actor, entry.action, entry.target_id) == (
        owner,
        AuditAction.STATEMENT_ACCEPTED,
        statement.pk,
    )
    assert (entry.before, entry.after) == ({"status": "pending"}, {"status": "accepted"})


def test_a_conversation_moderator_may_decide() -> None:
    statement = _pending()
    moderator = UserFactory.create()
    statement.conversation.moderators.add(moderator)
    statement_decide(actor=moderator, statement=statement, decision="reject")
    assert Statement.objects.get().status == StatementStatus.REJECTED


def test_staff_may_decide_in_any_conversation() -> None:
    statement = _pending()
    statement_decide(
        actor=UserFactory.create(is_staff=True), statement=statement, decision="reject"
    )
    assert Statement.objects.get().status == StatementStatus.REJECTED


def test_moderator_of_another_conversation_can_do_nothing_here() -> None:
    statement = _pending()
    other = ConversationFactory.create()
    outsider = other.owner
    participant = ParticipantFactory.create(conversation=statement.conversation)
    attempts: list[Callable[[], object]] = [
        lambda: statement_decide(actor=outsider, statement=statement, decision="accept"),
        lambda: statement_text_correct(actor=outsider, statement=statement, text="Changed."),
        lambda: statement_flags_set(actor=outsider, statement=statement, is_meta=True),
        lambda: participant_exclusion_set(actor=outsider, participant=participant, excluded=True),
        lambda: conversation_recompute_request(actor=outsider, conversation=statement.conversation),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    statement.refresh_from_db()
    assert (statement.status, statement.is_meta) == (StatementStatus.PENDING, False)
    assert not Participant.objects.filter(excluded=True).exists()
    assert not AuditLogEntry.objects.exists()


def test_bulk_decision_applies_to_every_statement() -> None:
    conversation = ConversationFactory.create()
    statements = [_pending(conversation=conversation) for _ in range(3)]
    statement_decide_many(
        actor=conversation.owner,
        conversation=conversation,
        statement_ids=[s.pk for s in statements],
        decision="accept",
    )
    assert set(Statement.objects.values_list("status", flat=True)) == {StatementStatus.ACCEPTED}
    assert AuditLogEntry.objects.filter(action=AuditAction.STATEMENT_ACCEPTED).count() == 3


def test_bulk_decision_with_a_foreign_statement_changes_nothing_and_names_it() -> None:
    conversation = ConversationFactory.create()
    mine = [_pending(conversation=conversation) for _ in range(2)]
    foreign = _pending()
    with pytest.raises(NotFound, match=f"No statement {foreign.pk} in this conversation"):
        statement_decide_many(
            actor=conversation.owner,
            conversation=conversation,
            statement_ids=[mine[0].pk, foreign.pk, mine[1].pk],
            decision="reject",
        )
    assert set(Statement.objects.values_list("status", flat=True)) == {StatementStatus.PENDING}
    assert not AuditLogEntry.objects.exists()


@pytest.mark.parametrize(
    ("ids", "decision", "message"),
    [
        ([], "accept", "at least one"),
        (["x"], "accept", "not a statement id"),
        ([1], "maybe", "accept or reject"),
    ],
)
def test_bad_bulk_input_is_refused(ids: list[object], decision: str, message: str) -> None:
    conversation = ConversationFactory.create()
    with pytest.raises(InvalidInput, match=message):
        statement_decide_many(
            actor=conversation.owner,
            conversation=conversation,
            statement_ids=ids,
            decision=decision,
        )


def test_decisions_trigger_a_recompute(
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    camps = two_camps(per_camp=4)
    statement = camps.statements[0]
    with django_capture_on_commit_callbacks(execute=True):
        statement_decide(actor=camps.conversation.owner, statement=statement, decision="reject")
    snapshot = Snapshot.objects.get(conversation=camps.conversation)
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    assert snapshot.results["statements"][str(statement.pk)]["moderated_out"] is True  # type: ignore[index]


def test_typo_fix_keeps_the_original_text_in_history() -> None:
    statement = StatementFactory.create(text="The citty should plant trees.")
    statement_text_correct(
        actor=statement.conversation.owner,
        statement=statement,
        text=" The city should plant trees. ",
    )
    statement.refresh_from_db()
    assert statement.text == "The city should plant trees."
    assert statement.text_key == "the city should plant trees."
    entry = AuditLogEntry.objects.get(action=AuditAction.STATEMENT_EDITED)
    assert entry.before == {"text": "The citty should plant trees."}


def test_typo_fix_into_an_existing_statement_is_refused() -> None:
    existing = StatementFactory.create(text="Plant trees.")
    statement = StatementFactory.create(conversation=existing.conversation, text="Plant tres.")
    with pytest.raises(InvalidInput, match=f"#{existing.pk} already says this"):
        statement_text_correct(
            actor=existing.conversation.owner, statement=statement, text="plant  TREES."
        )
    statement.refresh_from_db()
    assert statement.text == "Plant tres."


def test_marking_meta_and_seed_is_logged_with_before_and_after() -> None:
    statement = StatementFactory.create()
    statement_flags_set(actor=statement.conversation.owner, statement=statement, is_meta=True)
    statement_flags_set(actor=statement.conversation.owner, statement=statement, is_seed=True)
    statement.refresh_from_db()
    assert (statement.is_meta, statement.is_seed) == (True, True)
    entries = AuditLogEntry.objects.order_by("id")
    assert [(e.before, e.after) for e in entries] == [
        ({"is_meta": False, "is_seed": False}, {"is_meta": True, "is_seed": False}),
        ({"is_meta": True, "is_seed": False}, {"is_meta": True, "is_seed": True}),
    ]


def _participants_in(snapshot: Snapshot) -> set[int]:
    return set(snapshot.positions_array()["participant"].tolist())


def test_excluding_a_participant_removes_their_votes_from_the_next_snapshot_and_undo_restores(
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    camps = two_camps(per_camp=5)
    owner = camps.conversation.owner
    troll = camps.camp_a[0]
    with django_capture_on_commit_callbacks(execute=True):
        participant_exclusion_set(actor=owner, participant=troll, excluded=True, reason="spam")
    excluded_run = Snapshot.objects.filter(status=SnapshotStatus.SUCCEEDED).latest("id")
    assert troll.pk not in _participants_in(excluded_run)
    assert len(_participants_in(excluded_run)) == 9

    with django_capture_on_commit_callbacks(execute=True):
        participant_exclusion_set(actor=owner, participant=troll, excluded=False)
    restored_run = Snapshot.objects.filter(status=SnapshotStatus.SUCCEEDED).latest("id")
    assert restored_run.pk != excluded_run.pk
    assert troll.pk in _participants_in(restored_run)
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", "after"))
    assert actions == [
        (AuditAction.PARTICIPANT_EXCLUDED, {"excluded": True, "reason": "spam"}),
        (AuditAction.PARTICIPANT_REINSTATED, {"excluded": False, "reason": ""}),
    ]


def test_recompute_now_is_logged_and_schedules_a_run(
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    camps = two_camps(per_camp=3)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_recompute_request(
            actor=camps.conversation.owner, conversation=camps.conversation
        )
    assert Snapshot.objects.filter(conversation=camps.conversation).exists()
    assert AuditLogEntry.objects.get().action == AuditAction.RECOMPUTE_REQUESTED


@pytest.mark.django_db(transaction=True)
def test_two_moderators_deciding_at_once_leave_one_decision_and_both_in_the_log() -> None:
    first = UserFactory.create()
    statement = _pending(conversation__owner=first)
    conversation = statement.conversation
    second = UserFactory.create()
    conversation.moderators.add(second)
    outcomes = run_together(
        lambda: statement_decide(actor=first, statement=statement, decision="accept"),
        lambda: statement_decide(actor=second, statement=statement, decision="reject"),
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    entries = list(AuditLogEntry.objects.order_by("id"))
    assert len(entries) == 2
    earlier, later = entries
    # Serialised by the row lock: the second saw the first one's decision as its "before".
    assert earlier.before == {"status": "pending"}
    assert later.before == earlier.after
    statement.refresh_from_db()
    assert {"status": statement.status} == later.after
    assert {e.actor_username for e in entries} == {first.username, second.username}
