"""Report benchmark: server time to render the public report of a large conversation.

On PostgreSQL, builds a conversation of 33,000 participants x 800 statements x 2M votes with
the live pipeline benchmark's generator (planted opinion groups), spreads its vote log over
60 days so the participation chart has a real shape, computes one snapshot with the live
groups pipeline (in-process), then prints, for ``GET /report/<slug>/`` through Django's test
client (view, selectors, templates, cache):

- the cold render (empty cache) for each order of the statements table,
- the warm render (served from the per-snapshot cache),
- optionally (``--exports``) the time and size of each export.

Usage (a database of its own; the data is rebuilt on every run):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agora_report_bench \\
        .venv/bin/python benchmarks/report_render.py [--exports]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))
# No broker: the snapshot's follow-up tasks (the assistant's summaries) run in-process, as
# in the embedded default.
os.environ["CELERY_BROKER_URL"] = ""

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from live_pipeline import SLUG, build  # noqa: E402  (sets Django up)

from deliberation.models import Conversation, Snapshot, SnapshotStatus, VoteEvent  # noqa: E402
from deliberation.selectors.report import SORTS  # noqa: E402
from deliberation.services.report_export import report_export  # noqa: E402
from deliberation.services.snapshots import snapshot_run  # noqa: E402

SPREAD_DAYS = 60


def spread_votes(conversation: Conversation) -> None:
    """Date the vote log over the last SPREAD_DAYS days, in id order (the generator stamps
    every vote with one moment)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH bounds AS (
                SELECT min(id) AS first, max(id) - min(id) + 1 AS n
                FROM {VoteEvent._meta.db_table} WHERE conversation_id = %s
            )
            UPDATE {VoteEvent._meta.db_table} AS e
            SET created_at = now() - make_interval(days => %s)
                + (e.id - bounds.first) * make_interval(days => %s) / bounds.n
            FROM bounds WHERE e.conversation_id = %s
            """,
            [conversation.pk, SPREAD_DAYS, SPREAD_DAYS, conversation.pk],
        )
        cursor.execute(f"ANALYZE {VoteEvent._meta.db_table}")


def timed_get(client: Client, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.content[:500]
    return elapsed, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=33_000)
    parser.add_argument("--statements", type=int, default=800)
    parser.add_argument("--votes", type=int, default=2_000_000)
    parser.add_argument("--warm", type=int, default=20, help="warm renders to time")
    parser.add_argument("--exports", action="store_true", help="also time the three exports")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the conversation and snapshot of a last run"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("report_render.py needs PostgreSQL: set DATABASE_URL.")

    ran = (
        Snapshot.objects.filter(conversation__slug=SLUG, status=SnapshotStatus.SUCCEEDED)
        .order_by("-id")
        .first()
        if args.reuse
        else None
    )
    if ran is None:
        started = time.perf_counter()
        built = build(args.participants, args.statements, args.votes, args.seed)
        spread_votes(built)
        print(f"built the conversation in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        ran = snapshot_run(snapshot_id=Snapshot.objects.create(conversation=built).pk)
        assert ran is not None and ran.status == SnapshotStatus.SUCCEEDED, ran and ran.error
        print(f"computed the snapshot in {time.perf_counter() - started:.1f} s")
    conversation = Conversation.objects.get(pk=ran.conversation_id)
    print(
        f"snapshot {ran.pk}: {ran.n_participants} "
        f"participants, {ran.n_statements} statements, {ran.n_votes} votes, k={ran.k}"
    )

    client = Client()
    url = f"/report/{conversation.slug}/"
    print("\n== GET /report/<slug>/ server time (ms) ==")
    print("cold: empty cache; warm: the same page again, from the per-snapshot cache")
    print(f"{'sort':<14}{'cold':>8}{'warm p50':>10}{'warm max':>10}{'size kB':>10}")
    for sort in SORTS:
        cache.clear()
        cold, size = timed_get(client, f"{url}?sort={sort}")
        warm = [timed_get(client, f"{url}?sort={sort}")[0] for _ in range(args.warm)]
        print(
            f"{sort:<14}{cold:>8.0f}{statistics.median(warm):>10.1f}{max(warm):>10.1f}"
            f"{size / 1024:>10.0f}"
        )
    cache.clear()
    timed_get(client, url)
    other = [timed_get(client, f"{url}?sort={sort}")[0] for sort in list(SORTS)[1:]]
    print(
        "another order of an already shown snapshot (its participation timeline cached): "
        f"p50 {statistics.median(other):.0f} ms"
    )

    if args.exports:
        print("\n== exports of the snapshot ==")
        for fmt in ("json", "csv", "pdf"):
            started = time.perf_counter()
            export = report_export(
                slug=conversation.slug, user=None, snapshot_id=ran.pk, fmt=fmt, trusted=True
            )
            print(
                f"{fmt:<5} {time.perf_counter() - started:>7.1f} s  "
                f"{len(export.content) / 1024 / 1024:>7.1f} MB  sha256 {export.sha256[:16]}"
            )


if __name__ == "__main__":
    main()
