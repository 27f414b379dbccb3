"""Exporting a conversation in Polis's export format.

The files carry Polis ids: an imported participant's ``xid`` and an imported statement's
``external_id`` when they are Polis ids (canonical non-negative integers), so that
import → export → import gives back the same conversation. Rows that have no Polis id
(people and statements that came through Agora itself) are numbered after the largest
Polis id in use, in database order, so they can never take an imported row's id.

Exports are deterministic: the same database gives the same bytes.

Two audiences. The operator's ``export_polis`` command writes everything (every status,
original ids) so a conversation round-trips whole. The report's public bundle
(``public=True``) holds only what moderators approved: accepted statements and the votes on
them; participants appear under per-export numbers (``participant_pseudonyms``), never their
xid or database id.
"""

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from django.db.models import Min

from clustering.polis_export import (
    COMMENTS_COLUMNS,
    COMMENTS_FILE,
    PARTICIPANTS_VOTES_COLUMNS,
    PARTICIPANTS_VOTES_FILE,
    SUMMARY_DESCRIPTION,
    SUMMARY_FILE,
    SUMMARY_TOPIC,
    VOTES_COLUMNS,
    VOTES_FILE,
)
from deliberation.models import (
    Conversation,
    Participant,
    Statement,
    StatementStatus,
    Vote,
    VoteEvent,
)
from deliberation.polis_format import datetime_text, datetime_to_ms, polis_csv_bytes

_MODERATED_BY_STATUS = {
    StatementStatus.ACCEPTED: 1,
    StatementStatus.PENDING: 0,
    StatementStatus.REJECTED: -1,
}


def polis_ids(rows: Iterable[tuple[int, str | None]]) -> dict[int, int]:
    """Database id → Polis id for (database id, external id) pairs.

    An external id that is a canonical non-negative integer ("7", not "007" or "alice") is
    kept; every other row gets the next id after the largest kept one, in database order.
    """
    kept: dict[int, int] = {}
    others: list[int] = []
    for pk, external in rows:
        if external is not None and external.isascii() and external.isdigit():
            number = int(external)
            if str(number) == external:
                kept[pk] = number
                continue
        others.append(pk)
    next_id = max(kept.values(), default=-1) + 1
    ids = dict(kept)
    for offset, pk in enumerate(sorted(others)):
        ids[pk] = next_id + offset
    return ids


def participant_pseudonyms(*, conversation: Conversation, watermark: int | None) -> dict[int, int]:
    """Participant database id → the number public exports give them, as Polis numbers its
    pids: 0..N-1 in the order people first voted (up to ``watermark``), then the authors of
    accepted statements who never voted, by arrival. Stable for one snapshot; it says
    nothing about anyone beyond when they arrived."""
    events = VoteEvent.objects.filter(conversation=conversation)
    if watermark is not None:
        events = events.filter(id__lte=watermark)
    voters = [
        pk
        for pk, _ in events.values_list("participant_id")
        .annotate(first=Min("id"))
        .order_by("first")
        .values_list("participant_id", "first")
    ]
    numbers = {pk: number for number, pk in enumerate(voters)}
    authors = (
        Statement.objects.filter(
            conversation=conversation,
            status=StatementStatus.ACCEPTED,
            author_participant__isnull=False,
        )
        .exclude(author_participant_id__in=numbers)
        .values_list("author_participant_id", flat=True)
        .distinct()
        .order_by("author_participant_id")
    )
    for pk in authors:
        numbers[pk] = len(numbers)
    return numbers


# What a spreadsheet would run as a formula (OWASP's list), and a plain number, which it
# would not and which must stay a number (votes of -1).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def spreadsheet_safe_csv(content: bytes) -> bytes:
    """The same CSV with every cell a spreadsheet would evaluate made inert by a leading
    apostrophe. For people opening the files in Excel or LibreOffice; the Polis bundle keeps
    the raw text, which import needs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in csv.reader(io.StringIO(content.decode("utf-8"), newline="")):
        writer.writerow(
            "'" + cell if cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell) else cell
            for cell in row
        )
    return buffer.getvalue().encode("utf-8")


def polis_export_files(
    *,
    conversation: Conversation,
    groups: Mapping[int, int] | None = None,
    watermark: int | None = None,
    public: bool = False,
) -> dict[str, bytes]:
    """The export as ``{file name: CSV bytes}``: comments.csv, votes.csv,
    participants-votes.csv and summary.csv.

    ``groups`` maps participant database ids to opinion-group ids (from a clustering
    snapshot) for participants-votes.csv's ``group-id`` column; without it the column is
    empty, as Polis leaves it for participants it did not place in a group.
    ``watermark`` freezes the votes at a snapshot: only vote events up to that id, and the
    latest votes as they stood then. Statements and their statuses are today's.
    ``public``: accepted statements and the votes on them only, participants numbered by
    ``participant_pseudonyms`` (see the module docstring).
    """
    statement_query = Statement.objects.filter(conversation=conversation)
    if public:
        participant_ids = participant_pseudonyms(conversation=conversation, watermark=watermark)
        statement_query = statement_query.filter(status=StatementStatus.ACCEPTED)
    else:
        participant_ids = polis_ids(
            Participant.objects.filter(conversation=conversation).values_list("id", "xid")
        )
    statements = list(
        statement_query.values_list(
            "id",
            "external_id",
            "author_participant_id",
            "status",
            "is_meta",
            "is_seed",
            "created_at",
            "text",
        )
    )
    statement_ids = polis_ids((row[0], row[1]) for row in statements)
    event_query = VoteEvent.objects.filter(conversation=conversation)
    vote_query = Vote.objects.filter(conversation=conversation)
    if public:
        event_query = event_query.filter(statement__status=StatementStatus.ACCEPTED)
        vote_query = vote_query.filter(statement__status=StatementStatus.ACCEPTED)
    if watermark is not None:
        event_query = event_query.filter(id__lte=watermark)
    event_rows = list(
        event_query.values_list("id", "participant_id", "statement_id", "created_at", "value")
    )
    if watermark is None:
        latest = {
            (participant_ids[participant], statement_ids[statement]): value
            for participant, statement, value in vote_query.values_list(
                "participant_id", "statement_id", "value"
            )
        }
    else:
        # As the importer decides: the latest event wins, the later one on a tie.
        latest = {
            (participant_ids[participant], statement_ids[statement]): value
            for _, participant, statement, _, value in sorted(
                event_rows, key=lambda row: (row[3], row[0])
            )
        }
    agrees = Counter(comment for (_, comment), value in latest.items() if value == 1)
    disagrees = Counter(comment for (_, comment), value in latest.items() if value == -1)

    comments = sorted(
        (
            statement_ids[pk],
            author,
            status,
            is_meta,
            is_seed,
            created_at,
            text,
        )
        for pk, _, author, status, is_meta, is_seed, created_at, text in statements
    )
    comment_rows = [
        (
            datetime_to_ms(created_at),
            datetime_text(created_at),
            comment_id,
            participant_ids[author] if author is not None else "",
            agrees[comment_id],
            disagrees[comment_id],
            _MODERATED_BY_STATUS[StatementStatus(status)],
            text,
            int(is_meta),
            int(is_seed),
        )
        for comment_id, author, status, is_meta, is_seed, created_at, text in comments
    ]

    events = sorted(
        (statement_ids[statement], participant_ids[participant], created_at, pk, value)
        for pk, participant, statement, created_at, value in event_rows
    )
    vote_rows = [
        (datetime_to_ms(created_at), datetime_text(created_at), comment, voter, value)
        for comment, voter, created_at, _, value in events
    ]

    comment_ids = [row[0] for row in comments]
    authored = Counter(participant_ids[author] for _, author, *_ in comments if author is not None)
    by_participant: dict[int, dict[int, int]] = {pid: {} for pid in participant_ids.values()}
    for (voter, comment), value in latest.items():
        by_participant[voter][comment] = value
    group_of = {
        participant_ids[pk]: group for pk, group in (groups or {}).items() if pk in participant_ids
    }
    participant_rows = []
    for voter in sorted(by_participant):
        votes = by_participant[voter]
        participant_rows.append(
            [
                voter,
                group_of.get(voter, ""),
                authored[voter],
                len(votes),
                sum(1 for value in votes.values() if value == 1),
                sum(1 for value in votes.values() if value == -1),
                *(votes.get(comment, "") for comment in comment_ids),
            ]
        )

    summary_rows: list[tuple[str, object]] = [
        (SUMMARY_TOPIC, conversation.topic),
        ("voters", sum(1 for votes in by_participant.values() if votes)),
        ("commenters", len(authored)),
        ("comments", len(comments)),
    ]
    if groups is not None:
        summary_rows.append(("groups", len(set(group_of.values()))))
    summary_rows.append((SUMMARY_DESCRIPTION, conversation.description))

    return {
        COMMENTS_FILE: polis_csv_bytes(COMMENTS_COLUMNS, comment_rows),
        VOTES_FILE: polis_csv_bytes(VOTES_COLUMNS, vote_rows),
        PARTICIPANTS_VOTES_FILE: polis_csv_bytes(
            (*PARTICIPANTS_VOTES_COLUMNS, *map(str, comment_ids)), participant_rows
        ),
        SUMMARY_FILE: polis_csv_bytes(None, summary_rows),
    }


def polis_export_write(
    *, conversation: Conversation, directory: Path, groups: Mapping[int, int] | None = None
) -> list[Path]:
    """Write the export's files into ``directory`` (created if needed); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in polis_export_files(conversation=conversation, groups=groups).items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written
