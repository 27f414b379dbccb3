import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from deliberation.celery import app
from tests.celery.harness import (
    ROOT,
    SHARED_BROKER,
    SHIPPED_WORKER_FLAGS,
    TIMINGS,
    WORKER_START_S,
    wait_for,
)

# The tail of each worker log attached to a failed test's report: enough to see the last run.
LOG_TAIL_CHARS = 20_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the worker logs to the report of a failed test, so a failure under load (a
    slow start, a crash, a lost task) can be diagnosed from the test output alone."""
    report = yield
    if report.failed:
        logs: list[Path] = getattr(item, "worker_logs", [])
        for log in logs:
            if log.exists():
                text = log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
                report.sections.append((f"Celery worker log {log.name} ({report.when})", text))
    return report


@pytest.fixture
def broker_url() -> str:
    """The broker the test's workers and this process use; a test module may override it."""
    return SHARED_BROKER


@pytest.fixture
def queue(settings: Any, broker_url: str) -> Iterator[str]:
    """This process sends tasks to Redis on a queue of its own, as the web process would."""
    name = f"agora-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, **TIMINGS}
    saved = {
        key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")
    }
    app.conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue=name)
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
    queue: str, broker_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts worker subprocesses and waits until each consumes; stops them after the test.

    Their logs are attached to the report of a failing test (pytest_runtest_makereport).
    """
    workers: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    request.node.worker_logs = logs
    database = connection.settings_dict

    def start(
        *, beat: bool = False, timings: dict[str, float] = TIMINGS, **hooks: str
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "AGORA_EXPORTS_DIR": str(tmp_path / "exports"),
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}",
            **{f"AGORA_RECLUSTER_{key}": str(value) for key, value in timings.items()},
            **hooks,
        }
        args = ["-Q", queue, "--concurrency", "1", "-l", "info", "-n", f"w{len(workers)}@%h"]
        args += SHIPPED_WORKER_FLAGS
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
