import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from deliberation.models import Snapshot, SnapshotStatus, VoteEvent
from deliberation.services import recompute
from deliberation.services.recompute import (
    recompute_catch_up,
    recompute_schedule,
    snapshots_reap,
)
from deliberation.services.snapshots import snapshot_claim
from deliberation.services.votes import vote_cast
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory
from tests.snapshot_data import two_camps

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The snapshot ids whose task was sent, instead of running them."""
    sent: list[int] = []

    def record(*, snapshot_id: int, countdown: float = 0.0) -> None:
        sent.append(snapshot_id)

    monkeypatch.setattr(recompute, "snapshot_dispatch", record)
    return sent


def test_schedule_waits_for_the_commit_then_queues_one_run(
    dispatched: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    conversation = ConversationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        recompute_schedule(conversation_id=conversation.pk)
        assert not Snapshot.objects.exists()

    queued = Snapshot.objects.get(conversation=conversation)
    assert queued.status == SnapshotStatus.QUEUED
    assert dispatched == [queued.pk]


def test_a_burst_of_triggers_coalesces_into_one_queued_run(
    dispatched: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    conversation = ConversationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(50):
            recompute_schedule(conversation_id=conversation.pk)

    assert Snapshot.objects.filter(conversation=conversation).count() == 1
    assert len(dispatched) == 1


def test_a_trigger_while_a_run_is_running_queues_exactly_one_more(
    dispatched: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    conversation = ConversationFactory.create()
    running = Snapshot.objects.create(conversation=conversation)
    snapshot_claim(snapshot_id=running.pk)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            recompute_schedule(conversation_id=conversation.pk)

    statuses = sorted(Snapshot.objects.values_list("status", flat=True))
    assert statuses == [SnapshotStatus.QUEUED, SnapshotStatus.RUNNING]


def test_a_rolled_back_write_schedules_nothing(
    dispatched: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    conversation = ConversationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                recompute_schedule(conversation_id=conversation.pk)
                raise RuntimeError("the vote failed")
        except RuntimeError:
            pass

    assert not Snapshot.objects.exists()
    assert dispatched == []


def test_without_a_broker_a_vote_is_clustered_in_process_after_commit(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    camps = two_camps(per_camp=4)
    late = ParticipantFactory.create(conversation=camps.conversation)
    with django_capture_on_commit_callbacks(execute=True):
        vote_cast(participant=late, statement=camps.statements[0], value=1)

    snapshot = Snapshot.objects.get(conversation=camps.conversation)
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    assert snapshot.watermark == VoteEvent.objects.latest("id").pk


def test_without_a_broker_a_failing_run_does_not_break_the_vote(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from deliberation.services import snapshots

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("singular matrix")

    monkeypatch.setattr(snapshots, "analyze", broken)
    camps = two_camps(per_camp=4)
    late = ParticipantFactory.create(conversation=camps.conversation)
    with django_capture_on_commit_callbacks(execute=True):
        vote = vote_cast(participant=late, statement=camps.statements[0], value=-1)

    assert vote.value == -1
    snapshot = Snapshot.objects.get(conversation=camps.conversation)
    assert (snapshot.status, snapshot.error) == (
        SnapshotStatus.FAILED,
        "ValueError: singular matrix",
    )


def test_a_new_statement_schedules_a_run(
    dispatched: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    from deliberation.services.statements import statement_create

    conversation = ConversationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        statement_create(conversation=conversation, text="Plant more trees on main street.")

    assert Snapshot.objects.filter(conversation=conversation, status=SnapshotStatus.QUEUED).exists()


def test_catch_up_schedules_only_conversations_whose_votes_are_ahead(dispatched: list[int]) -> None:
    behind = two_camps(per_camp=2)
    up_to_date = two_camps(per_camp=2)
    Snapshot.objects.create(
        conversation=up_to_date.conversation,
        status=SnapshotStatus.SUCCEEDED,
        watermark=VoteEvent.objects.filter(conversation=up_to_date.conversation).latest("id").pk,
    )
    Snapshot.objects.create(
        conversation=behind.conversation, status=SnapshotStatus.SUCCEEDED, watermark=1
    )
    busy = two_camps(per_camp=2)
    Snapshot.objects.create(conversation=busy.conversation, status=SnapshotStatus.QUEUED)
    ConversationFactory.create()  # no votes at all

    assert recompute_catch_up() == [behind.conversation.pk]
    assert len(dispatched) == 1


def _running(conversation_id: int, *, beat_age_s: float) -> Snapshot:
    snapshot = Snapshot.objects.create(conversation_id=conversation_id)
    snapshot_claim(snapshot_id=snapshot.pk)
    Snapshot.objects.filter(pk=snapshot.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=beat_age_s)
    )
    return snapshot


def test_reaper_queues_again_a_run_whose_heartbeat_went_stale(dispatched: list[int]) -> None:
    conversation = ConversationFactory.create()
    lost = _running(conversation.pk, beat_age_s=3600)
    alive = _running(ConversationFactory.create().pk, beat_age_s=1)

    assert snapshots_reap() == [lost.pk]

    lost.refresh_from_db()
    alive.refresh_from_db()
    assert (lost.status, alive.status) == (SnapshotStatus.QUEUED, SnapshotStatus.RUNNING)
    assert snapshot_claim(snapshot_id=lost.pk) == 2


def test_reaper_closes_a_lost_run_when_a_newer_run_is_already_queued(
    dispatched: list[int],
) -> None:
    conversation = ConversationFactory.create()
    lost = _running(conversation.pk, beat_age_s=3600)
    newer = Snapshot.objects.create(conversation=conversation)

    snapshots_reap()

    lost.refresh_from_db()
    assert lost.status == SnapshotStatus.FAILED
    assert "Worker lost" in lost.error
    assert dispatched == [newer.pk]


def test_reaper_resends_a_queued_run_whose_task_was_lost(dispatched: list[int]) -> None:
    stranded = Snapshot.objects.create(
        conversation=ConversationFactory.create(),
        created_at=timezone.now() - timedelta(hours=1),
    )
    Snapshot.objects.create(conversation=ConversationFactory.create())  # fresh: left alone

    assert snapshots_reap() == [stranded.pk]


def test_reaper_resends_a_lost_message_once_per_stale_period_not_every_sweep(
    dispatched: list[int],
) -> None:
    stranded = Snapshot.objects.create(
        conversation=ConversationFactory.create(),
        created_at=timezone.now() - timedelta(hours=1),
    )

    assert snapshots_reap() == [stranded.pk]
    assert snapshots_reap() == []  # the next sweep, seconds later
    assert dispatched == [stranded.pk]


def test_reaper_leaves_a_queued_run_waiting_behind_a_live_one(dispatched: list[int]) -> None:
    conversation = ConversationFactory.create()
    _running(conversation.pk, beat_age_s=1)  # a long run, still beating
    Snapshot.objects.create(
        conversation=conversation, created_at=timezone.now() - timedelta(hours=1)
    )

    assert snapshots_reap() == []


def test_a_worker_is_dead_after_missing_the_configured_number_of_beats(settings: Any) -> None:
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, "HEARTBEAT_S": 10.0, "STALE_BEATS": 3}
    conversation = ConversationFactory.create()
    two_missed = _running(conversation.pk, beat_age_s=20)
    three_missed = _running(ConversationFactory.create().pk, beat_age_s=31)

    assert recompute.recompute_stale_s() == 30.0
    assert snapshots_reap() == [three_missed.pk]
    two_missed.refresh_from_db()
    assert two_missed.status == SnapshotStatus.RUNNING


def test_shipped_settings_recover_a_dead_worker_within_15_s() -> None:
    from django.conf import settings

    recluster = settings.AGORA_RECLUSTER
    assert recluster["HEARTBEAT_S"] <= 5
    assert recompute.recompute_stale_s() + recluster["SWEEP_EVERY_S"] <= 15


def test_a_stale_running_run_can_be_claimed_by_a_redelivered_task() -> None:
    statement = StatementFactory.create()
    lost = _running(statement.conversation_id, beat_age_s=3600)

    assert snapshot_claim(snapshot_id=lost.pk) == 2


def _failed(conversation_id: int, *, age_s: float) -> Snapshot:
    return Snapshot.objects.create(
        conversation_id=conversation_id,
        status=SnapshotStatus.FAILED,
        finished_at=timezone.now() - timedelta(seconds=age_s),
        error="RuntimeError: the clustering crashed",
    )


@pytest.fixture
def backoff(settings: Any) -> None:
    settings.AGORA_RECLUSTER = {
        **settings.AGORA_RECLUSTER,
        "RETRY_BACKOFF_S": 30.0,
        "RETRY_BACKOFF_MAX_S": 900.0,
    }


def test_one_failed_run_is_retried_by_the_next_trigger(
    backoff: None, dispatched: list[int]
) -> None:
    conversation = ConversationFactory.create()
    _failed(conversation.pk, age_s=0)

    assert recompute.snapshot_queue(conversation_id=conversation.pk) is not None


def test_consecutive_failures_wait_twice_as_long_each_time_up_to_the_cap(backoff: None) -> None:
    conversation = ConversationFactory.create()
    _failed(conversation.pk, age_s=0)
    waits = []
    for _ in range(8):
        last = _failed(conversation.pk, age_s=0)
        retry_at = recompute.recompute_retry_at(conversation_id=conversation.pk)
        assert retry_at is not None and last.finished_at is not None
        waits.append(round((retry_at - last.finished_at).total_seconds()))

    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]


def test_catch_up_skips_a_failing_conversation_until_its_backoff_ends(
    backoff: None, dispatched: list[int]
) -> None:
    failing = two_camps(per_camp=2)
    for age_s in (400, 200, 50):  # three failures in a row: the next waits 60 s
        _failed(failing.conversation.pk, age_s=age_s)

    assert recompute_catch_up() == []
    Snapshot.objects.filter(conversation=failing.conversation).update(
        finished_at=timezone.now() - timedelta(seconds=61)
    )
    assert recompute_catch_up() == [failing.conversation.pk]
    assert len(dispatched) == 1


def test_a_success_ends_the_backoff(backoff: None, dispatched: list[int]) -> None:
    conversation = ConversationFactory.create()
    for _ in range(3):
        _failed(conversation.pk, age_s=0)
    Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.SUCCEEDED)
    _failed(conversation.pk, age_s=0)

    assert recompute.recompute_retry_at(conversation_id=conversation.pk) is None
    assert recompute.snapshot_queue(conversation_id=conversation.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_vote_returns_at_once_and_a_background_thread_clusters_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deliberation.services import snapshots

    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, "EAGER_INLINE": False}
    computing, release = threading.Event(), threading.Event()
    real_analyze = snapshots.analyze

    def held(*args: Any, **kwargs: Any) -> Any:
        computing.set()
        assert release.wait(30), "the test never released the run"
        return real_analyze(*args, **kwargs)

    monkeypatch.setattr(snapshots, "analyze", held)
    camps = two_camps(per_camp=4)
    late = ParticipantFactory.create(conversation=camps.conversation)
    try:
        vote_cast(participant=late, statement=camps.statements[0], value=1)
        # The vote has returned while its run is held on the background thread.
        assert computing.wait(30)
        assert not Snapshot.objects.filter(status=SnapshotStatus.SUCCEEDED).exists()
        vote_cast(participant=late, statement=camps.statements[1], value=-1)  # during the run
        last = VoteEvent.objects.latest("id").pk
        release.set()
        deadline = time.monotonic() + 30
        while not Snapshot.objects.filter(status=SnapshotStatus.SUCCEEDED, watermark=last).exists():
            assert time.monotonic() < deadline, "no snapshot included the vote cast mid-run"
            time.sleep(0.05)
    finally:
        release.set()
        recompute.background_runner.stop()

    statuses = list(Snapshot.objects.order_by("id").values_list("status", "watermark"))
    assert statuses == [(SnapshotStatus.SUCCEEDED, last - 1), (SnapshotStatus.SUCCEEDED, last)]


def test_a_waiting_run_started_by_the_finishing_one_still_waits_out_its_debounce(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long debounce, so a slow machine between the insert and the dispatch cannot eat it.
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, "DEBOUNCE_S": 60.0}
    sent: list[tuple[int, float]] = []
    monkeypatch.setattr(
        recompute,
        "snapshot_dispatch",
        lambda *, snapshot_id, countdown=0.0: sent.append((snapshot_id, countdown)),
    )
    fresh = Snapshot.objects.create(conversation=ConversationFactory.create())
    old = Snapshot.objects.create(
        conversation=ConversationFactory.create(), created_at=timezone.now() - timedelta(hours=1)
    )

    recompute.snapshot_dispatch_waiting(conversation_id=fresh.conversation_id)
    recompute.snapshot_dispatch_waiting(conversation_id=old.conversation_id)

    (fresh_id, fresh_countdown), (old_id, old_countdown) = sent
    assert (fresh_id, old_id) == (fresh.pk, old.pk)
    assert 30.0 < fresh_countdown <= 60.0
    assert old_countdown < 0  # long due: sent at once


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_background_thread_runs_the_beat_and_catches_up_a_lost_trigger(
    settings: Any,
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AGORA_RECLUSTER = {
        **settings.AGORA_RECLUSTER,
        "EAGER_INLINE": False,
        "SWEEP_EVERY_S": 0.2,
    }
    forgotten = two_camps(per_camp=4)  # votes whose trigger was lost: no snapshot at all
    try:
        recompute.background_runner.trigger(conversation_id=ConversationFactory.create().pk)
        deadline = time.monotonic() + 30
        while not Snapshot.objects.filter(
            conversation=forgotten.conversation, status=SnapshotStatus.SUCCEEDED
        ).exists():
            assert time.monotonic() < deadline, "the sweep never caught the conversation up"
            time.sleep(0.05)
    finally:
        recompute.background_runner.stop()
