"""Polis's export format: the files, their columns, and reading them with file:line errors.

A Polis export folder holds ``comments.csv`` (one row per comment), ``votes.csv`` (one row
per vote event, re-votes included), ``participants-votes.csv`` (one row per participant with
their latest vote on every comment) and ``summary.csv`` (``key,value`` rows, no header).
Reading validates every cell before returning, so a caller can refuse a malformed folder as
a whole; the first problem is reported like a compiler error,
``path/votes.csv:17: vote must be -1, 0 or 1, got 2``.

Pure Python and numpy, so both the command line here and the Django importer (which adds
its own checks of comment text on top) read exports with this one reader.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "COMMENTS_COLUMNS",
    "COMMENTS_FILE",
    "PARTICIPANTS_VOTES_COLUMNS",
    "PARTICIPANTS_VOTES_FILE",
    "SUMMARY_DESCRIPTION",
    "SUMMARY_FILE",
    "SUMMARY_TOPIC",
    "VOTES_COLUMNS",
    "VOTES_FILE",
    "ExportError",
    "PolisComment",
    "PolisExport",
    "PolisVotes",
    "read_export",
]

IntArray = npt.NDArray[np.int64]

COMMENTS_FILE = "comments.csv"
VOTES_FILE = "votes.csv"
PARTICIPANTS_VOTES_FILE = "participants-votes.csv"
SUMMARY_FILE = "summary.csv"

COMMENTS_COLUMNS = (
    "timestamp",
    "datetime",
    "comment-id",
    "author-id",
    "agrees",
    "disagrees",
    "moderated",
    "comment-body",
    "is-meta",
    "is-seed",
)
COMMENTS_REQUIRED = ("timestamp", "comment-id", "author-id", "moderated", "comment-body")
VOTES_COLUMNS = ("timestamp", "datetime", "comment-id", "voter-id", "vote")
VOTES_REQUIRED = ("timestamp", "comment-id", "voter-id", "vote")
# participants-votes.csv: these columns, then one column per comment id.
PARTICIPANTS_VOTES_COLUMNS = (
    "participant",
    "group-id",
    "n-comments",
    "n-votes",
    "n-agree",
    "n-disagree",
)
SUMMARY_TOPIC = "topic"
SUMMARY_DESCRIPTION = "conversation-description"

_TERNARY = {"-1": -1, "0": 0, "1": 1}
# Ids and timestamps are stored as int64, in numpy and in the database.
_INT64_MAX = 2**63 - 1
_FLAG_VALUES = {"": False, "0": False, "false": False, "1": True, "true": True}


class ExportError(ValueError):
    """A malformed export file; ``str()`` is one line, ``path:line: problem``."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        location = str(path) if line is None else f"{path}:{line}"
        super().__init__(f"{location}: {problem}")


@dataclass(frozen=True, slots=True)
class PolisComment:
    """One row of ``comments.csv``; ``body`` is the cell as written."""

    line: int
    comment_id: int
    author_id: int | None
    created_ms: int
    moderated: int
    body: str
    is_meta: bool
    is_seed: bool


@dataclass(frozen=True)
class PolisVotes:
    """Vote events as parallel arrays, in file order.

    ``lines`` is where each event was read, which also breaks ties between events with one
    timestamp: the later line wins, as in Polis.
    """

    lines: IntArray
    created_ms: IntArray
    comment_ids: IntArray
    voter_ids: IntArray
    values: IntArray

    def chronological(self) -> npt.NDArray[np.intp]:
        """Event positions from the earliest to the latest (ties in file order)."""
        return np.lexsort((self.lines, self.created_ms))


@dataclass(frozen=True)
class PolisExport:
    directory: Path
    topic: str
    description: str
    comments: tuple[PolisComment, ...]
    votes: PolisVotes
    votes_file: str

    def path(self, name: str) -> Path:
        return self.directory / name

    @property
    def moderated_out(self) -> IntArray:
        """Ids of the comments moderated out (``moderated`` is -1)."""
        return np.array([c.comment_id for c in self.comments if c.moderated == -1], np.int64)

    @property
    def meta(self) -> IntArray:
        """Ids of the meta comments."""
        return np.array([c.comment_id for c in self.comments if c.is_meta], np.int64)


def read_export(directory: str | Path) -> PolisExport:
    """Read and validate a whole export folder, or raise ExportError for its first fault.

    ``votes.csv`` is read when present; otherwise ``participants-votes.csv``, whose cells
    carry no time, so each of its votes is dated with its comment's timestamp (the earliest
    moment the vote can have been cast, and the same on every run).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ExportError(directory, None, "not a folder")
    topic, description = _read_summary(directory / SUMMARY_FILE)
    comments = _read_comments(directory / COMMENTS_FILE)
    by_id = {comment.comment_id: comment for comment in comments}
    if (directory / VOTES_FILE).exists():
        votes = _read_votes(directory / VOTES_FILE, by_id)
        votes_file = VOTES_FILE
    elif (directory / PARTICIPANTS_VOTES_FILE).exists():
        votes = _read_participants_votes(directory / PARTICIPANTS_VOTES_FILE, by_id)
        votes_file = PARTICIPANTS_VOTES_FILE
    else:
        raise ExportError(
            directory / VOTES_FILE, None, f"missing, and there is no {PARTICIPANTS_VOTES_FILE}"
        )
    return PolisExport(
        directory=directory,
        topic=topic,
        description=description,
        comments=comments,
        votes=votes,
        votes_file=votes_file,
    )


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) for each non-blank record; quoted cells may span lines."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            start = 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    raise ExportError(path, reader.line_num, str(error)) from None
                if any(cell.strip() for cell in row):
                    yield start, row
                start = reader.line_num + 1
    except FileNotFoundError:
        raise ExportError(path, None, "missing") from None
    except UnicodeDecodeError as error:
        raise ExportError(path, None, f"not UTF-8 text ({error.reason})") from None


def _shown(text: str) -> str:
    """A bad value as the message shows it: numbers bare (``got 2``), the rest quoted."""
    return text if text.lstrip("-").isdigit() else repr(text)


class _Table:
    """A CSV file with a header row, read cell by cell with located errors."""

    def __init__(self, path: Path, required: Sequence[str]) -> None:
        self.path = path
        self._records = _records(path)
        first = next(self._records, None)
        if first is None:
            raise ExportError(path, 1, "empty file, expected a header row")
        self.header_line, header = first
        self.header = [cell.strip() for cell in header]
        missing = [name for name in required if name not in self.header]
        if missing:
            raise self.error(self.header_line, f"missing column(s): {', '.join(missing)}")
        self.index = {name: position for position, name in enumerate(self.header)}

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        for line, row in self._records:
            if len(row) != len(self.header):
                raise self.error(
                    line, f"has {len(row)} cells but the header has {len(self.header)}"
                )
            yield line, row

    def error(self, line: int, problem: str) -> ExportError:
        return ExportError(self.path, line, problem)

    def integer(self, line: int, row: list[str], column: str) -> int:
        """A non-negative integer cell: every integer column in Polis's files is an id or a
        timestamp."""
        text = row[self.index[column]].strip()
        if not (text.isascii() and text.isdigit()):
            raise self.error(line, f"{column} must be a non-negative integer, got {text!r}")
        value = int(text)
        if value > _INT64_MAX:
            raise self.error(line, f"{column} must be at most {_INT64_MAX}, got {text}")
        return value

    def ternary(self, line: int, row: list[str], column: str) -> int:
        """A -1 / 0 / 1 cell (a vote, a moderation decision)."""
        text = row[self.index[column]].strip()
        value = _TERNARY.get(text)
        if value is None:
            raise self.error(line, f"{column} must be -1, 0 or 1, got {_shown(text)}")
        return value

    def flag(self, line: int, row: list[str], column: str) -> bool:
        if column not in self.index:
            return False
        text = row[self.index[column]].strip().lower()
        if text not in _FLAG_VALUES:
            raise self.error(line, f"{column} must be 1, 0, true, false or empty, got {text!r}")
        return _FLAG_VALUES[text]


def _read_summary(path: Path) -> tuple[str, str]:
    """(topic, description); both empty when there is no summary.csv.

    The file is ``key,value`` rows; keys Agora has no use for (url, views, counts) are
    skipped.
    """
    if not path.exists():
        return "", ""
    values: dict[str, str] = {}
    for line, row in _records(path):
        if len(row) != 2:
            raise ExportError(path, line, f"expected 'key,value', got {len(row)} cells")
        values[row[0].strip()] = row[1].strip()
    return values.get(SUMMARY_TOPIC, ""), values.get(SUMMARY_DESCRIPTION, "")


def _read_comments(path: Path) -> tuple[PolisComment, ...]:
    table = _Table(path, COMMENTS_REQUIRED)
    comments: list[PolisComment] = []
    first_line: dict[int, int] = {}
    for line, row in table.rows():
        comment_id = table.integer(line, row, "comment-id")
        if comment_id in first_line:
            raise table.error(
                line,
                f"comment-id {comment_id} appears twice (first on line {first_line[comment_id]})",
            )
        first_line[comment_id] = line
        author = row[table.index["author-id"]].strip()
        comments.append(
            PolisComment(
                line=line,
                comment_id=comment_id,
                author_id=table.integer(line, row, "author-id") if author else None,
                created_ms=table.integer(line, row, "timestamp"),
                moderated=table.ternary(line, row, "moderated"),
                body=row[table.index["comment-body"]],
                is_meta=table.flag(line, row, "is-meta"),
                is_seed=table.flag(line, row, "is-seed"),
            )
        )
    return tuple(comments)


def _vote_arrays(events: list[tuple[int, int, int, int, int]]) -> PolisVotes:
    matrix = np.array(events, dtype=np.int64).reshape(-1, 5)
    return PolisVotes(
        lines=matrix[:, 0],
        created_ms=matrix[:, 1],
        comment_ids=matrix[:, 2],
        voter_ids=matrix[:, 3],
        values=matrix[:, 4],
    )


def _read_votes(path: Path, comments: dict[int, PolisComment]) -> PolisVotes:
    fast = _read_votes_fast(path, comments)
    if fast is not None:
        return fast
    table = _Table(path, VOTES_REQUIRED)
    events: list[tuple[int, int, int, int, int]] = []
    for line, row in table.rows():
        comment_id = table.integer(line, row, "comment-id")
        if comment_id not in comments:
            raise table.error(line, f"comment-id {comment_id} is not in {COMMENTS_FILE}")
        events.append(
            (
                line,
                table.integer(line, row, "timestamp"),
                comment_id,
                table.integer(line, row, "voter-id"),
                table.ternary(line, row, "vote"),
            )
        )
    return _vote_arrays(events)


def _read_votes_fast(path: Path, comments: dict[int, PolisComment]) -> PolisVotes | None:
    """The votes of a plain, valid ``votes.csv``, parsed column-wise; None for any other file.

    Exports are hundreds of thousands of rows of plain digits: located and converted by numpy
    over the file's bytes, they read many times faster than cell by cell in Python. Anything
    this path does not accept as it stands (quotes, blank lines, padding, a bad cell) is read
    again by the row-by-row reader, which accepts exactly what it accepted before and names
    the file and line of the first fault.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    data = data.removeprefix(b"\xef\xbb\xbf")
    end = data.find(b"\n")
    if end < 0 or b'"' in data or b"\r" in data:
        return None
    header = [cell.strip() for cell in data[:end].decode("utf-8", "replace").split(",")]
    if any(name not in header for name in VOTES_REQUIRED):
        return None
    width = len(header)
    body = data[end + 1 :].rstrip(b"\n") + b"\n"
    raw = np.frombuffer(body, dtype=np.uint8)
    separators = np.flatnonzero((raw == ord(",")) | (raw == ord("\n")))
    # Every row is width cells: commas, then a newline as the last separator of each row. A
    # blank line or a row of another width breaks the pattern.
    row_ends = np.arange(len(separators)) % width == width - 1
    if len(separators) % width or not np.array_equal(raw[separators] == ord("\n"), row_ends):
        return None
    starts = np.concatenate(([0], separators[:-1] + 1))
    lengths = separators - starts

    def digits(name: str) -> IntArray | None:
        column = header.index(name)
        end, length = separators[column::width], lengths[column::width]
        # 1 to 18 digits: inside int64, so the sum below cannot overflow.
        if len(length) == 0 or length.min() < 1 or length.max() > 18:
            return None
        value = np.zeros(len(end), dtype=np.int64)
        bad = np.zeros(len(end), dtype=bool)
        # Right to left, one decimal place at a time across the whole column.
        for place in range(int(length.max())):
            present = length > place
            digit = raw[end - 1 - place].astype(np.int64) - ord("0")
            bad |= present & ((digit < 0) | (digit > 9))
            value += np.where(present, digit, 0) * 10**place
        return None if bad.any() else value

    created_ms, comment_ids, voter_ids = (
        digits(name) for name in ("timestamp", "comment-id", "voter-id")
    )
    column = header.index("vote")
    start, length = starts[column::width], lengths[column::width]
    first = raw[start]
    second = raw[np.minimum(start + 1, len(raw) - 1)]
    one_char = (length == 1) & ((first == ord("0")) | (first == ord("1")))
    minus_one = (length == 2) & (first == ord("-")) & (second == ord("1"))
    if created_ms is None or comment_ids is None or voter_ids is None:
        return None
    if not (one_char | minus_one).all():
        return None
    if not np.isin(comment_ids, np.fromiter(comments, np.int64, len(comments))).all():
        return None
    return PolisVotes(
        # The header is line 1 and no record spans lines.
        lines=np.arange(2, len(start) + 2, dtype=np.int64),
        created_ms=created_ms,
        comment_ids=comment_ids,
        voter_ids=voter_ids,
        values=np.where(minus_one, -1, first.astype(np.int64) - ord("0")),
    )


def _read_participants_votes(path: Path, comments: dict[int, PolisComment]) -> PolisVotes:
    table = _Table(path, PARTICIPANTS_VOTES_COLUMNS[:1])
    comment_columns: list[tuple[int, PolisComment]] = []
    for position, name in enumerate(table.header):
        if name in PARTICIPANTS_VOTES_COLUMNS:
            continue
        try:
            comment = comments[int(name)]
        except (ValueError, KeyError):
            raise table.error(
                table.header_line,
                f"column {name!r} is neither a known column nor a comment id in {COMMENTS_FILE}",
            ) from None
        comment_columns.append((position, comment))
    events: list[tuple[int, int, int, int, int]] = []
    first_line: dict[int, int] = {}
    for line, row in table.rows():
        voter_id = table.integer(line, row, "participant")
        if voter_id in first_line:
            raise table.error(
                line, f"participant {voter_id} appears twice (first on line {first_line[voter_id]})"
            )
        first_line[voter_id] = line
        for position, comment in comment_columns:
            cell = row[position].strip()
            if not cell:
                continue
            value = _TERNARY.get(cell)
            if value is None:
                raise table.error(
                    line,
                    f"vote on comment {comment.comment_id} must be -1, 0 or 1, got {_shown(cell)}",
                )
            events.append((line, comment.created_ms, comment.comment_id, voter_id, value))
    return _vote_arrays(events)
