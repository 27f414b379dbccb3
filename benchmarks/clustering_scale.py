"""Scale figures for the clustering engine on synthetic data with planted groups.

Prints wall time and peak memory for: 33,000 x 800 x 2M votes (target < 2 s), an incremental
run with the previous state and 1,000 new votes (target < 0.5 s) and, with ``--full``,
1,000,000 x 5,000 x 50M votes (target < 60 s, < 8 GB), Community Notes included.
Each size runs in its own process, so the peak resident memory printed is that run's alone (it
includes the generated votes, which the caller holds anyway).
Usage: ``python benchmarks/clustering_scale.py [--full]``
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from clustering import Analysis, analyze
from clustering.synthetic import SyntheticVotes, planted_votes


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(label: str, votes: tuple[Any, Any, Any], **kwargs: Any) -> Analysis:
    start = time.perf_counter()
    result = analyze(votes, **kwargs)
    elapsed = time.perf_counter() - start
    steps = ", ".join(f"{k} {v / 1000:.2f}" for k, v in result.timings_ms.items())
    print(f"{label}: {elapsed:.2f} s, peak RSS {peak_rss_gb():.2f} GB; steps (s): {steps}")
    return result


def planted_ari(data: SyntheticVotes, result: Analysis) -> float:
    grouped = result.group >= 0
    ids = result.participant_ids[grouped]
    return float(adjusted_rand_score(data.groups[ids], result.group[grouped]))


def medium() -> None:
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
    more = (
        np.concatenate([data.participants, new[0]]),
        np.concatenate([data.statements, new[1]]),
        np.concatenate([data.values, new[2]]),
    )
    second = timed(
        "  incremental: previous state + 1,000 new votes", more, previous_state=first.state
    )
    print(
        f"  k={second.k}, same groups kept: "
        f"{np.mean(second.group[: len(first.group)] == first.group):.3f} of the old participants"
    )


def large() -> None:
    start = time.perf_counter()
    big = planted_votes(1_000_000, 5_000, 50_000_000, random_state=4)
    print(
        f"1,000,000 x 5,000 x {len(big.values):,}: generated in "
        f"{time.perf_counter() - start:.1f} s, peak RSS {peak_rss_gb():.2f} GB"
    )
    result = timed(
        "  1M cold, Community Notes included", (big.participants, big.statements, big.values)
    )
    print(f"  k={result.k}, ARI vs planted {planted_ari(big, result):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also run 1M x 5,000 x 50M")
    parser.add_argument("--size", choices=["medium", "large"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size:
        {"medium": medium, "large": large}[args.size]()
        return
    for size in ["medium", "large"] if args.full else ["medium"]:
        subprocess.run([sys.executable, __file__, "--size", size], check=True)


if __name__ == "__main__":
    main()
