"""Scale figures for the clustering engine on synthetic data with planted groups.

Prints wall time and peak memory for: 33,000 x 800 x 2M votes (target < 2 s), an incremental
run with the previous state and 1,000 new votes (target < 0.5 s) and, with ``--full``,
1,000,000 x 5,000 x 50M votes (target < 60 s, < 8 GB).
Usage: ``python benchmarks/clustering_scale.py [--full] [--no-community-notes-at-1m]``
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from clustering import Analysis, Options, analyze
from clustering.synthetic import SyntheticVotes, planted_votes


def timed(label: str, votes: tuple[Any, Any, Any], **kwargs: Any) -> Analysis:
    tracemalloc.start()
    start = time.perf_counter()
    result = analyze(votes, **kwargs)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    steps = ", ".join(f"{k} {v / 1000:.2f}" for k, v in result.timings_ms.items())
    print(
        f"{label}: {elapsed:.2f} s, peak traced memory {peak / 2**30:.2f} GB "
        f"(process max RSS so far {rss:.2f} GB); steps (s): {steps}"
    )
    return result


def planted_ari(data: SyntheticVotes, result: Analysis) -> float:
    grouped = result.group >= 0
    ids = result.participant_ids[grouped]
    return float(adjusted_rand_score(data.groups[ids], result.group[grouped]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also run 1M x 5,000 x 50M")
    parser.add_argument("--no-community-notes-at-1m", action="store_true")
    args = parser.parse_args()

    data = planted_votes(33_000, 800, 2_000_000, random_state=2)
    votes = (data.participants, data.statements, data.values)
    first = timed("33,000 x 800 x 2M, cold", votes)
    print(f"  k={first.k}, ARI vs planted {planted_ari(data, first):.3f}")
    rng = np.random.default_rng(3)
    new = (
        rng.integers(0, 34_000, 1_000),
        rng.integers(0, 800, 1_000),
        rng.integers(-1, 2, 1_000).astype(np.int8),
    )
    more = tuple(np.concatenate([old, extra]) for old, extra in zip(votes, new, strict=True))
    second = timed(
        "  incremental: previous state + 1,000 new votes", more, previous_state=first.state
    )  # type: ignore[arg-type]
    print(
        f"  k={second.k}, same groups kept: "
        f"{np.mean(second.group[: len(first.group)] == first.group):.3f} of the old participants"
    )

    if args.full:
        start = time.perf_counter()
        big = planted_votes(1_000_000, 5_000, 50_000_000, random_state=4)
        print(
            f"1,000,000 x 5,000 x {len(big.values):,}: generated in "
            f"{time.perf_counter() - start:.1f} s"
        )
        skip = args.no_community_notes_at_1m
        if skip:
            print("  NOTE: Community Notes model skipped for this run (--no-community-notes-at-1m)")
        result = timed(
            "  1M cold",
            (big.participants, big.statements, big.values),
            options=Options(community_notes=not skip),
        )
        print(f"  k={result.k}, ARI vs planted {planted_ari(big, result):.3f}")


if __name__ == "__main__":
    main()
