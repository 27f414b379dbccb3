import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from deliberation.models import (
    Participant,
    Snapshot,
    SnapshotStatus,
    SnapshotSummary,
    Statement,
    StatementStatus,
    Vote,
    VoteEvent,
)
from deliberation.services import snapshots as snapshots_service
from deliberation.services.snapshots import (
    snapshot_claim,
    snapshot_compute,
    snapshot_load_input,
    snapshot_prune,
    snapshot_run,
    snapshot_summaries_catch_up,
)
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory
from tests.snapshot_data import clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db


def _queued(conversation_id: int) -> Snapshot:
    return Snapshot.objects.create(conversation_id=conversation_id)


def test_run_stores_groups_positions_and_the_last_vote_as_watermark() -> None:
    camps = two_camps()
    snapshot = snapshot_run(snapshot_id=_queued(camps.conversation.pk).pk)

    assert snapshot is not None
    snapshot.refresh_from_db()
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    assert snapshot.watermark == VoteEvent.objects.order_by("-id").first().pk  # type: ignore[union-attr]
    assert (snapshot.n_participants, snapshot.n_statements, snapshot.n_votes) == (24, 8, 192)
    assert snapshot.k == 2
    positions = snapshot.positions_array()
    group_of = dict(
        zip(positions["participant"].tolist(), positions["group"].tolist(), strict=True)
    )
    assert len({group_of[p.pk] for p in camps.camp_a}) == 1
    assert len({group_of[p.pk] for p in camps.camp_b}) == 1
    assert group_of[camps.camp_a[0].pk] != group_of[camps.camp_b[0].pk]
    shared = str(camps.statements[-1].pk)
    assert shared in [item["statement"] for item in snapshot.results["consensus"]["agree"]]  # type: ignore[index]
    assert {"load", "compute"} <= set(snapshot.timings_ms)


def test_a_snapshot_is_claimed_once_and_a_second_run_computes_nothing() -> None:
    camps = two_camps(per_camp=4)
    queued = _queued(camps.conversation.pk)

    assert snapshot_claim(snapshot_id=queued.pk) == 1
    assert snapshot_claim(snapshot_id=queued.pk) is None
    assert snapshot_run(snapshot_id=queued.pk) is None


def test_queued_run_waits_while_another_run_of_the_conversation_is_running() -> None:
    camps = two_camps(per_camp=4)
    running = _queued(camps.conversation.pk)
    assert snapshot_claim(snapshot_id=running.pk) == 1
    waiting = _queued(camps.conversation.pk)

    assert snapshot_claim(snapshot_id=waiting.pk) is None
    waiting.refresh_from_db()
    assert waiting.status == SnapshotStatus.QUEUED


def test_crash_marks_the_snapshot_failed_with_its_error_and_the_next_run_recovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=4)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise MemoryError("out of memory in the PCA")

    with monkeypatch.context() as patch:
        patch.setattr(snapshots_service, "analyze", broken)
        failed = snapshot_run(snapshot_id=_queued(camps.conversation.pk).pk)
    assert failed is not None
    assert failed.status == SnapshotStatus.FAILED
    assert failed.error == "MemoryError: out of memory in the PCA"

    recovered = snapshot_run(snapshot_id=_queued(camps.conversation.pk).pk)
    assert recovered is not None
    assert recovered.status == SnapshotStatus.SUCCEEDED


def test_run_taken_over_by_another_worker_does_not_write_its_results() -> None:
    camps = two_camps(per_camp=4)
    snapshot = _queued(camps.conversation.pk)
    first = snapshot_claim(snapshot_id=snapshot.pk)
    assert first == 1
    # The reaper found the first worker's heartbeat stale and another worker reclaimed it.
    Snapshot.objects.filter(pk=snapshot.pk).update(attempt=2)

    written = snapshot_compute(
        snapshot_id=snapshot.pk, attempt=first, conversation_id=camps.conversation.pk
    )

    assert written is False
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.results) == (SnapshotStatus.RUNNING, None)


def test_input_leaves_out_pending_statements_and_names_excluded_rejected_and_meta() -> None:
    camps = two_camps(per_camp=4)
    rejected, meta, pending = camps.statements[:3]
    Statement.objects.filter(pk=rejected.pk).update(status=StatementStatus.REJECTED)
    Statement.objects.filter(pk=meta.pk).update(is_meta=True)
    Statement.objects.filter(pk=pending.pk).update(status=StatementStatus.PENDING)
    banned = camps.camp_a[0]
    banned.excluded = True
    banned.save()

    data = snapshot_load_input(conversation_id=camps.conversation.pk)

    assert pending.pk not in data.statements
    assert len(data.values) == 8 * 7
    assert (data.moderated_out, data.meta, data.excluded) == ([rejected.pk], [meta.pk], [banned.pk])
    assert sorted(set(data.values.tolist())) == [-1, 1]


def _loaded(conversation_id: int) -> list[tuple[int, int, int]]:
    data = snapshot_load_input(conversation_id=conversation_id)
    return sorted(
        zip(data.participants.tolist(), data.statements.tolist(), data.values.tolist(), strict=True)
    )


def test_bulk_load_reads_exactly_the_current_votes_of_excluded_participants_too() -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    votes_write([(camps.camp_a[0], camps.statements[0], 0)])  # a re-vote: the last one counts
    camps.camp_b[0].excluded = True  # excluded from the math by the clustering, not the load
    camps.camp_b[0].save()
    two_camps(per_camp=2, n_statements=2)  # another conversation's votes stay out

    expected = sorted(
        Vote.objects.filter(conversation=camps.conversation).values_list(
            "participant_id", "statement_id", "value"
        )
    )
    assert len(expected) == 24
    assert _loaded(camps.conversation.pk) == expected
    data = snapshot_load_input(conversation_id=camps.conversation.pk)
    assert (data.participants.dtype, data.statements.dtype, data.values.dtype) == (
        np.int64,
        np.int64,
        np.int8,
    )
    last_event = VoteEvent.objects.filter(conversation=camps.conversation).latest("id")
    assert data.watermark == last_event.pk


def test_bulk_load_of_a_conversation_without_votes_is_empty() -> None:
    conversation = ConversationFactory.create()
    two_camps(per_camp=2, n_statements=2)

    data = snapshot_load_input(conversation_id=conversation.pk)

    assert (len(data.participants), len(data.statements), len(data.values)) == (0, 0, 0)
    assert data.watermark is None


def test_each_run_starts_from_the_previous_succeeded_state_and_keeps_group_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps()
    first = snapshot_run(snapshot_id=_queued(camps.conversation.pk).pk)
    assert first is not None
    first.refresh_from_db()
    seen_states: list[object] = []
    real = snapshots_service.analyze

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen_states.append(kwargs["previous_state"])
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshots_service, "analyze", spy)
    votes_write([(camps.camp_a[0], camps.statements[0], 0)])
    second = snapshot_run(snapshot_id=_queued(camps.conversation.pk).pk)
    assert second is not None
    second.refresh_from_db()

    assert seen_states == [first.state]
    before = dict(
        zip(*(first.positions_array()[f].tolist() for f in ("participant", "group")), strict=True)
    )
    after = dict(
        zip(*(second.positions_array()[f].tolist() for f in ("participant", "group")), strict=True)
    )
    assert before == after


def test_conversation_without_votes_gets_an_empty_succeeded_snapshot() -> None:
    conversation = ConversationFactory.create()
    snapshot = snapshot_run(snapshot_id=_queued(conversation.pk).pk)

    assert snapshot is not None
    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.k, snapshot.watermark) == (SnapshotStatus.SUCCEEDED, 0, None)
    assert snapshot.results is not None and snapshot.results["groups"] == []
    assert len(snapshot.positions_array()) == 0


def test_prune_bounds_history_but_keeps_the_latest_succeeded_and_live_runs(
    settings: Any,
) -> None:
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, "KEEP_RECENT": 3}
    conversation = ConversationFactory.create()
    latest_succeeded = Snapshot.objects.create(
        conversation=conversation, status=SnapshotStatus.SUCCEEDED
    )
    for _ in range(6):
        Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.FAILED)
    queued = Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.QUEUED)

    deleted = snapshot_prune(conversation_id=conversation.pk)

    remaining = set(Snapshot.objects.filter(conversation=conversation).values_list("pk", flat=True))
    assert deleted == 3
    assert {latest_succeeded.pk, queued.pk} <= remaining
    assert len(remaining) == 5


def test_prune_thins_old_succeeded_snapshots_to_one_per_hour() -> None:
    conversation = ConversationFactory.create()
    created = [
        Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.SUCCEEDED)
        for _ in range(30)
    ]
    snapshot_prune(conversation_id=conversation.pk)

    remaining = list(
        Snapshot.objects.filter(conversation=conversation).values_list("pk", flat=True)
    )
    # All were made within the same hour: the 24 most recent stay, and the bucket they share
    # already has its representative.
    assert sorted(remaining) == sorted(s.pk for s in created[-24:])
    assert np.all(np.diff(sorted(remaining)) == 1)


def _succeeded(conversation_id: int, *, age_s: float) -> Snapshot:
    return Snapshot.objects.create(
        conversation_id=conversation_id,
        status=SnapshotStatus.SUCCEEDED,
        finished_at=timezone.now() - timedelta(seconds=age_s),
    )


def test_summaries_catch_up_queues_latest_snapshots_whose_summary_never_came(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(
        snapshots_service,
        "assistant_summary_schedule",
        lambda *, snapshot_id: queued.append(snapshot_id),
    )
    lost = ConversationFactory.create()
    _succeeded(lost.pk, age_s=7200)  # superseded: nobody reads its summary any more
    missing = _succeeded(lost.pk, age_s=3600)
    summarized = ConversationFactory.create()
    SnapshotSummary.objects.create(snapshot=_succeeded(summarized.pk, age_s=3600))
    in_flight = ConversationFactory.create()
    _succeeded(in_flight.pk, age_s=1)  # its summary task is still on its way
    failed = ConversationFactory.create()
    Snapshot.objects.create(conversation=failed, status=SnapshotStatus.FAILED)

    assert snapshot_summaries_catch_up() == [missing.pk]
    assert queued == [missing.pk]


def test_summaries_catch_up_run_twice_writes_one_summary(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    camps = two_camps(per_camp=4)
    snapshot = snapshot_run(snapshot_id=_queued(camps.conversation.pk).pk)
    assert snapshot is not None
    assert not SnapshotSummary.objects.filter(snapshot=snapshot).exists()  # its task was lost
    Snapshot.objects.filter(pk=snapshot.pk).update(finished_at=timezone.now() - timedelta(hours=1))

    # Without a broker the task runs in-process once the caller commits, as a worker would.
    with django_capture_on_commit_callbacks(execute=True):
        assert snapshot_summaries_catch_up() == [snapshot.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert snapshot_summaries_catch_up() == []
    assert SnapshotSummary.objects.filter(snapshot=snapshot).count() == 1


def _votes_in_table(conversation_id: int) -> list[tuple[int, int, int]]:
    return sorted(
        Vote.objects.filter(conversation_id=conversation_id).values_list(
            "participant_id", "statement_id", "value"
        )
    )


def _without_full_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def full_load(conversation_id: int) -> None:
        raise AssertionError("the load should have started from the stored arrays")

    monkeypatch.setattr(snapshots_service, "_votes_load", full_load)


def test_incremental_load_equals_the_vote_table_after_revotes_new_statements_and_participants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    clustered(camps)
    newcomer = ParticipantFactory.create(conversation=camps.conversation)
    late_statement = StatementFactory.create(conversation=camps.conversation)
    votes_write(
        [
            (camps.camp_a[0], camps.statements[0], 0),  # a re-vote changes the value
            (camps.camp_b[1], late_statement, 1),
            (newcomer, camps.statements[2], -1),
            (newcomer, late_statement, 0),
        ]
    )
    votes_write([(camps.camp_a[0], camps.statements[0], -1)])  # the last event of a pair wins
    two_camps(per_camp=2, n_statements=2)  # another conversation's events stay out
    _without_full_load(monkeypatch)

    assert _loaded(camps.conversation.pk) == _votes_in_table(camps.conversation.pk)
    assert len(_votes_in_table(camps.conversation.pk)) == 6 * 4 + 3


def test_stored_arrays_replay_a_vote_that_committed_after_later_events_were_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    # A vote in flight while the run reads: its event id is taken, its row not yet visible.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [VoteEvent._meta.db_table]
        )
        (in_flight_id,) = cursor.fetchone()
    votes_write([(camps.camp_a[1], camps.statements[1], 0)])  # a later vote, already visible
    clustered(camps)
    now = timezone.now()
    participant, statement = camps.camp_b[2], camps.statements[3]
    VoteEvent.objects.create(
        pk=in_flight_id,
        conversation=camps.conversation,
        participant=participant,
        statement=statement,
        value=0,
        created_at=now,
    )
    Vote.objects.filter(participant=participant, statement=statement).update(value=0)
    _without_full_load(monkeypatch)

    assert _loaded(camps.conversation.pk) == _votes_in_table(camps.conversation.pk)
    assert (participant.pk, statement.pk, 0) in _loaded(camps.conversation.pk)


def test_first_run_loads_in_full_and_a_blob_of_another_format_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    full_loads: list[int] = []
    real = snapshots_service._votes_load

    def counted(conversation_id: int) -> Any:
        full_loads.append(conversation_id)
        return real(conversation_id)

    monkeypatch.setattr(snapshots_service, "_votes_load", counted)
    first = clustered(camps)
    assert full_loads == [camps.conversation.pk]

    votes_write([(camps.camp_a[0], camps.statements[0], 0)])
    stored = Snapshot.objects.values_list("vote_arrays", flat=True).get(pk=first.pk)
    assert stored is not None
    other_version = np.int64(99).tobytes() + bytes(stored)[8:]
    Snapshot.objects.filter(pk=first.pk).update(vote_arrays=other_version)

    assert _loaded(camps.conversation.pk) == _votes_in_table(camps.conversation.pk)
    assert full_loads == [camps.conversation.pk] * 2


def test_only_the_latest_succeeded_snapshot_keeps_its_vote_arrays() -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    first = clustered(camps)
    votes_write([(camps.camp_a[0], camps.statements[0], 0)])
    second = clustered(camps)

    kept = dict(
        Snapshot.objects.filter(conversation=camps.conversation).values_list("pk", "vote_arrays")
    )
    assert kept[first.pk] is None
    assert kept[second.pk] is not None
    # Listing snapshots leaves the megabytes in the database.
    assert "vote_arrays" in Snapshot.objects.get(pk=second.pk).get_deferred_fields()


def test_a_failed_run_keeps_the_previous_arrays_and_the_next_run_is_still_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    first = clustered(camps)
    votes_write([(camps.camp_a[0], camps.statements[0], 0)])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise MemoryError("out of memory in the PCA")

    with monkeypatch.context() as patch:
        patch.setattr(snapshots_service, "analyze", broken)
        failed = clustered(camps)
    assert failed.status == SnapshotStatus.FAILED
    assert Snapshot.objects.filter(pk=first.pk, vote_arrays__isnull=False).exists()

    votes_write([(camps.camp_b[0], camps.statements[1], 0)])
    _without_full_load(monkeypatch)
    recovered = clustered(camps)

    assert recovered.status == SnapshotStatus.SUCCEEDED
    assert recovered.n_votes == 24
    assert _loaded(camps.conversation.pk) == _votes_in_table(camps.conversation.pk)


def test_incremental_load_drops_the_votes_of_deleted_participants_and_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    clustered(camps)
    camps.camp_a[0].delete()  # the admin can delete; the votes and events go with it
    camps.statements[1].delete()
    _without_full_load(monkeypatch)

    assert _loaded(camps.conversation.pk) == _votes_in_table(camps.conversation.pk)
    assert len(_votes_in_table(camps.conversation.pk)) == 5 * 3


def test_incremental_load_still_leaves_out_pending_statements_and_names_the_excluded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camps = two_camps(per_camp=3, n_statements=4)
    clustered(camps)
    pending, rejected = camps.statements[:2]
    Statement.objects.filter(pk=pending.pk).update(status=StatementStatus.PENDING)
    Statement.objects.filter(pk=rejected.pk).update(status=StatementStatus.REJECTED)
    Participant.objects.filter(pk=camps.camp_b[0].pk).update(excluded=True)
    _without_full_load(monkeypatch)

    data = snapshot_load_input(conversation_id=camps.conversation.pk)

    assert pending.pk not in data.statements
    assert len(data.values) == 6 * 3
    assert (data.moderated_out, data.excluded) == ([rejected.pk], [camps.camp_b[0].pk])


@pytest.mark.parametrize("statement_low", [1, 5_000_000])
def test_stored_arrays_round_trip_two_and_four_byte_statement_offsets(statement_low: int) -> None:
    arrays = snapshots_service._VoteArrays(
        participants=np.array([3, 3, 4_000_000_000, 4_000_000_000, 4_000_000_001]),
        statements=np.array([0, 70_000, 0, 9, 70_000]) + statement_low,
        values=np.array([1, -1, 0, 1, -1], dtype=np.int8),
        through=12,
        pending=np.array([7, 10]),
    )
    blob = arrays.pack()

    back = snapshots_service._VoteArrays.unpack(blob)

    assert back is not None
    for field in ("participants", "statements", "values", "pending"):
        assert getattr(back, field).tolist() == getattr(arrays, field).tolist()
    assert back.through == 12
    narrow = dataclasses.replace(arrays, statements=arrays.statements % 1000 + statement_low)
    assert len(narrow.pack()) == len(blob) - 2 * 5  # two bytes a vote when 65,535 apart at most
