"""The live pipeline against a real Celery worker and Redis (broker database 5).

Each test starts worker subprocesses (tests/celery/worker_main.py) on a queue of its own,
pointed at pytest's test database. Tests use ``transaction=True`` so the worker sees the
rows they commit, and every vote goes through vote_cast, whose after-commit trigger sends
the task to the broker exactly as in production.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from deliberation.celery import app
from deliberation.models import Snapshot, SnapshotStatus, Vote, VoteEvent
from deliberation.services.votes import vote_cast
from deliberation.tasks import snapshot_run_task
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

BROKER = "redis://127.0.0.1:6379/5"
ROOT = Path(__file__).resolve().parents[2]
TIMINGS = {"DEBOUNCE_S": 0.5, "HEARTBEAT_S": 0.3, "STALE_S": 2.0, "SWEEP_EVERY_S": 1.0}
# Generous but bounded: under a loaded machine a worker can take long to import and connect.
WORKER_START_S = 60
WAIT_S = 60


@pytest.fixture
def queue(settings: Any) -> Iterator[str]:
    """This process sends tasks to Redis on a queue of its own, as the web process would."""
    name = f"agora-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, **TIMINGS}
    saved = {
        key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")
    }
    app.conf.update(broker_url=BROKER, task_always_eager=False, task_default_queue=name)
    _forget_broker_connections()
    yield name
    app.conf.update(saved)
    _forget_broker_connections()


def _forget_broker_connections() -> None:
    """Drop the connection pools an earlier test built for another broker URL.

    Celery builds them once and never rereads ``broker_url``; it has no public reset, so
    this does what Celery itself does after a fork.
    """
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.fixture
def start_worker(
    queue: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts worker subprocesses and waits until each consumes; stops them after the test.

    Their logs are attached to the report of a failing test (tests/celery/conftest.py).
    """
    workers: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    request.node.worker_logs = logs
    database = connection.settings_dict

    def start(*, beat: bool = False, **hooks: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CELERY_BROKER_URL": BROKER,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "AGORA_EXPORTS_DIR": str(tmp_path / "exports"),
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}",
            **{f"AGORA_RECLUSTER_{key}": str(value) for key, value in TIMINGS.items()},
            **hooks,
        }
        args = ["-Q", queue, "--concurrency", "1", "-l", "info", "-n", f"w{len(workers)}@%h"]
        if beat:
            args += ["-B", "-s", str(tmp_path / f"beat-{len(workers)}")]
        log_path = tmp_path / f"worker-{len(workers)}.log"
        logs.append(log_path)
        with open(log_path, "wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "tests.celery.worker_main", *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        workers.append(worker)
        # A worker busy importing under a loaded machine must not eat into a test's deadline.
        wait_for(
            lambda: worker.poll() is not None or b" ready." in log_path.read_bytes(),
            timeout=WORKER_START_S,
            what=f"worker {log_path.name} to start consuming",
        )
        assert worker.poll() is None, f"worker {log_path.name} exited with {worker.returncode}"
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            # The main process only: a warm shutdown lets its child finish the current run.
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def wait_for(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def task_finished(log: Path, task_id: str) -> bool:
    """Whether the worker's log shows this task done."""
    return f"[{task_id}] succeeded in " in log.read_text(errors="replace")


def covering_snapshot(conversation_id: int, event_id: int) -> Snapshot | None:
    return Snapshot.objects.filter(
        conversation_id=conversation_id,
        status=SnapshotStatus.SUCCEEDED,
        watermark__gte=event_id,
    ).first()


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
