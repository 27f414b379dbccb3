"""Reader for Polis conversation export folders."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["ExportError", "PolisExport", "read_export"]

IntArray = npt.NDArray[np.int64]

_TRUE = {"1", "true", "t", "yes"}


class ExportError(ValueError):
    """Bad export input; ``str()`` is one line naming the file and line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class PolisExport:
    """Votes and statement flags of one exported conversation.

    Attributes
    ----------
    participants, statements : ndarray of int64 of shape (n_votes,)
    values : ndarray of int8 of shape (n_votes,)
        +1 agree, -1 disagree, 0 pass.
    timestamps : ndarray of int64 of shape (n_votes,)
        Vote time in ms; the row number when the export has no timestamps.
    moderated_out, meta : ndarray of int64
        Statement ids.
    """

    participants: IntArray
    statements: IntArray
    values: npt.NDArray[np.int8]
    timestamps: IntArray
    moderated_out: IntArray
    meta: IntArray

    def in_time_order(self) -> PolisExport:
        """The same votes sorted by time, ties in a canonical order, so replays are repeatable."""
        order = np.lexsort((self.values, self.statements, self.participants, self.timestamps))
        return PolisExport(
            self.participants[order],
            self.statements[order],
            self.values[order],
            self.timestamps[order],
            self.moderated_out,
            self.meta,
        )


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) and check the header."""
    if not path.is_file():
        raise ExportError(path, None, "file not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ExportError(path, 1, f"missing column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def _int(path: Path, line: int, row: dict[str, str], column: str) -> int:
    text = (row.get(column) or "").strip()
    try:
        return int(text)
    except ValueError:
        raise ExportError(path, line, f"{column} is not an integer: {text!r}") from None


def _vote(path: Path, line: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 2
    if value not in (-1, 0, 1):
        raise ExportError(path, line, f"vote must be -1, 0 or 1, got {text!r}")
    return value


def _read_votes(path: Path) -> tuple[list[int], list[int], list[int], list[int]]:
    pids: list[int] = []
    tids: list[int] = []
    values: list[int] = []
    times: list[int] = []
    for line, row in _rows(path, ("timestamp", "comment-id", "voter-id", "vote")):
        times.append(_int(path, line, row, "timestamp"))
        tids.append(_int(path, line, row, "comment-id"))
        pids.append(_int(path, line, row, "voter-id"))
        values.append(_vote(path, line, (row.get("vote") or "").strip()))
    return pids, tids, values, times


def _read_participant_votes(path: Path) -> tuple[list[int], list[int], list[int], list[int]]:
    pids: list[int] = []
    tids: list[int] = []
    values: list[int] = []
    times: list[int] = []
    fixed = ("participant", "group-id", "n-comments", "n-votes", "n-agree", "n-disagree")
    for line, row in _rows(path, fixed):
        pid = _int(path, line, row, "participant")
        for column, text in row.items():
            if column in fixed or column is None or not (text or "").strip():
                continue
            try:
                tid = int(column)
            except ValueError:
                raise ExportError(path, 1, f"unexpected column {column!r}") from None
            pids.append(pid)
            tids.append(tid)
            values.append(_vote(path, line, text.strip()))
            times.append(len(times))
    return pids, tids, values, times


def read_export(folder: str | Path) -> PolisExport:
    """Read ``votes.csv`` (or ``participants-votes.csv``) and ``comments.csv`` of an export.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    PolisExport

    Raises
    ------
    ExportError
        Missing file, missing column, non-integer id or a vote outside {-1, 0, 1}.
    """
    folder = Path(folder)
    votes_path = folder / "votes.csv"
    if votes_path.is_file():
        pids, tids, values, times = _read_votes(votes_path)
    else:
        pids, tids, values, times = _read_participant_votes(folder / "participants-votes.csv")
    comments = folder / "comments.csv"
    moderated, meta = [], []
    for line, row in _rows(comments, ("comment-id", "moderated")):
        tid = _int(comments, line, row, "comment-id")
        if _int(comments, line, row, "moderated") == -1:
            moderated.append(tid)
        if (row.get("is-meta") or "").strip().lower() in _TRUE:
            meta.append(tid)
    return PolisExport(
        np.asarray(pids, dtype=np.int64),
        np.asarray(tids, dtype=np.int64),
        np.asarray(values, dtype=np.int8),
        np.asarray(times, dtype=np.int64),
        np.asarray(moderated, dtype=np.int64),
        np.asarray(meta, dtype=np.int64),
    )
