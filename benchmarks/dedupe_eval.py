"""Precision and recall of the duplicate tier on a labelled set of statement pairs.

    python benchmarks/dedupe_eval.py [--pairs data/dedupe_pairs.csv] [--base-url URL]

Runs the assistant's duplicate detection (``pair_verdicts``, the code behind ``manage.py
assistant dedupe``) in up to three set-ups and prints, for each, precision and recall of the
"duplicate" tier and of "duplicate or probable" against the labels, and the tiers each kind
of pair landed in (paraphrase, negation, antonym, comparative, related, unrelated,
nonenglish), separately for the tuning half of the set (``split`` = tune, on which the
thresholds were chosen) and the reported half:

1. offline: the local sentence-embedding model and the local stance rules (no AI model);
2. fake endpoint: the test suite's fake OpenAI server, whose embeddings are hashed character
   n-grams. This exercises the whole SDK path but it is NOT a language model: its figures say
   nothing about real embeddings, and it has no chat model, so the stance check falls back to
   the local rule;
3. with ``--base-url`` (and OPENAI_API_KEY, AGORA_EMBEDDING_MODEL, AGORA_CHAT_MODEL): a real
   OpenAI-compatible endpoint, embeddings and LLM stance check included.

Every ledger row written while measuring is rolled back.
"""

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402

from deliberation.assistant.duplicates import duplicate_thresholds, pair_verdicts  # noqa: E402
from deliberation.assistant.provider import get_provider  # noqa: E402
from deliberation.models import DuplicateTier  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

DUPLICATE_KINDS = ("paraphrase",)
NEGATION_KINDS = ("negation", "antonym", "comparative")


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.2f}" if whole else " n/a"


def report(split: str, rows: list[dict[str, str]], verdicts: list[Any]) -> None:
    """Precision and recall per tier, and the tiers each kind of pair landed in."""
    truth = [row["label"] == "1" for row in rows]
    print(f"   -- {split} half: {len(rows)} pairs, {sum(truth)} same-claim")
    for name, tiers in (
        ("duplicate", {DuplicateTier.DUPLICATE}),
        ("duplicate+probable", {DuplicateTier.DUPLICATE, DuplicateTier.PROBABLE}),
    ):
        called = [verdict.tier in tiers for verdict in verdicts]
        hits = sum(c and t for c, t in zip(called, truth, strict=True))
        print(
            f"   {name:<19} precision {_ratio(hits, sum(called))} "
            f"({hits}/{sum(called)} called), recall {_ratio(hits, sum(truth))} "
            f"({hits}/{sum(truth)})"
        )
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row, verdict in zip(rows, verdicts, strict=True):
        kinds[row["kind"]][verdict.tier.value] += 1
    for kind, counts in kinds.items():
        total = sum(counts.values())
        spread = ", ".join(f"{tier} {counts[tier.value]}" for tier in DuplicateTier)
        line = f"   {kind:<12} n={total:<3} {spread}"
        if kind in DUPLICATE_KINDS:
            found = counts["duplicate"] + counts["probable"]
            line += f"  | duplicate+probable recall {_ratio(found, total)}"
        if kind in NEGATION_KINDS:
            line += f"  | in duplicate {_ratio(counts['duplicate'], total)}"
        print(line)
    opposed = [
        verdict
        for row, verdict in zip(rows, verdicts, strict=True)
        if row["kind"] in NEGATION_KINDS
    ]
    in_duplicate = sum(verdict.tier == DuplicateTier.DUPLICATE for verdict in opposed)
    print(
        f"   negations of every kind in duplicate: {in_duplicate}/{len(opposed)} "
        f"({_ratio(in_duplicate, len(opposed))})"
    )


def evaluate(name: str, rows: list[dict[str, str]], llm: dict[str, Any]) -> None:
    settings.AGORA_LLM = llm
    pairs = [(row["a"], row["b"]) for row in rows]
    started = time.perf_counter()
    with transaction.atomic():
        verdicts, method, limitations = pair_verdicts(provider=get_provider(), pairs=pairs)
        transaction.set_rollback(True)
    elapsed = time.perf_counter() - started
    print(f"\n== {name} (vectors: {method}; {duplicate_thresholds(method)}; {elapsed:.1f} s)")
    for limitation in limitations:
        print(f"   limited: {limitation}")
    splits = sorted({row.get("split", "all") for row in rows}, reverse=True)
    for split in splits:
        chosen = [i for i, row in enumerate(rows) if row.get("split", "all") == split]
        report(split, [rows[i] for i in chosen], [verdicts[i] for i in chosen])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pairs", type=Path, default=ROOT / "benchmarks" / "data" / "meaning_pairs.csv"
    )
    parser.add_argument("--base-url", help="a real OpenAI-compatible endpoint to measure too")
    args = parser.parse_args()
    with args.pairs.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    print(f"{len(rows)} labelled pairs from {args.pairs}")
    base = dict(settings.AGORA_LLM)
    evaluate("offline provider", rows, {**base, "BASE_URL": ""})
    fake = FakeOpenAI().start()
    try:
        evaluate(
            "fake endpoint (hashed n-gram embeddings, no chat model)",
            rows,
            {
                **base,
                "BASE_URL": fake.base_url,
                "EMBEDDING_MODEL": "fake-hashed-ngrams",
                "MAX_RETRIES": 0,
            },
        )
    finally:
        fake.stop()
    if args.base_url:
        evaluate(f"endpoint {args.base_url}", rows, {**base, "BASE_URL": args.base_url})


if __name__ == "__main__":
    main()
