"""Agreement with Polis on real exports (data/polis, CC BY 4.0)."""

import csv
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering import Analysis, Options
from clustering.cli import analyze_export
from clustering.polis_export import read_export

DATA = Path(__file__).resolve().parents[2] / "data" / "polis"
CONVERSATIONS = ["vtaiwan.uberx", "scoop-hivemind.biodiversity"]
# Polis reran its math every few votes: batches of 50 votes stand for that (and reproduce its
# in-conv top-ups); scripts/validate_clustering.py prints other batch sizes too.
REPLAY = 50


def polis_groups(name: str) -> dict[int, int]:
    with (DATA / name / "participants-votes.csv").open(newline="") as handle:
        return {
            int(row["participant"]): int(row["group-id"])
            for row in csv.DictReader(handle)
            if row["group-id"]
        }


@cache
def run(name: str, replay: int | None) -> Analysis:
    # The export's groups come from Polis's worker, quirks included: compare like with like.
    options = Options.reproduce_polis(community_notes=False)
    return analyze_export(read_export(DATA / name), options, replay)


def ari(result: Analysis, reference: dict[int, int]) -> float:
    ours = dict(zip(result.participant_ids.tolist(), result.group.tolist(), strict=True))
    both = [p for p in reference if ours.get(p, -1) >= 0]
    return float(adjusted_rand_score([reference[p] for p in both], [ours[p] for p in both]))


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_replayed_in_conv_set_is_exactly_polis_grouped_set(name: str) -> None:
    result = run(name, REPLAY)
    ours = set(result.participant_ids[result.in_conv].tolist())
    assert ours == set(polis_groups(name))


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_groups_have_at_least_two_members(name: str) -> None:
    assert min(run(name, None).metrics.group_sizes.values()) >= 2


@pytest.mark.parametrize("replay", [None, REPLAY])
@pytest.mark.parametrize("name", CONVERSATIONS)
def test_groups_agree_with_polis(name: str, replay: int | None) -> None:
    assert ari(run(name, replay), polis_groups(name)) >= 0.9


def test_shuffled_votes_csv_changes_nothing(tmp_path: Path) -> None:
    source = DATA / "15-per-hour-seattle"
    lines = (source / "votes.csv").read_text().splitlines()
    order = np.random.default_rng(0).permutation(len(lines) - 1) + 1
    target = tmp_path / "export"
    target.mkdir()
    (target / "comments.csv").write_text((source / "comments.csv").read_text())
    (target / "votes.csv").write_text("\n".join([lines[0], *(lines[i] for i in order)]) + "\n")
    original = analyze_export(read_export(source)).to_dict()
    shuffled = analyze_export(read_export(target)).to_dict()
    original.pop("timings_ms"), shuffled.pop("timings_ms")
    assert shuffled == original
