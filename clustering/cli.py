"""Command line: ``python -m clustering analyze EXPORT_DIR [--seed N] [--max-k K] [--replay N]
[--reproduce-polis]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from clustering.pipeline import Analysis, Options, analyze
from clustering.polis_export import ExportError, PolisExport, read_export

__all__ = ["analyze_export", "main"]


def analyze_export(
    export: PolisExport, options: Options | None = None, replay: int | None = None
) -> Analysis:
    """Analyse an export in one run, or replay it as a live deployment would.

    Parameters
    ----------
    export : PolisExport
    options : Options, optional
    replay : int, optional
        Replay the votes in time order in batches of this many votes, carrying the state from
        run to run, and return the final run.

    Returns
    -------
    Analysis
    """
    flags: dict[str, Any] = {
        "moderated_out": export.moderated_out,
        "meta": export.meta,
        "options": options,
    }
    order = export.votes.chronological()
    votes: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8]] = (
        export.votes.voter_ids[order],
        export.votes.comment_ids[order],
        export.votes.values[order].astype(np.int8),
    )
    n_votes = len(order)
    if not replay or replay >= n_votes:
        return analyze(votes, **flags)
    # Only the final run is reported: earlier runs just carry the state forward, so they skip
    # the Community Notes fit, which is not part of the state that shapes the groups.
    carry = replace(options or Options(), community_notes=False)
    state: dict[str, Any] | None = None
    for end in range(replay, n_votes, replay):
        prefix = (votes[0][:end], votes[1][:end], votes[2][:end])
        state = analyze(prefix, previous_state=state, **{**flags, "options": carry}).state
    return analyze(votes, previous_state=state, **flags)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m clustering")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("analyze", help="analyse a Polis export folder")
    command.add_argument("export_dir")
    command.add_argument("--seed", type=int, default=0, help="random state (default 0)")
    command.add_argument("--max-k", type=_positive, default=5, help="largest k (default 5)")
    command.add_argument(
        "--replay", type=_positive, help="replay votes in time order in batches of N"
    )
    command.add_argument(
        "--reproduce-polis",
        action="store_true",
        help="reproduce Polis's groups, quirks included (moderated-out statements count as "
        "voted, 20 group k-means iterations), e.g. to compare with an export's group-id",
    )
    args = parser.parse_args(argv)
    try:
        export = read_export(args.export_dir)
    except ExportError as error:
        print(error, file=sys.stderr)
        return 2
    options = Options.reproduce_polis if args.reproduce_polis else Options
    result = analyze_export(export, options(random_state=args.seed, max_k=args.max_k), args.replay)
    # One write: json.dump would issue one per token, hundreds of thousands of them.
    sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False) + "\n")
    return 0
