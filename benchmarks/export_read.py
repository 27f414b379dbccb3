"""Reading a Polis export, and ``python -m clustering analyze`` as a whole process.

Writes a synthetic export (20,000 participants x 1,000 comments x 600,000 votes, planted
groups; ``--participants/--comments/--votes`` change it), then prints:

1. ``read_export`` on it (the reader the CLI and ``manage.py import_polis`` share), in this
   process, best of three;
2. ``python -m clustering analyze DIR`` as a whole process (imports, reading, the pipeline,
   writing the JSON to /dev/null), best of three;
3. red-dwarf 0.4.0's ``run_pipeline`` alone on the same votes (no reading, no imports, no
   output), and the ratio of (3) to (2): target >= 3x.

Needs the ``bench`` extra (red-dwarf==0.4.0). Usage:
``python benchmarks/export_read.py [--out DIR] [--skip-reddwarf]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clustering.polis_export import read_export  # noqa: E402
from clustering.synthetic import planted_votes  # noqa: E402


def write_synthetic(directory: Path, participants: int, comments: int, votes: int) -> None:
    data = planted_votes(participants, comments, votes, random_state=1)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.csv").write_text("topic,Synthetic\n", encoding="utf-8")
    (directory / "comments.csv").write_text(
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
        + "".join(f"1500000000000,,{c},0,0,0,1,Statement number {c}\n" for c in range(comments)),
        encoding="utf-8",
    )
    times = 1500000000000 + np.arange(len(data.values), dtype=np.int64) * 1000
    rows = np.char.add(
        np.char.add(times.astype("U"), ",,"),
        np.char.add(
            np.char.add(data.statements.astype("U"), ","),
            np.char.add(np.char.add(data.participants.astype("U"), ","), data.values.astype("U")),
        ),
    )
    (directory / "votes.csv").write_text(
        "timestamp,datetime,comment-id,voter-id,vote\n" + "\n".join(rows.tolist()) + "\n",
        encoding="utf-8",
    )


def best_of(runs: int, call: object) -> float:
    assert callable(call)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--comments", type=int, default=1_000)
    parser.add_argument("--votes", type=int, default=600_000)
    parser.add_argument("--out", type=Path, help="write the export here (default: a temp dir)")
    parser.add_argument("--skip-reddwarf", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.out or Path(tmp) / "export"
        write_synthetic(directory, args.participants, args.comments, args.votes)
        label = f"{args.participants:,} x {args.comments:,} x {args.votes:,}"
        read_s = best_of(3, lambda: read_export(directory))
        print(f"read_export ({label}): {read_s:.3f} s")

        def cli() -> None:
            subprocess.run(
                [sys.executable, "-m", "clustering", "analyze", str(directory)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                check=True,
            )

        cli_s = best_of(3, cli)
        print(f"python -m clustering analyze, whole process: {cli_s:.2f} s")
        if args.skip_reddwarf:
            return
        from reddwarf.implementations.polis import run_pipeline

        votes = read_export(directory).votes
        records = [
            {"participant_id": int(p), "statement_id": int(s), "vote": int(v), "modified": int(t)}
            for p, s, v, t in zip(
                votes.voter_ids, votes.comment_ids, votes.values, votes.created_ms, strict=True
            )
        ]
        reddwarf_s = best_of(1, lambda: run_pipeline(votes=records, random_state=0))
        print(f"red-dwarf run_pipeline alone: {reddwarf_s:.2f} s")
        print(f"ratio: {reddwarf_s / cli_s:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
