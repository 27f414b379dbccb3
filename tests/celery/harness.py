"""What the real-worker tests share: timings, waiting, and a Redis server of a test's own."""

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deliberation.models import Snapshot, SnapshotStatus

ROOT = Path(__file__).resolve().parents[2]
# The shared Redis (broker database 5); each test still uses a queue of its own.
SHARED_BROKER = "redis://127.0.0.1:6379/5"
TIMINGS = {"DEBOUNCE_S": 0.5, "HEARTBEAT_S": 0.3, "STALE_BEATS": 6, "SWEEP_EVERY_S": 1.0}
# As deploy/supervisord.conf starts the worker. Gossip, mingle and the worker heartbeat are
# worker-to-worker chatter Agora does not use, and the steps that restart them after a Redis
# restart are where Celery 5 crashes ("Unrecoverable error: AttributeError ... hostname";
# celery/celery#8030 and #8082).
SHIPPED_WORKER_FLAGS = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
# Generous but bounded: under a loaded machine a worker can take long to import and connect.
WORKER_START_S = 60
WAIT_S = 60


def wait_for(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def covering_snapshot(conversation_id: int, event_id: int) -> Snapshot | None:
    return Snapshot.objects.filter(
        conversation_id=conversation_id,
        status=SnapshotStatus.SUCCEEDED,
        watermark__gte=event_id,
    ).first()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A redis-server of one test's own, on a free port, that the test may kill and restart
    (the shared Redis on 6379 must never be). No persistence: a restart loses every message,
    as a crashed broker without an append-only file would."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False
