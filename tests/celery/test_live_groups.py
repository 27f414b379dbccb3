"""The live pipeline against a real Celery worker and Redis (broker database 5).

Each test starts worker subprocesses (tests/celery/worker_main.py, through the fixtures in
tests/celery/conftest.py) on a queue of its own, pointed at pytest's test database. Tests
use ``transaction=True`` so the worker sees the rows they commit, and every vote goes through
vote_cast, whose after-commit trigger sends the task to the broker exactly as in production.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deliberation.models import Snapshot, SnapshotStatus, Vote, VoteEvent
from deliberation.services.votes import vote_cast
from deliberation.tasks import snapshot_run_task
from tests.celery.harness import TIMINGS, WAIT_S, covering_snapshot, wait_for
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]


def task_finished(log: Path, task_id: str) -> bool:
    """Whether the worker's log shows this task done."""
    return f"[{task_id}] succeeded in " in log.read_text(errors="replace")


def test_a_burst_of_votes_gives_few_runs_and_the_last_includes_the_last_vote(
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    start_worker()
    conversation = ConversationFactory.create()
    statements = [StatementFactory.create(conversation=conversation) for _ in range(10)]
    participants = [ParticipantFactory.create(conversation=conversation) for _ in range(40)]

    first_vote_at = time.monotonic()
    for participant in participants:
        for index, statement in enumerate(statements):
            vote_cast(participant=participant, statement=statement, value=index % 3 - 1)
    last = VoteEvent.objects.latest("id").pk
    last_vote_at = time.monotonic()

    final = wait_for(
        lambda: covering_snapshot(conversation.pk, last), timeout=10, what="the final snapshot"
    )
    assert time.monotonic() - last_vote_at < 10
    assert final.watermark == last
    assert Vote.objects.filter(conversation=conversation).count() == 400
    assert VoteEvent.objects.filter(conversation=conversation).count() == 400
    # Each run waits a debounce after the trigger that queued it, and that trigger came after
    # the previous run started: runs start at least DEBOUNCE_S apart, however slowly a loaded
    # machine casts the burst.
    burst_s = last_vote_at - first_vote_at
    most = int(burst_s / TIMINGS["DEBOUNCE_S"]) + 2
    runs = Snapshot.objects.filter(conversation=conversation).count()
    assert 1 <= runs <= min(most, 100), f"{runs} runs for 400 votes cast in {burst_s:.1f} s"
    assert not Snapshot.objects.filter(status=SnapshotStatus.FAILED).exists()


def test_a_worker_killed_mid_run_is_replaced_and_the_run_completes_once(
    start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    doomed = start_worker(AGORA_TEST_SLOW_S="60", AGORA_TEST_CALLS_FILE=str(calls))
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    for _ in range(5):
        vote_cast(
            participant=ParticipantFactory.create(conversation=conversation),
            statement=statement,
            value=1,
        )
    last = VoteEvent.objects.latest("id").pk
    running = wait_for(
        lambda: (
            calls.exists()
            and Snapshot.objects.filter(
                conversation=conversation, status=SnapshotStatus.RUNNING
            ).first()
        ),
        timeout=WAIT_S,
        what="the doomed worker to start computing",
    )

    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    start_worker(beat=True, AGORA_TEST_CALLS_FILE=str(calls))

    wait_for(
        lambda: Snapshot.objects.filter(pk=running.pk, status=SnapshotStatus.SUCCEEDED).exists(),
        timeout=WAIT_S,
        what="the replacement worker to complete the run",
    )
    running.refresh_from_db()
    assert running.attempt == 2
    assert running.watermark == last
    assert (
        Snapshot.objects.filter(conversation=conversation, status=SnapshotStatus.SUCCEEDED).count()
        == 1
    )
    assert Vote.objects.filter(conversation=conversation).count() == 5
    assert len(calls.read_text().split()) == 2  # the killed attempt, then the one that finished


def test_after_a_worker_is_killed_mid_run_the_groups_move_again_within_20_s(
    start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """With the shipped heartbeat, staleness and sweep settings (only the debounce shortened):
    the run the killed worker held is failed once its heartbeat stops, and the run queued
    behind it, which absorbed every later trigger, starts at once."""
    calls = tmp_path / "calls"
    shipped = {"DEBOUNCE_S": TIMINGS["DEBOUNCE_S"]}
    doomed = start_worker(
        timings=shipped, AGORA_TEST_SLOW_S="600", AGORA_TEST_CALLS_FILE=str(calls)
    )
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    participants = [ParticipantFactory.create(conversation=conversation) for _ in range(6)]
    vote_cast(participant=participants[0], statement=statement, value=1)
    running = wait_for(
        lambda: (
            calls.exists()
            and Snapshot.objects.filter(
                conversation=conversation, status=SnapshotStatus.RUNNING
            ).first()
        ),
        timeout=WAIT_S,
        what="the doomed worker to start computing",
    )
    for participant in participants[1:]:
        vote_cast(participant=participant, statement=statement, value=-1)
    last = VoteEvent.objects.latest("id").pk
    assert Snapshot.objects.filter(conversation=conversation, status=SnapshotStatus.QUEUED).exists()

    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    killed_at = time.monotonic()
    start_worker(beat=True, timings=shipped, AGORA_TEST_CALLS_FILE=str(calls))
    back_at = time.monotonic()

    wait_for(
        lambda: covering_snapshot(conversation.pk, last),
        timeout=WAIT_S,
        what="a snapshot covering the votes cast during the killed run",
    )
    moved_at = time.monotonic()
    print(
        f"groups moved {moved_at - killed_at:.1f} s after the kill, "
        f"{moved_at - back_at:.1f} s after the replacement worker was ready"
    )
    assert moved_at - back_at <= 20.0
    running.refresh_from_db()
    assert running.status == SnapshotStatus.FAILED
    assert "Worker lost" in running.error
    assert Vote.objects.filter(conversation=conversation).count() == 6


def test_a_task_delivered_twice_computes_once(
    start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    for _ in range(3):
        vote_cast(
            participant=ParticipantFactory.create(conversation=conversation),
            statement=statement,
            value=-1,
        )
    Snapshot.objects.filter(conversation=conversation).delete()  # no worker ran them yet
    snapshot = Snapshot.objects.create(conversation=conversation)
    deliveries = [snapshot_run_task.apply_async(args=(snapshot.pk,)).id for _ in range(2)]

    start_worker(AGORA_TEST_CALLS_FILE=str(calls))

    wait_for(
        lambda: Snapshot.objects.filter(pk=snapshot.pk, status=SnapshotStatus.SUCCEEDED).exists(),
        timeout=WAIT_S,
        what="the snapshot",
    )
    wait_for(
        lambda: all(task_finished(tmp_path / "worker-0.log", task) for task in deliveries),
        timeout=WAIT_S,
        what="the worker to finish both deliveries",
    )
    snapshot.refresh_from_db()
    assert snapshot.attempt == 1
    assert len(calls.read_text().split()) == 1


def test_a_crashing_run_is_marked_failed_and_the_next_trigger_recovers(
    start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    fault = tmp_path / "fault"
    fault.touch()
    start_worker(AGORA_TEST_FAIL_FILE=str(fault))
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    participants = [ParticipantFactory.create(conversation=conversation) for _ in range(3)]
    vote_cast(participant=participants[0], statement=statement, value=1)

    failed = wait_for(
        lambda: Snapshot.objects.filter(
            conversation=conversation, status=SnapshotStatus.FAILED
        ).first(),
        timeout=WAIT_S,
        what="the failed snapshot",
    )
    assert failed.error == "RuntimeError: injected fault: the clustering crashed"

    fault.unlink()
    vote_cast(participant=participants[1], statement=statement, value=0)
    last = VoteEvent.objects.latest("id").pk
    recovered = wait_for(
        lambda: covering_snapshot(conversation.pk, last), timeout=WAIT_S, what="the recovery run"
    )
    assert recovered.pk > failed.pk
