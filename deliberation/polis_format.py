"""Polis's export format on the Django side: reading an export through
``clustering.polis_export`` (the one reader, pure), and writing exports back.

Reading validates every cell before anyone writes anything, so an importer can refuse a
malformed folder as a whole; the first problem is reported like a compiler error,
``path/votes.csv:17: vote must be -1, 0 or 1, got 2``. Comment texts are the importer's to
judge (deliberation.services.polis_import).
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clustering.polis_export import ExportError, PolisExport, read_export
from deliberation.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class PolisFormatError(InvalidInput):
    """A malformed export file, located as ``path:line: problem``."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        location = str(path) if line is None else f"{path}:{line}"
        super().__init__(f"{location}: {problem}")


def ms_to_datetime(milliseconds: int) -> datetime:
    """A Polis timestamp (milliseconds since the epoch) as an aware UTC datetime.

    Integer arithmetic, not ``fromtimestamp(ms / 1000)``: the float division can land a
    microsecond off, and an import compares timestamps for equality to stay idempotent.
    """
    return _EPOCH + milliseconds * _MILLISECOND


def datetime_to_ms(moment: datetime) -> int:
    """An aware datetime as a Polis timestamp (milliseconds since the epoch, truncated)."""
    return (moment - _EPOCH) // _MILLISECOND


def datetime_text(moment: datetime) -> str:
    """The human-readable ``datetime`` column, in Polis's layout but always in UTC."""
    return moment.astimezone(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def polis_read(directory: Path) -> PolisExport:
    """Read and validate a whole export folder, or raise PolisFormatError for its first fault.

    Comment bodies come back as written: a body that cannot be a statement as it is (Polis
    exports empty and over-long comments, moderated out) is the importer's to keep as best
    it can, never a reason to refuse the folder.
    """
    try:
        return read_export(directory)
    except ExportError as error:
        raise PolisFormatError(error.path, error.line, error.problem) from None


def polis_csv_bytes(header: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> bytes:
    """One CSV file as UTF-8 bytes, ``\\n``-terminated like Polis's own exports."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
