"""Agora's clustering against red-dwarf 0.4.0's ``run_pipeline`` on the same votes, same run.

Prints both wall times, the speed ratio (target >= 10x) and, on synthetic data with planted
opinion groups, the ARI of each against the planted groups (target >= 0.95).
Needs the ``bench`` extra (red-dwarf==0.4.0). Usage: ``python benchmarks/clustering_vs_reddwarf.py``
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from reddwarf.implementations.polis import run_pipeline
from sklearn.metrics import adjusted_rand_score

from clustering import analyze
from clustering.polis_export import read_export
from clustering.synthetic import planted_votes

DATA = Path(__file__).resolve().parents[1] / "data" / "polis"


IntArray = npt.NDArray[np.int64]


def compare(
    label: str,
    pids: IntArray,
    sids: IntArray,
    values: npt.NDArray[np.integer[Any]],
    times: IntArray,
    moderated: IntArray,
    planted: npt.NDArray[np.integer[Any]] | None = None,
) -> None:
    # red-dwarf cannot pivot re-votes, so both engines get the last vote per pair.
    key = pids * (int(sids.max()) + 1) + sids
    _, last_reversed = np.unique(key[::-1], return_index=True)
    keep = np.sort(len(key) - 1 - last_reversed)
    pids, sids, values, times = pids[keep], sids[keep], values[keep], times[keep]
    records = [
        {"participant_id": int(p), "statement_id": int(s), "vote": int(v), "modified": int(t)}
        for p, s, v, t in zip(pids, sids, values, times, strict=True)
    ]
    start = time.perf_counter()
    theirs = run_pipeline(votes=records, mod_out_statement_ids=list(moderated), random_state=0)
    reddwarf_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = analyze((pids, sids, values), moderated_out=moderated)
    agora_s = time.perf_counter() - start
    print(
        f"{label}: red-dwarf {reddwarf_s:.2f} s, agora {agora_s:.3f} s, "
        f"ratio {reddwarf_s / agora_s:.1f}x; agora k={ours.k} sizes "
        f"{sorted(ours.metrics.group_sizes.values(), reverse=True)}"
    )
    if planted is not None:
        grouped = ours.group >= 0
        ari_ours = adjusted_rand_score(planted[ours.participant_ids[grouped]], ours.group[grouped])
        frame = theirs.participants_df
        clustered = frame[frame["cluster_id"].notna()]
        ari_theirs = adjusted_rand_score(
            planted[clustered.index.to_numpy(dtype=np.int64)],
            clustered["cluster_id"].to_numpy(dtype=np.int64),
        )
        print(f"{label}: ARI vs planted groups: agora {ari_ours:.3f}, red-dwarf {ari_theirs:.3f}")


def main() -> None:
    export = read_export(DATA / "vtaiwan.uberx")
    votes = export.votes
    order = votes.chronological()
    compare(
        "vtaiwan.uberx",
        votes.voter_ids[order],
        votes.comment_ids[order],
        votes.values[order],
        votes.created_ms[order],
        export.moderated_out,
    )
    data = planted_votes(20_000, 1_000, 600_000, random_state=1)
    compare(
        "synthetic 20,000 x 1,000 x 600,000",
        data.participants,
        data.statements,
        data.values,
        np.arange(len(data.values)),
        np.empty(0, np.int64),
        data.groups,
    )


if __name__ == "__main__":
    main()
