"""Precision and recall of the duplicate tier on a labelled set of statement pairs.

    python benchmarks/dedupe_eval.py [--pairs data/dedupe_pairs.csv] [--base-url URL]

Runs the assistant's duplicate detection (``pair_verdicts``, the code behind ``manage.py
assistant dedupe``) in up to three set-ups and prints, for each, precision and recall of the
"duplicate" tier against the labels, how many negation pairs were called duplicates, and
the scores by kind of pair:

1. offline: character n-gram TF-IDF and the local stance rule (no model);
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


def evaluate(name: str, rows: list[dict[str, str]], llm: dict[str, Any]) -> None:
    settings.AGORA_LLM = llm
    pairs = [(row["a"], row["b"]) for row in rows]
    with transaction.atomic():
        verdicts, method, limitations = pair_verdicts(provider=get_provider(), pairs=pairs)
        transaction.set_rollback(True)
    called = [verdict.tier == DuplicateTier.DUPLICATE for verdict in verdicts]
    truth = [row["label"] == "1" for row in rows]
    true_positives = sum(c and t for c, t in zip(called, truth, strict=True))
    precision = true_positives / sum(called) if any(called) else float("nan")
    recall = true_positives / sum(truth)
    negations = [c for c, row in zip(called, rows, strict=True) if row["kind"] == "negation"]
    thresholds = duplicate_thresholds(method)
    print(f"\n== {name} (similarity: {method}; thresholds {thresholds})")
    for limitation in limitations:
        print(f"   limited: {limitation}")
    print(
        f"   duplicate tier: precision {precision:.2f}, recall {recall:.2f} "
        f"({true_positives} of {sum(truth)} duplicates found, {sum(called)} pairs called)"
    )
    print(f"   negation pairs called duplicate: {sum(negations)} of {len(negations)}")
    by_kind: dict[str, list[str]] = defaultdict(list)
    tiers: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row, verdict in zip(rows, verdicts, strict=True):
        by_kind[row["kind"]].append(f"{verdict.score:.2f}")
        tiers[row["kind"]][verdict.tier.value] += 1
    for kind, scores in by_kind.items():
        counts = ", ".join(f"{tier} {n}" for tier, n in sorted(tiers[kind].items()))
        print(f"   {kind:<11} ({counts}) scores: {' '.join(sorted(scores))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=ROOT / "data" / "dedupe_pairs.csv")
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
