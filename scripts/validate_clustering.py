"""Print ARI against Polis's groups, k and group sizes for every real conversation and mode.

Every conversation runs with Agora's defaults ("agora": Polis's defects fixed) and with
``Options.reproduce_polis`` ("polis": its quirks kept, as in the exports), each as a single run
and replayed in batches of N votes.
Usage: ``python scripts/validate_clustering.py [--replay N] [--seed N]``
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

from sklearn.metrics import adjusted_rand_score

from clustering import Options
from clustering.cli import analyze_export
from clustering.polis_export import read_export

DATA = Path(__file__).resolve().parents[1] / "data" / "polis"
CONVERSATIONS = ["vtaiwan.uberx", "scoop-hivemind.biodiversity", "15-per-hour-seattle"]


def polis_groups(folder: Path) -> dict[int, int]:
    with (folder / "participants-votes.csv").open(newline="") as handle:
        return {
            int(row["participant"]): int(row["group-id"])
            for row in csv.DictReader(handle)
            if row["group-id"]
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replay", type=int, default=50, help="batch size of the replay mode")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{'conversation':30} {'options':7} {'mode':10} {'ARI':>6} {'k':>2}  "
        f"{'in-conv = Polis':15} sizes"
    )
    for name in CONVERSATIONS:
        export = read_export(DATA / name)
        reference = polis_groups(DATA / name)
        polis_sizes = sorted(
            (list(reference.values()).count(g) for g in set(reference.values())), reverse=True
        )
        for (label, options), (mode, replay) in itertools.product(
            (("agora", Options), ("polis", Options.reproduce_polis)),
            (("single", None), (f"replay {args.replay}", args.replay)),
        ):
            start = time.perf_counter()
            result = analyze_export(export, options(random_state=args.seed), replay)
            elapsed = time.perf_counter() - start
            ours = dict(zip(result.participant_ids.tolist(), result.group.tolist(), strict=True))
            both = [p for p in reference if ours.get(p, -1) >= 0]
            score = adjusted_rand_score([reference[p] for p in both], [ours[p] for p in both])
            same_set = set(result.participant_ids[result.in_conv].tolist()) == set(reference)
            sizes = sorted(result.metrics.group_sizes.values(), reverse=True)
            print(
                f"{name:30} {label:7} {mode:10} {score:6.3f} {result.k:2d}  {same_set!s:15} "
                f"ours {sizes} polis {polis_sizes} ({elapsed:.1f} s)"
            )


if __name__ == "__main__":
    main()
