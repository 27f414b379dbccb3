"""How well bridging forecasts a statement's per-group agreement, on the real conversations.

    python benchmarks/forecast_calibration.py

For each Polis conversation in data/polis: the groups come from the clustering (as a
snapshot would compute them); every accepted, non-meta statement with at least
MIN_GROUP_VOTES votes in every group is forecast from its neighbours, itself left out, by
the same function bridging uses (``forecast_from_neighbours``, local embedding model). The
mean absolute error of the forecast p_hat_g against the real smoothed agreement p_g is
printed beside the baseline of each group's mean agreement over the other statements, with
how many statements had a forecast at all (the rest have "no forecast"), and the share of
real agreements inside the forecast +/- one standard deviation.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from clustering import analyze  # noqa: E402
from clustering.polis_export import read_export  # noqa: E402
from deliberation.assistant.bridging import (  # noqa: E402
    MIN_GROUP_VOTES,
    forecast_from_neighbours,
)
from deliberation.assistant.duplicates import duplicate_thresholds  # noqa: E402
from deliberation.assistant.embeddings import LOCAL, local_embedder  # noqa: E402

DATA = ROOT / "data" / "polis"


def calibrate(name: str) -> None:
    export = read_export(DATA / name)
    votes = export.votes
    analysis = analyze(
        (votes.voter_ids, votes.comment_ids, votes.values), moderated_out=export.moderated_out
    )
    group_of = dict(zip(analysis.participant_ids.tolist(), analysis.group.tolist(), strict=True))
    groups = sorted({g for g in group_of.values() if g >= 0})
    tallies: dict[int, dict[int, list[int]]] = {}
    for pid, sid, value in zip(votes.voter_ids, votes.comment_ids, votes.values, strict=True):
        group = group_of.get(int(pid), -1)
        if group < 0:
            continue
        tally = tallies.setdefault(int(sid), {}).setdefault(group, [0, 0])
        tally[0] += int(value == 1)
        tally[1] += 1
    moderated_out = set(export.moderated_out.tolist())
    usable = [
        comment
        for comment in export.comments
        if comment.comment_id not in moderated_out
        and not comment.is_meta
        and all(
            tallies.get(comment.comment_id, {}).get(g, [0, 0])[1] >= MIN_GROUP_VOTES for g in groups
        )
    ]
    started = time.perf_counter()
    vectors = local_embedder().embed([comment.body for comment in usable])
    embed_ms = 1000 * (time.perf_counter() - started) / max(len(usable), 1)
    similarity = vectors @ vectors.T
    ids = [comment.comment_id for comment in usable]
    agreement = [{g: (tallies[sid][g][0], tallies[sid][g][1]) for g in groups} for sid in ids]
    real = np.asarray(
        [
            [(agreement[i][g][0] + 1) / (agreement[i][g][1] + 2) for g in groups]
            for i in range(len(ids))
        ]
    )
    related = duplicate_thresholds(LOCAL).related
    errors, baseline_errors, inside = [], [], []
    for i in range(len(ids)):
        others = [j for j in range(len(ids)) if j != i]
        forecast = forecast_from_neighbours(
            similarities=[float(similarity[i, j]) for j in others],
            agreement=[agreement[j] for j in others],
            neighbour_ids=[ids[j] for j in others],
            related=related,
        )
        if not forecast.groups:
            continue
        baseline = real[others].mean(axis=0)
        for column, g in enumerate(groups):
            errors.append(abs(forecast.groups[g] - real[i, column]))
            baseline_errors.append(abs(baseline[column] - real[i, column]))
            inside.append(abs(forecast.groups[g] - real[i, column]) <= forecast.spread[g])
    verdict = "beats" if np.mean(errors) < np.mean(baseline_errors) else "does NOT beat"
    print(
        f"{name}: k={len(groups)}, {len(usable)} statements with >= {MIN_GROUP_VOTES} votes "
        f"in every group, {len(errors) // max(len(groups), 1)} with a forecast "
        f"({embed_ms:.0f} ms per statement to embed)\n"
        f"   MAE forecast {np.mean(errors):.3f} vs baseline (group mean) "
        f"{np.mean(baseline_errors):.3f}: the forecast {verdict} the baseline; "
        f"real agreement within +/- 1 sd: {np.mean(inside):.0%}"
    )


def main() -> None:
    for name in sorted(path.name for path in DATA.iterdir() if path.is_dir()):
        calibrate(name)


if __name__ == "__main__":
    main()
