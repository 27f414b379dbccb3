"""How long ``import_polis`` takes on the three real conversations in data/polis/.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agora \
        .venv/bin/python benchmarks/import_polis.py [--repeat N]

It times the service behind the command (polis_import), not the interpreter's start-up.

Runs against the server in DATABASE_URL but never touches its database: it creates a scratch
database next to it (``<name>_bench_import``, through Django's test-database machinery, so
it is migrated like the real one), imports each conversation into it, imports it again (which
must add nothing), exports it, and drops the scratch database. Prints one line per
conversation with the wall-clock seconds of each step, then the verdict on the target:
vtaiwan.uberx imports in under 10 s on PostgreSQL.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from deliberation.models import Conversation  # noqa: E402
from deliberation.services.polis_export import polis_export_write  # noqa: E402
from deliberation.services.polis_import import polis_import  # noqa: E402

CONVERSATIONS = ["15-per-hour-seattle", "scoop-hivemind.biodiversity", "vtaiwan.uberx"]
TARGET = ("vtaiwan.uberx", 10.0)


def bench(name: str, repeat: int) -> dict[str, float]:
    """Median seconds of each step over ``repeat`` fresh imports of one conversation."""
    directory = ROOT / "data" / "polis" / name
    slug = "bench-" + name.replace(".", "-")
    steps: dict[str, list[float]] = {"import": [], "re-import": [], "export": []}
    for _ in range(repeat):
        Conversation.objects.filter(slug=slug).delete()
        start = time.perf_counter()
        polis_import(directory=directory, slug=slug)
        steps["import"].append(time.perf_counter() - start)
        start = time.perf_counter()
        again = polis_import(directory=directory, slug=slug)
        steps["re-import"].append(time.perf_counter() - start)
        if again.participants_added or again.statements_added or again.vote_events_added:
            raise SystemExit(f"{name}: the re-import added rows; the import is not idempotent")
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            polis_export_write(conversation=again.conversation, directory=Path(out))
            steps["export"].append(time.perf_counter() - start)
    Conversation.objects.filter(slug=slug).delete()
    return {step: statistics.median(times) for step, times in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Time import_polis on real Polis exports.")
    parser.add_argument("--repeat", type=int, default=1, help="runs per conversation (median)")
    repeat = parser.parse_args().repeat

    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_bench_import"
    scratch = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"database: {connection.vendor} (scratch database {scratch}), median of {repeat}")
        print(f"{'conversation':<30}{'import s':>10}{'re-import s':>13}{'export s':>10}")
        results = {}
        for name in CONVERSATIONS:
            results[name] = bench(name, repeat)
            row = results[name]
            print(
                f"{name:<30}{row['import']:>10.2f}{row['re-import']:>13.2f}{row['export']:>10.2f}"
            )
    finally:
        connection.creation.destroy_test_db(scratch, verbosity=0)
    name, limit = TARGET
    seconds = results[name]["import"]
    verdict = "met" if seconds < limit and connection.vendor == "postgresql" else "NOT met"
    print(
        f"target: {name} imports in under {limit:.0f} s on PostgreSQL: {verdict} ({seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
