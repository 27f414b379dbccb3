"""Participation over real HTTP: how many votes a second does Agora take, served as production
serves it?

Starts the production stack on loopback (gunicorn with ``AGORA_ENV=production``, a Celery
worker and beat) on a PostgreSQL database and a Redis database of its own, imports a Polis
conversation (vtaiwan.uberx by default), then for each participant count simulates that many
anonymous participants over HTTP only. Each has its own cookies: it reads the conversation
(which sets the CSRF cookie), asks for its first card (which makes it a participant), then
votes in a closed loop, taking the next card from the vote's answer when the API gives it
(else asking ``statements/next/``); one in ``--add-every`` votes it also adds a statement.
After ``--votes-per-participant`` votes (or once it has voted on everything) it leaves and a
new anonymous participant takes its place, as a crowd does (this also keeps each well under
the per-participant rate limit). A few readers loop on the groups API and the report.

Printed per run: votes/s, p50/p95/p99 per endpoint, errors by status, CPU seconds per
component over the run (gunicorn, worker, beat, PostgreSQL, Redis, load generator: the
PostgreSQL server is shared with whatever else runs on the machine, so its figure includes
other users' load), and the durability check: every 2xx vote is in the vote table,
and a snapshot covering the last vote succeeds, with the vote-to-snapshot latency.

Usage (PostgreSQL and Redis on their default ports):

    .venv/bin/python benchmarks/participation_http.py --participants 10 50 200 --duration 30

``--database agora_bench`` chooses the database (created if missing; the conversation is
imported once and reused); the benchmark starts its own redis-server (cache in database 0,
broker in database 1); ``--web-workers`` sets gunicorn's process count; ``--export DIR``
imports another Polis export instead.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")
SESSION_COOKIE = re.compile(r"sessionid=([^;]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def stack_env(args: argparse.Namespace, redis_port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"}
    }
    # The benchmark's own Redis: the cache in database 0, the broker in database 1 (production
    # refuses the two in one database), nothing shared with the machine's Redis.
    redis = f"redis://127.0.0.1:{redis_port}"
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="deliberation.settings",
        AGORA_ENV="production",
        SECRET_KEY="participation-benchmark-" + secrets.token_hex(16),
        ALLOWED_HOSTS=f"{HOST},localhost",
        # Plain HTTP on loopback: production's HTTPS redirect would send every request away.
        SECURE_SSL_REDIRECT="False",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}"
        + (f"?conn_max_age={args.conn_max_age:g}" if args.conn_max_age else ""),
        REDIS_URL=f"{redis}/0",
        CELERY_BROKER_URL=f"{redis}/1",
        WEB_CONCURRENCY=str(args.web_workers),
        STATIC_ROOT=str(Path(tempfile.gettempdir()) / f"agora-bench-static-{args.database}"),
        CELERY_TASK_DEFAULT_QUEUE=f"agora-participation-bench-{args.database}",
        # Keep every snapshot of the run, so each vote's first covering snapshot is there.
        AGORA_RECLUSTER_KEEP_RECENT="100000",
        LOG_LEVEL="WARNING",
        # As behind the reverse proxy production runs behind: each simulated participant
        # comes from an address of its own, so the per-address limits count people, not the
        # load generator.
        AGORA_TRUSTED_PROXY_COUNT="1",
    )
    return env


def manage(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [str(BIN / "python"), str(ROOT / "manage.py"), *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare(args: argparse.Namespace, env: dict[str, str]) -> None:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [args.database]
        ).fetchone()
        if exists is None:
            admin.execute(f'CREATE DATABASE "{args.database}"')
    manage(env, "migrate", "--noinput")
    # Production serves hashed static names from the manifest collectstatic writes.
    manage(env, "collectstatic", "--noinput")
    with db(args) as conn:
        present = conn.execute(
            "SELECT 1 FROM deliberation_conversation WHERE slug = %s", [args.slug]
        ).fetchone()
    if present is None:
        started = time.perf_counter()
        print(manage(env, "import_polis", str(args.export), "--slug", args.slug).strip())
        print(f"import_polis: {time.perf_counter() - started:.1f} s")


def db(args: argparse.Namespace) -> psycopg.Connection[Any]:
    return psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{args.database}", autocommit=True)


def scalar(conn: psycopg.Connection[Any], sql: str, params: list[Any] | None = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def redis_start() -> tuple[subprocess.Popen[bytes], int]:
    """A private redis-server on a free port, without persistence."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    sys.exit("redis-server did not start")


class Stack:
    """gunicorn, a Celery worker and beat, started together and stopped together."""

    def __init__(
        self, args: argparse.Namespace, env: dict[str, str], redis: subprocess.Popen[bytes]
    ) -> None:
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="agora-bench-"))
        self.redis = redis
        logs = {name: open(self.tmp / f"{name}.log", "w") for name in ("web", "worker", "beat")}  # noqa: SIM115
        self.logs = logs
        common: dict[str, Any] = {"env": env, "cwd": ROOT, "start_new_session": True}
        self.web = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "deliberation.wsgi",
                f"--bind={HOST}:{self.port}",
                f"--workers={args.web_workers}",
                "--access-logfile=-" if args.access_log else "--error-logfile=-",
            ],
            stdout=logs["web"],
            stderr=subprocess.STDOUT,
            **common,
        )
        self.worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "deliberation",
                "worker",
                "-Q",
                env["CELERY_TASK_DEFAULT_QUEUE"],
                "--concurrency=1",
                "--loglevel=WARNING",
                f"--hostname=bench-{os.getpid()}@%h",
            ],
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
            **common,
        )
        self.beat = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "deliberation",
                "beat",
                f"--schedule={self.tmp / 'beat-schedule'}",
                "--loglevel=WARNING",
            ],
            stdout=logs["beat"],
            stderr=subprocess.STDOUT,
            **common,
        )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                sys.exit(f"gunicorn exited: {(self.tmp / 'web.log').read_text()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/api/v1/conversations/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        sys.exit(f"gunicorn did not answer: {(self.tmp / 'web.log').read_text()}")

    def processes(self) -> dict[str, list[psutil.Process]]:
        def tree(popen: subprocess.Popen[bytes]) -> list[psutil.Process]:
            try:
                root = psutil.Process(popen.pid)
                return [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return []

        return {
            "gunicorn": tree(self.web),
            "celery worker": tree(self.worker),
            "celery beat": tree(self.beat),
            "postgres (shared)": [
                p for p in psutil.process_iter(["name"]) if _named(p, "postgres")
            ],
            "redis": [psutil.Process(self.redis.pid)],
        }

    def stop(self) -> None:
        for popen in (self.web, self.worker, self.beat):
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
        for popen in (self.web, self.worker, self.beat):
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
        for log in self.logs.values():
            log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _named(process: psutil.Process, name: str) -> bool:
    return name in (process.info.get("name") or "")


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            # Children's times count the short-lived processes reaped so far: PostgreSQL's
            # backends of closed connections.
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


# -- the load generator: each process runs a thread per simulated participant -------------


class Client:
    """One browser: its own cookies, a connection per request (gunicorn's sync workers
    close the connection after each answer)."""

    def __init__(self, port: int, results: list[tuple[str, int, float]]) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.results = results
        # An address in 198.18.0.0/15, the range set aside for benchmarks (RFC 2544), as the
        # proxy would pass it on; no traffic goes there.
        self.address = (
            f"198.{random.randint(18, 19)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        )

    def call(
        self, endpoint: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json", "X-Forwarded-For": self.address}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Origin"] = f"http://{HOST}:{self.port}"
            headers["Referer"] = f"http://{HOST}:{self.port}/"
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, pattern in (("csrftoken", CSRF_COOKIE), ("sessionid", SESSION_COOKIE)):
                    if (match := pattern.search(header)) is not None:
                        self.cookies[name] = match.group(1)
            conn.close()
        except OSError:
            status, data = 599, b""
        self.results.append((endpoint, status, time.perf_counter() - started))
        return status, data


def participant_loop(
    port: int, slug: str, stop_at: float, options: dict[str, Any], out: dict[str, Any]
) -> None:
    rng = random.Random()
    api = f"/api/v1/conversations/{slug}"
    while time.monotonic() < stop_at:
        client = Client(port, out["results"])
        client.call("conversation", "GET", f"{api}/")
        status, data = client.call("next", "GET", f"{api}/statements/next/")
        card = json.loads(data)["statement"] if status == 200 else None
        for n in range(options["votes_per_participant"]):
            if card is None or time.monotonic() >= stop_at:
                break
            value = rng.choice((1, 1, -1, 0))
            status, data = client.call(
                "vote", "POST", f"{api}/votes/", {"statement": card["id"], "value": value}
            )
            if 200 <= status < 300:
                answer = json.loads(data)
                out["votes"].append((client.cookies.get("sessionid", ""), card["id"], value))
                if "next" in answer:
                    card = answer["next"]["statement"]
                else:
                    status, data = client.call("next", "GET", f"{api}/statements/next/")
                    card = json.loads(data)["statement"] if status == 200 else None
            else:
                status, data = client.call("next", "GET", f"{api}/statements/next/")
                card = json.loads(data)["statement"] if status == 200 else None
            if options["add_every"] and n % options["add_every"] == options["add_every"] - 1:
                text = f"Benchmark statement {secrets.token_hex(6)} about fares and drivers"
                client.call("statement add", "POST", f"{api}/statements/", {"text": text})
            if options["think"]:
                time.sleep(rng.expovariate(1 / options["think"]))


def reader_loop(port: int, slug: str, stop_at: float, out: dict[str, Any]) -> None:
    client = Client(port, out["results"])
    while time.monotonic() < stop_at:
        client.call("groups", "GET", f"/api/v1/conversations/{slug}/groups/")
        client.call("report", "GET", f"/report/{slug}/")
        time.sleep(0.5)


def generator_process(
    port: int,
    slug: str,
    participants: int,
    readers: int,
    start_at: float,
    duration: float,
    options: dict[str, Any],
    results: "multiprocessing.Queue[dict[str, Any]]",
) -> None:
    out: dict[str, Any] = {"results": [], "votes": []}
    while time.time() < start_at:
        time.sleep(0.01)
    stop_at = time.monotonic() + duration
    threads = [
        threading.Thread(target=participant_loop, args=(port, slug, stop_at, options, out))
        for _ in range(participants)
    ] + [
        threading.Thread(target=reader_loop, args=(port, slug, stop_at, out))
        for _ in range(readers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(out)


def run(args: argparse.Namespace, stack: Stack, participants: int) -> None:
    with db(args) as conn:
        conversation_id = scalar(
            conn, "SELECT id FROM deliberation_conversation WHERE slug = %s", [args.slug]
        )
        event_before = scalar(conn, "SELECT coalesce(max(id), 0) FROM deliberation_voteevent")
    processes = min(args.generator_processes, participants)
    readers = max(1, participants // 25)
    options = {
        "votes_per_participant": args.votes_per_participant,
        "add_every": args.add_every,
        "think": args.think,
    }
    results: multiprocessing.Queue[dict[str, Any]] = multiprocessing.Queue()
    start_at = time.time() + 2.0
    workers = [
        multiprocessing.Process(
            target=generator_process,
            args=(
                stack.port,
                args.slug,
                participants // processes + (i < participants % processes),
                readers // processes + (i < readers % processes),
                start_at,
                args.duration,
                options,
                results,
            ),
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    while time.time() < start_at:
        time.sleep(0.01)
    components = stack.processes()
    cpu_before = {name: cpu_seconds(procs) for name, procs in components.items()}
    gen_procs = [psutil.Process(worker.pid) for worker in workers if worker.pid]
    gen_before = cpu_seconds(gen_procs)
    wall_started = time.perf_counter()
    outs = []
    for _ in workers:
        try:
            outs.append(results.get(timeout=args.duration + 120))
        except queue.Empty:
            break
    gen_after = cpu_seconds(gen_procs)
    wall = time.perf_counter() - wall_started
    cpu_after = {name: cpu_seconds(procs) for name, procs in components.items()}
    for worker in workers:
        worker.join()
    samples = [sample for out in outs for sample in out["results"]]
    votes = [vote for out in outs for vote in out["votes"]]

    print(f"\n== {participants} participants, {readers} readers, {args.duration:g} s ==")
    print(f"votes: {len(votes)} accepted, {len(votes) / wall:.1f} votes/s over {wall:.1f} s")
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for endpoint, status, seconds in samples:
        by_endpoint[endpoint].append(seconds * 1000)
        statuses[endpoint][status] += 1
    print(
        f"{'endpoint':<15} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    for endpoint, millis in sorted(by_endpoint.items()):
        q = statistics.quantiles(millis, n=100) if len(millis) > 1 else millis * 99
        print(
            f"{endpoint:<15} {len(millis):>8} {len(millis) / wall:>7.1f} "
            f"{q[49]:>8.1f} {q[94]:>8.1f} {q[98]:>8.1f}"
        )
    errors = {
        endpoint: {status: n for status, n in counts.items() if not 200 <= status < 300}
        for endpoint, counts in statuses.items()
    }
    print("errors by status:", {k: v for k, v in errors.items() if v} or "none")
    print("CPU over the run (cores in use; ms per accepted vote, robust to a busy machine):")
    for name in components:
        used = cpu_after[name] - cpu_before[name]
        print(
            f"  {name:<20} {used:7.1f} s  ({used / wall:.2f} cores, "
            f"{1000 * used / max(len(votes), 1):.1f} ms/vote)"
        )
    print(
        f"  {'load generator':<20} {gen_after - gen_before:7.1f} s  "
        f"({(gen_after - gen_before) / wall:.2f} cores)"
    )
    durability(args, conversation_id, event_before, votes)


def durability(
    args: argparse.Namespace,
    conversation_id: int,
    event_before: int,
    votes: list[tuple[str, int, int]],
) -> None:
    with db(args) as conn:
        stored = {
            (session, statement): value
            for session, statement, value in conn.execute(
                "SELECT p.session_key, v.statement_id, v.value FROM deliberation_vote v "
                "JOIN deliberation_participant p ON p.id = v.participant_id "
                "WHERE v.conversation_id = %s AND p.session_key = ANY(%s)",
                [conversation_id, list({session for session, _, _ in votes})],
            )
        }
        missing = sum(1 for vote in votes if stored.get(vote[:2]) != vote[2])
        print(
            f"durability: {len(votes) - missing}/{len(votes)} answered votes in the vote table"
            + (" (OK)" if not missing else f" ({missing} MISSING)")
        )
        last_event = scalar(
            conn,
            "SELECT coalesce(max(id), 0) FROM deliberation_voteevent WHERE conversation_id = %s",
            [conversation_id],
        )
        waited = time.perf_counter()
        covering = None
        while time.perf_counter() - waited < args.snapshot_wait:
            covering = conn.execute(
                "SELECT id FROM deliberation_snapshot WHERE conversation_id = %s "
                "AND status = 'succeeded' AND watermark >= %s ORDER BY id LIMIT 1",
                [conversation_id, last_event],
            ).fetchone()
            if covering is not None:
                break
            time.sleep(0.5)
        print(
            f"final snapshot covering the last vote (event {last_event}): "
            + (
                f"snapshot {covering[0]} after {time.perf_counter() - waited:.1f} s"
                if covering
                else f"NONE within {args.snapshot_wait:g} s"
            )
        )
        latencies = [
            seconds
            for (seconds,) in conn.execute(
                "SELECT extract(epoch FROM (SELECT min(s.finished_at) FROM deliberation_snapshot s "
                "WHERE s.conversation_id = e.conversation_id AND s.status = 'succeeded' "
                "AND s.watermark >= e.id) - e.created_at) FROM deliberation_voteevent e "
                "WHERE e.conversation_id = %s AND e.id > %s",
                [conversation_id, event_before],
            )
            if seconds is not None
        ]
        if latencies:
            q = statistics.quantiles([float(s) for s in latencies], n=100)
            print(
                f"vote-to-snapshot latency: p50 {q[49]:.1f} s, p95 {q[94]:.1f} s "
                f"({len(latencies)} votes covered)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--generator-processes", type=int, default=2)
    parser.add_argument("--votes-per-participant", type=int, default=40)
    parser.add_argument("--add-every", type=int, default=20, help="votes per added statement")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds between votes")
    parser.add_argument("--database", default="agora_bench")
    parser.add_argument("--export", type=Path, default=ROOT / "data/polis/vtaiwan.uberx")
    parser.add_argument("--slug", default="bench-vtaiwan")
    parser.add_argument("--snapshot-wait", type=float, default=60.0)
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument(
        "--conn-max-age",
        type=float,
        default=0.0,
        help="keep database connections this long (default: as the settings have it)",
    )
    args = parser.parse_args()
    redis, redis_port = redis_start()
    env = stack_env(args, redis_port)
    try:
        prepare(args, env)
        stack = Stack(args, env, redis)
    except BaseException:
        os.killpg(redis.pid, signal.SIGTERM)
        raise
    try:
        print(
            f"gunicorn {args.web_workers} workers on {HOST}:{stack.port}; worker and beat up; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        for participants in args.participants:
            run(args, stack, participants)
    finally:
        stack.stop()
        os.killpg(redis.pid, signal.SIGTERM)
        redis.wait(timeout=20)


if __name__ == "__main__":
    main()
