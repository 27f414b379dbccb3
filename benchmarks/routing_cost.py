"""What drawing the next card costs, at 50 thousand and at 2 million votes.

Times ``card_next`` (the next statement and the progress bar, as every vote's answer draws
them) for a participant of each conversation, and the routing query Agora ran before the
live tallies (a GROUP BY over all of the conversation's votes) for comparison. The
conversations: vtaiwan.uberx as ``benchmarks/participation_http.py`` imports it (about 50k
votes), and the 33,000 x 800 x 2,000,000 synthetic one of ``benchmarks/live_pipeline.py``
(built once, reused afterwards).

Usage (the database of the participation benchmark):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agora_bench \\
        .venv/bin/python benchmarks/routing_cost.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agora_bench")
os.environ.setdefault("CACHE_KEY_PREFIX", "agora_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Count, Q  # noqa: E402

from deliberation.models import (  # noqa: E402
    Conversation,
    Participant,
    Statement,
    StatementStatus,
    Vote,
)
from deliberation.selectors.routing import card_next  # noqa: E402


def old_routing_query(conversation: Conversation, participant: Participant) -> int:
    """The query routing ran before the tallies: every vote of the conversation, grouped."""
    return len(
        Statement.objects.filter(conversation=conversation, status=StatementStatus.ACCEPTED)
        .exclude(votes__participant=participant)
        .annotate(
            n_seen=Count("votes"),
            n_agree=Count("votes", filter=Q(votes__value=1)),
            n_disagree=Count("votes", filter=Q(votes__value=-1)),
        )
        .order_by("id")
    )


def median_ms(call: object, runs: int) -> float:
    assert callable(call)
    call()  # warm the caches, as a running server has them
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(label: str, conversation: Conversation) -> None:
    votes = Vote.objects.filter(conversation=conversation).count()
    participant = (
        Participant.objects.filter(conversation=conversation)
        .annotate(n=Count("votes"))
        .filter(n__gte=20)
        .order_by("id")
        .first()
    )
    assert participant is not None
    new = median_ms(lambda: card_next(conversation_id=conversation.pk, participant=participant), 50)
    old = median_ms(lambda: old_routing_query(conversation, participant), 5)
    print(
        f"{label:<34} {votes:>10,} votes  next card {new:7.1f} ms  "
        f"(the GROUP BY it replaces: {old:8.1f} ms)"
    )


def main() -> None:
    call_command("migrate", verbosity=0)
    vtaiwan = Conversation.objects.filter(slug="bench-vtaiwan").first()
    if vtaiwan is None:
        call_command("import_polis", str(ROOT / "data/polis/vtaiwan.uberx"), slug="bench-vtaiwan")
        vtaiwan = Conversation.objects.get(slug="bench-vtaiwan")
    measure("vtaiwan.uberx", vtaiwan)
    synthetic = Conversation.objects.filter(slug="bench-live-pipeline").first()
    if synthetic is None:
        from live_pipeline import build

        started = time.perf_counter()
        synthetic = build(33_000, 800, 2_000_000, seed=0)
        print(f"(built the synthetic conversation in {time.perf_counter() - started:.0f} s)")
    measure("synthetic 33,000 x 800 x 2,000,000", synthetic)


if __name__ == "__main__":
    main()
