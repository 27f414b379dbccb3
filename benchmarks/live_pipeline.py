"""Live pipeline benchmark: how fast do the groups follow the votes on a large conversation?

On PostgreSQL, builds a conversation of 33,000 participants x 800 statements x 2M votes with
planted opinion groups, then prints:

1. the run time of a clustering snapshot split into loading the votes from the database and
   computing (a cold run, which loads every vote, then warm runs that start from the previous
   state and load the previous run's stored vote arrays plus the votes since), and the size of
   the stored arrays;
2. vote-to-snapshot latency (p50, p95) while votes stream in at 200 per second through the
   real vote service from several processes (each with its own database connection), with a
   real Celery worker (a separate process, Redis broker) reclustering behind them. A vote's
   latency runs from its commit to the first succeeded snapshot whose watermark covers its
   VoteEvent; every snapshot of the run is kept (no pruning) so none is measured against a
   later one.

Usage (PostgreSQL, Redis and a database of its own; the data is rebuilt unless --reuse-data):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agora_live_bench \\
        .venv/bin/python benchmarks/live_pipeline.py [--stream-seconds 60] [--reuse-data]
"""

import argparse
import io
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BROKER = os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/5")
QUEUE = os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", "agora-live-bench")
# Keep every snapshot of the run: pruning would delete the snapshots that first covered
# early votes, and the latency of those votes would be measured against later ones.
os.environ.setdefault("AGORA_RECLUSTER_KEEP_RECENT", "100000")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from deliberation.models import (  # noqa: E402
    Conversation,
    Participant,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    Vote,
    VoteEvent,
    normalize_statement_text,
)
from deliberation.services.snapshots import snapshot_run  # noqa: E402
from deliberation.services.votes import vote_cast  # noqa: E402

SLUG = "bench-live-pipeline"
SENDER_START_S = 15.0  # head start for the sender processes to start and set Django up


def build(n_participants: int, n_statements: int, n_votes: int, seed: int) -> Conversation:
    Conversation.objects.filter(slug=SLUG).delete()
    conversation = Conversation.objects.create(slug=SLUG, topic="Live pipeline benchmark")
    now = datetime.now(UTC)
    Statement.objects.bulk_create(
        Statement(
            conversation=conversation,
            text=f"Benchmark statement {i}",
            text_key=normalize_statement_text(f"Benchmark statement {i}"),
            status=StatementStatus.ACCEPTED,
            created_at=now,
        )
        for i in range(n_statements)
    )
    Participant.objects.bulk_create(
        (Participant(conversation=conversation) for _ in range(n_participants)), batch_size=5000
    )
    statement_ids = np.array(
        Statement.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("id", flat=True)
    )
    participant_ids = np.array(
        Participant.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("id", flat=True)
    )
    rng = np.random.default_rng(seed)
    # Three planted camps, each with its own leaning on every statement.
    leanings = rng.normal(0, 1, (3, n_statements))
    camp = rng.integers(0, 3, n_participants)
    per_participant = int(n_votes / n_participants * 1.03) + 1
    rows = np.repeat(np.arange(n_participants), per_participant)
    cols = rng.integers(0, n_statements, len(rows))
    cells = np.unique(rows.astype(np.int64) * n_statements + cols)[:n_votes]
    rows, cols = cells // n_statements, cells % n_statements
    signal = leanings[camp[rows], cols] + rng.normal(0, 0.7, len(rows))
    values = np.where(np.abs(signal) < 0.25, 0, np.sign(signal)).astype(np.int64)
    stamp = now.isoformat()
    text = io.StringIO()
    for p, s, v in zip(
        participant_ids[rows].tolist(), statement_ids[cols].tolist(), values.tolist(), strict=True
    ):
        text.write(f"{conversation.pk}\t{p}\t{s}\t{v}\t\t{stamp}\n")
    payload = text.getvalue()
    with connection.cursor() as cursor:
        for model, stamp_column in ((VoteEvent, "created_at"), (Vote, "updated_at")):
            columns = (
                f"conversation_id, participant_id, statement_id, value, reason, {stamp_column}"
            )
            with cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                copy.write(payload)
        cursor.execute(f"ANALYZE {Vote._meta.db_table}")
        cursor.execute(f"ANALYZE {VoteEvent._meta.db_table}")
    return conversation


def run_split(conversation: Conversation, runs: int) -> None:
    print("\n== run time split (in-process, one snapshot at a time) ==")
    print(
        f"{'run':<8}{'load ms':>10}{'compute ms':>12}{'total ms':>10}{'arrays MB':>11}  k  groups"
    )
    for index in range(runs):
        snapshot = Snapshot.objects.create(conversation=conversation)
        started = time.perf_counter()
        done = snapshot_run(snapshot_id=snapshot.pk)
        total = (time.perf_counter() - started) * 1000
        assert done is not None and done.status == SnapshotStatus.SUCCEEDED, done and done.error
        t = done.timings_ms
        label = "cold" if index == 0 else f"warm {index}"
        arrays = Snapshot.objects.values_list("vote_arrays", flat=True).get(pk=done.pk)
        size_mb = len(arrays) / 1e6 if arrays is not None else 0.0
        print(
            f"{label:<8}{t['load']:>10.0f}{t['compute']:>12.0f}{total:>10.0f}{size_mb:>11.1f}"
            f"  {done.k}"
            f"  {sorted(done.group_sizes.values(), reverse=True)}"
        )


def _send_votes(
    participant_ids: list[int], due_times: list[float], seed: int
) -> list[tuple[int, float]]:
    """One sender process: its own participants and database connection, each vote through
    vote_cast at its due time. Returns (VoteEvent id, commit time) per vote."""
    participants = list(Participant.objects.filter(pk__in=participant_ids))
    conversation_id = participants[0].conversation_id
    statements = list(
        Statement.objects.filter(conversation_id=conversation_id).select_related("conversation")
    )
    rng = np.random.default_rng(seed)
    cast = []
    for due in due_times:
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        participant = participants[int(rng.integers(len(participants)))]
        statement = statements[int(rng.integers(len(statements)))]
        vote_cast(participant=participant, statement=statement, value=int(rng.integers(-1, 2)))
        committed = time.time()
        # This sender alone votes as this participant, so the pair's latest event is ours.
        event = VoteEvent.objects.filter(participant=participant, statement=statement).latest("id")
        cast.append((event.pk, committed))
    return cast


def stream(
    conversation: Conversation, seconds: float, rate: float, senders: int, seed: int
) -> None:
    print(
        f"\n== streaming {rate:.0f} votes/s for {seconds:.0f} s through vote_cast from {senders}"
        " sender processes; a real Celery worker (separate process, Redis broker) reclusters =="
    )
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "deliberation",
            "worker",
            "-Q",
            QUEUE,
            "--concurrency",
            "1",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    try:
        time.sleep(4)  # worker start
        participant_ids = list(
            Participant.objects.filter(conversation=conversation)
            .order_by("id")
            .values_list("id", flat=True)[:5000]
        )
        n = int(seconds * rate)
        # Separate processes, so the senders' Python does not share one interpreter lock; each
        # sets Django up by importing this module, within the head start given here.
        start = time.time() + SENDER_START_S
        due = [start + i / rate for i in range(n)]
        with multiprocessing.get_context("spawn").Pool(senders) as pool:
            per_sender = pool.starmap(
                _send_votes,
                [(participant_ids[k::senders], due[k::senders], seed + k) for k in range(senders)],
            )
        cast = sorted(vote for votes in per_sender for vote in votes)
        achieved = len(cast) / (max(at for _, at in cast) - start)
        last_event = cast[-1][0]
        deadline = time.time() + 120
        while time.time() < deadline:
            if Snapshot.objects.filter(
                conversation=conversation,
                status=SnapshotStatus.SUCCEEDED,
                watermark__gte=last_event,
            ).exists():
                break
            time.sleep(0.2)
        runs = list(
            Snapshot.objects.filter(
                conversation=conversation,
                status=SnapshotStatus.SUCCEEDED,
                finished_at__gte=datetime.fromtimestamp(start, UTC),
            )
            .order_by("id")
            .values_list("watermark", "finished_at", "timings_ms")
        )
    finally:
        # SIGTERM to the main process only: a warm shutdown lets the child finish its run.
        worker.terminate()
        worker.wait(120)
    latencies = []
    for event_id, at in cast:
        covering = [f.timestamp() for w, f, _ in runs if w is not None and f and w >= event_id]
        if covering:
            latencies.append(min(covering) - at)
    latencies.sort()
    print(
        f"votes cast: {len(cast)} (achieved {achieved:.0f}/s), "
        f"snapshots during the stream: {len(runs)}"
    )
    print(f"votes covered by a snapshot: {len(latencies)}/{len(cast)}")
    if latencies:
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(
            f"vote-to-snapshot latency: p50 {p50:.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s"
        )
    if runs:
        loads = [t["load"] for _, _, t in runs]
        computes = [t["compute"] for _, _, t in runs]
        print(
            f"runs under streaming: load median {statistics.median(loads):.0f} ms "
            f"(max {max(loads):.0f}), compute median {statistics.median(computes):.0f} ms "
            f"(max {max(computes):.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=33_000)
    parser.add_argument("--statements", type=int, default=800)
    parser.add_argument("--votes", type=int, default=2_000_000)
    parser.add_argument("--warm-runs", type=int, default=2)
    parser.add_argument("--stream-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--senders", type=int, default=8, help="Processes casting votes.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse-data", action="store_true", help="Keep the conversation of a previous run."
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("live_pipeline.py needs PostgreSQL: set DATABASE_URL.")
    started = time.perf_counter()
    existing = Conversation.objects.filter(slug=SLUG).first()
    if args.reuse_data and existing is not None:
        conversation = existing
        Snapshot.objects.filter(conversation=conversation).delete()
    else:
        conversation = build(args.participants, args.statements, args.votes, args.seed)
    print(
        f"built {args.participants} participants x {args.statements} statements x "
        f"{Vote.objects.filter(conversation=conversation).count()} votes "
        f"ready in {time.perf_counter() - started:.1f} s"
    )
    run_split(conversation, 1 + args.warm_runs)
    stream(conversation, args.stream_seconds, args.rate, args.senders, args.seed)


if __name__ == "__main__":
    main()
