"""deploy/supervisord.conf as shipped: web, worker and beat in production mode, and a worker
killed with SIGKILL is brought back by supervisord and consumes again.

supervisord runs in the foreground in a directory of this test's own, gunicorn on a free
port, the worker on this test's own queue of the shared Redis broker, all on pytest's
test database.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from deliberation.models import VoteEvent
from deliberation.services.votes import vote_cast
from tests.celery.harness import (
    ROOT,
    SHARED_BROKER,
    SHIPPED_WORKER_FLAGS,
    WAIT_S,
    covering_snapshot,
    free_port,
    wait_for,
)
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

CONF = ROOT / "deploy" / "supervisord.conf"
BIN = Path(sys.executable).parent


class Supervisor:
    def __init__(self, run_dir: Path, env: dict[str, str], port: int) -> None:
        self.run_dir = run_dir
        self.env = env
        self.base = f"http://127.0.0.1:{port}"

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(CONF), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout

    def pid(self, program: str) -> int:
        out = self.ctl("pid", program).strip()
        return int(out) if out.isdigit() else 0

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""


@pytest.fixture
def supervisor(queue: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Supervisor]:
    database = connection.settings_dict
    port = free_port()
    cache = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "AGORA_RUN_DIR": str(tmp_path),
        "AGORA_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP here; a proxy terminates TLS in production
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
        f"{database['PORT']}/{database['NAME']}",
        "REDIS_URL": cache,
        "CELERY_BROKER_URL": SHARED_BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "AGORA_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    assert cache != SHARED_BROKER
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    request.node.worker_logs = [tmp_path / name for name in ("worker.log", "web.log", "beat.log")]
    process = subprocess.Popen(
        [str(BIN / "supervisord"), "-n", "-c", str(CONF)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    running = Supervisor(tmp_path, env, port)
    try:
        yield running
    finally:
        process.terminate()  # supervisord stops its programs, then exits
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _ready(log: Path) -> bool:
    return log.exists() and b" ready." in log.read_bytes()


def test_supervisord_runs_web_worker_and_beat_and_restarts_a_killed_worker(
    supervisor: Supervisor,
) -> None:
    worker_log = supervisor.run_dir / "worker.log"
    _, body = wait_for(
        lambda: (reply := supervisor.get("/healthz"))[0] == 200 and reply,
        timeout=60,
        what="gunicorn to answer /healthz",
    )
    assert json.loads(body)["status"] == "ok"
    manifest = json.loads((supervisor.run_dir / "static" / "staticfiles.json").read_text())["paths"]
    hashed = next(name for original, name in manifest.items() if original.endswith(".css"))
    assert supervisor.get(f"/static/{hashed}")[0] == 200  # whitenoise, DEBUG off
    wait_for(lambda: _ready(worker_log), timeout=60, what="the worker to consume")
    first = supervisor.pid("worker")
    assert first > 0
    command = supervisor.ctl("status")
    assert all(f"{name} " in command and "RUNNING" in command for name in ("web", "beat"))

    os.killpg(first, signal.SIGKILL)
    second = wait_for(
        lambda: (pid := supervisor.pid("worker")) not in (0, first) and pid,
        timeout=30,
        what="supervisord to start the worker again",
    )
    wait_for(
        lambda: worker_log.read_bytes().count(b" ready.") >= 2,
        timeout=60,
        what="the restarted worker to consume",
    )
    assert second != first

    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    for value in (1, -1, 0):
        vote_cast(
            participant=ParticipantFactory.create(conversation=conversation),
            statement=statement,
            value=value,
        )
    last = VoteEvent.objects.latest("id").pk
    wait_for(
        lambda: covering_snapshot(conversation.pk, last),
        timeout=WAIT_S,
        what="the restarted worker to run the snapshot",
    )


def test_the_shipped_worker_command_is_the_one_the_worker_tests_run() -> None:
    worker = CONF.read_text().split("[program:worker]")[1].split("[program:")[0]
    command = next(line for line in worker.splitlines() if line.startswith("command="))
    assert all(flag in command.split() for flag in SHIPPED_WORKER_FLAGS)
