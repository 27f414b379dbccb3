"""Running a clustering snapshot: claim it, load the votes, compute, store, prune.

A run is claimed with a conditional UPDATE (queued, or running with a stale heartbeat, to
running) that also bumps ``attempt``; only the claimant whose attempt is still current may
write results, so a redelivered task or a run handed to another worker never writes twice.
"""

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from time import perf_counter
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone
from psycopg import sql

from clustering import Analysis, analyze
from deliberation.errors import Conflict
from deliberation.models import (
    POSITION_DTYPE,
    Participant,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    Vote,
    VoteEvent,
)
from deliberation.selectors.groups import BULKY_FIELDS
from deliberation.services.assistant import assistant_summary_schedule
from deliberation.services.recompute import (
    recompute_stale_s,
    snapshot_dispatch_waiting,
    snapshot_queue,
)
from deliberation.services.sensitivity import flagged_participants, sensitivity_compute

logger = logging.getLogger(__name__)

# One vote as the load query packs it: int8send(participant) || int8send(statement) ||
# int2send(value), big-endian and fixed-width, so numpy reads all of them in one call.
_PACKED_VOTE = np.dtype([("participant", ">i8"), ("statement", ">i8"), ("value", ">i2")])
# A binary COPY starts with a signature (11 bytes), flags (4) and a header extension length
# (4); the aggregate's single row then has a field count (2) and the field's length (4).
_COPY_FIELD_OFFSET = 19 + 2
_COPY_VALUE_OFFSET = _COPY_FIELD_OFFSET + 4

# The vote arrays a succeeded run stores for the next one (Snapshot.vote_arrays), sorted by
# (participant, statement): a header of int64 (format version, votes, the event id they are
# complete through, pending ids, participants, lowest statement id, statement offset width),
# the pending event ids, each participant id with its vote count, then per vote the statement
# id's offset (2 bytes up to 65,535 statements apart, else 4) and the value (1 byte): about
# 3 bytes a vote. zlib level 1 shrank it to 2 bytes but took 170 ms for 2M votes, more than
# the whole incremental load. A blob of another version is ignored: the next run loads in
# full and writes the new format.
_ARRAYS_VERSION = 1
_ARRAYS_HEADER = 7
# An event id is assigned when its vote's transaction inserts it, not when it commits, so a
# vote in flight during a load has a lower id than events the load already sees. Its id stays
# "pending" and the next run reads it again; an id missing for longer than this many later
# events is taken as rolled back (vote_cast's transaction lasts milliseconds, and 100,000
# events are over 8 minutes at 200 votes/s). Beyond it, the next run loads in full.
_SETTLE_WINDOW = 100_000

_EMPTY_RESULTS: dict[str, Any] = {
    "groups": [],
    "statements": {},
    "consensus": {"agree": [], "disagree": []},
    "metrics": {
        "silhouette": {},
        "explained_variance": [],
        "group_sizes": {},
        "polarization": None,
    },
}


@dataclass(frozen=True)
class VoteInput:
    """Everything one run feeds the clustering, read at one moment."""

    watermark: int | None
    participants: npt.NDArray[np.int64]
    statements: npt.NDArray[np.int64]
    values: npt.NDArray[np.int8]
    moderated_out: list[int]
    meta: list[int]
    excluded: list[int]
    previous_state: dict[str, Any] | None
    # What this run stores for the next one's incremental load (None: it loads in full).
    vote_arrays: bytes | None = None
    # Participants the abuse signals flag, for the report's sensitivity line.
    flagged: list[int] = field(default_factory=list)


def snapshot_claim(*, snapshot_id: int) -> int | None:
    """Take a snapshot for this worker: returns the attempt number won, or None if lost.

    A queued snapshot is claimable when no other run of its conversation is running; a running
    one is claimable once its heartbeat is stale (its worker died).
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=recompute_stale_s())
    other_running = Snapshot.objects.filter(
        conversation=OuterRef("conversation"), status=SnapshotStatus.RUNNING
    ).exclude(pk=snapshot_id)
    claimable = Snapshot.objects.filter(pk=snapshot_id).filter(
        Q(status=SnapshotStatus.QUEUED)
        | Q(status=SnapshotStatus.RUNNING, heartbeat_at__lt=stale_before)
    )
    try:
        with transaction.atomic():
            # Race: a task delivered twice, or the reaper and a redelivery, claim at once. The
            # UPDATE re-checks its WHERE on the locked row, so exactly one claimant sees a row
            # updated; snapshot_one_running backs the "no other run" condition.
            won = claimable.exclude(Exists(other_running)).update(
                status=SnapshotStatus.RUNNING,
                attempt=F("attempt") + 1,
                started_at=now,
                heartbeat_at=now,
                error="",
            )
    except IntegrityError:
        return None
    if not won:
        return None
    return Snapshot.objects.values_list("attempt", flat=True).get(pk=snapshot_id)


class _Heartbeat:
    """Beats the claimed snapshot from a side thread while the run computes.

    The thread has its own database connection (Django's are per thread), closed when it
    stops. The beat is conditional on the attempt, so a run taken over by another worker
    stops looking alive.
    """

    def __init__(self, *, snapshot_id: int, attempt: int) -> None:
        self._claimed = Snapshot.objects.filter(
            pk=snapshot_id, status=SnapshotStatus.RUNNING, attempt=attempt
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.AGORA_RECLUSTER["HEARTBEAT_S"]):
                self._claimed.update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _votes_copy(conversation_id: int) -> npt.NDArray[Any]:
    """All current votes of a conversation, packed by PostgreSQL into one bytea (one COPY row).

    A plain ``COPY (SELECT participant_id, ...) TO STDOUT`` sends one message per vote, and
    psycopg hands them over one Python call each: 2M votes took 1.5 s that way. Aggregating
    on the server makes it a single 18-byte-per-vote buffer, several times faster end to
    end. A bytea holds up to 1 GB, about 59M votes: far above any real conversation.
    """
    query = sql.SQL(
        "COPY (SELECT string_agg(int8send(participant_id::int8) || int8send(statement_id::int8)"
        " || int2send(value::int2), ''::bytea) FROM {} WHERE conversation_id = {})"
        " TO STDOUT (FORMAT BINARY)"
    ).format(sql.Identifier(Vote._meta.db_table), sql.Literal(conversation_id))
    with connection.cursor() as cursor, cursor.cursor.copy(query) as copy:
        raw = b"".join(copy)
    length = int.from_bytes(
        raw[_COPY_FIELD_OFFSET:_COPY_VALUE_OFFSET], byteorder="big", signed=True
    )
    if length < 0:  # string_agg over no votes is NULL
        return np.zeros(0, dtype=_PACKED_VOTE)
    return np.frombuffer(
        raw, dtype=_PACKED_VOTE, offset=_COPY_VALUE_OFFSET, count=length // _PACKED_VOTE.itemsize
    )


def _votes_load(
    conversation_id: int,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    if connection.vendor == "postgresql":
        rows = _votes_copy(conversation_id)
        return rows["participant"], rows["statement"], rows["value"]
    flat = np.fromiter(
        (
            number
            for row in Vote.objects.filter(conversation_id=conversation_id).values_list(
                "participant_id", "statement_id", "value"
            )
            for number in row
        ),
        dtype=np.int64,
    ).reshape(-1, 3)
    return flat[:, 0], flat[:, 1], flat[:, 2]


@dataclass(frozen=True)
class _VoteArrays:
    """A conversation's current votes, one per (participant, statement), sorted by that pair.

    Complete through event ``through`` except the ``pending`` event ids, which were assigned
    but not committed when the votes were read.
    """

    participants: npt.NDArray[np.int64]
    statements: npt.NDArray[np.int64]
    values: npt.NDArray[np.int8]
    through: int
    pending: npt.NDArray[np.int64]

    def pack(self) -> bytes:
        """The stored form."""
        starts = np.flatnonzero(np.diff(self.participants, prepend=-1))
        counts = np.diff(starts, append=len(self.participants))
        low = int(self.statements.min()) if len(self.statements) else 0
        span = int(self.statements.max()) - low if len(self.statements) else 0
        offset_dtype = "<u2" if span <= np.iinfo(np.uint16).max else "<u4"
        header = [_ARRAYS_VERSION, len(self.values), self.through, len(self.pending)]
        header += [len(starts), low, np.dtype(offset_dtype).itemsize]
        return b"".join(
            [
                np.array(header, dtype="<i8").tobytes(),
                self.pending.astype("<i8").tobytes(),
                self.participants[starts].astype("<i8").tobytes(),
                counts.astype("<i4").tobytes(),
                (self.statements - low).astype(offset_dtype).tobytes(),
                self.values.astype(np.int8).tobytes(),
            ]
        )

    @classmethod
    def unpack(cls, blob: bytes) -> "_VoteArrays | None":
        """The arrays a previous run stored, or None if they are in another format."""
        if int(np.frombuffer(blob, dtype="<i8", count=1)[0]) != _ARRAYS_VERSION:
            return None
        _, n, through, n_pending, n_runs, low, width = (
            int(number) for number in np.frombuffer(blob, dtype="<i8", count=_ARRAYS_HEADER)
        )
        at = 8 * _ARRAYS_HEADER
        pending = np.frombuffer(blob, dtype="<i8", count=n_pending, offset=at)
        at += pending.nbytes
        runs = np.frombuffer(blob, dtype="<i8", count=n_runs, offset=at)
        at += runs.nbytes
        counts = np.frombuffer(blob, dtype="<i4", count=n_runs, offset=at)
        at += counts.nbytes
        offsets = np.frombuffer(blob, dtype="<u2" if width == 2 else "<u4", count=n, offset=at)
        return cls(
            participants=np.repeat(runs.astype(np.int64), counts),
            statements=offsets.astype(np.int64) + low,
            values=np.frombuffer(blob, dtype=np.int8, count=n, offset=at + offsets.nbytes),
            through=through,
            pending=pending.astype(np.int64),
        )


def _event_sequence_last() -> int:
    """The last event id handed out, committed or not (a sequence is not transactional)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass)",
            [VoteEvent._meta.db_table],
        )
        (last,) = cursor.fetchone()
    return int(last or 0)


def _events_since(
    *, conversation_id: int, after: int, pending: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Visible events with id > ``after`` or among ``pending``, of every conversation.

    Returns their ids (to tell which pending and new ids have committed) and this
    conversation's ones as (participant, statement, value) rows in id order.
    """
    query = sql.SQL(
        "SELECT id, conversation_id = %s, participant_id, statement_id, value FROM {}"
        " WHERE id > %s OR id = ANY(%s) ORDER BY id"
    ).format(sql.Identifier(VoteEvent._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(query, [conversation_id, after, pending.tolist()])
        rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 5)
    return rows[:, 0], rows[rows[:, 1] == 1][:, 2:]


def _pending_ids(
    *, low: int, through: int, visible: npt.NDArray[np.int64], pending: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Ids assigned by ``through`` but not visible: in (low, through], or still pending."""
    candidates = np.concatenate([pending, np.arange(low + 1, through + 1, dtype=np.int64)])
    missing = np.setdiff1d(candidates, visible)
    return missing[missing > through - _SETTLE_WINDOW]


def _sorted_by_pair(
    participants: npt.NDArray[np.int64], statements: npt.NDArray[np.int64], values: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    # One int64 key per pair sorts about twice as fast as np.lexsort on the two columns.
    order = np.argsort(participants * (int(statements.max(initial=0)) + 1) + statements)
    return participants[order], statements[order], values[order].astype(np.int8)


def _merged(base: _VoteArrays, events: npt.NDArray[np.int64]) -> tuple[Any, Any, Any]:
    """``base`` with the events (participant, statement, value rows in id order) applied."""
    if not len(events):
        return base.participants, base.statements, base.values
    width = int(max(base.statements.max(initial=0), events[:, 1].max())) + 1
    keys = base.participants * width + base.statements
    event_keys = events[:, 0] * width + events[:, 1]
    # The last event per pair wins: np.unique keeps the first of the reversed rows.
    unique_keys, first_reversed = np.unique(event_keys[::-1], return_index=True)
    latest = events[::-1][first_reversed]
    at = np.asarray(np.searchsorted(keys, unique_keys), dtype=np.int64)
    found: npt.NDArray[np.bool_] = at < len(keys)
    found[found] = keys[at[found]] == unique_keys[found]
    values = base.values.copy()
    values[at[found]] = latest[found, 2]
    new = ~found
    # Inserting at the searchsorted positions keeps the pairs sorted.
    return (
        np.insert(base.participants, at[new], latest[new, 0]),
        np.insert(base.statements, at[new], latest[new, 1]),
        np.insert(values, at[new], latest[new, 2].astype(np.int8)),
    )


def _votes_current(
    *, conversation_id: int, blob: bytes | None, statement_ids: list[int]
) -> _VoteArrays:
    """The conversation's current votes: the previous run's arrays plus the events since, or a
    full load when there are none to start from. Runs inside the loading transaction.
    """
    through = _event_sequence_last()
    base = _VoteArrays.unpack(blob) if blob else None
    if base is None or through - base.through > _SETTLE_WINDOW:
        participants, statements, values = _sorted_by_pair(
            *(column.astype(np.int64) for column in _votes_load(conversation_id))
        )
        low = max(through - _SETTLE_WINDOW, 0)
        visible, _ = _events_since(
            conversation_id=conversation_id, after=low, pending=np.zeros(0, dtype=np.int64)
        )
        return _VoteArrays(
            participants=participants,
            statements=statements,
            values=values,
            through=through,
            pending=_pending_ids(
                low=low, through=through, visible=visible, pending=np.zeros(0, dtype=np.int64)
            ),
        )
    visible, events = _events_since(
        conversation_id=conversation_id, after=base.through, pending=base.pending
    )
    participants, statements, values = _merged(base, events)
    # Votes go only when their participant or statement is deleted (the product never does,
    # the admin can), and their events go with them: drop such votes from the base too.
    existing = Participant.objects.filter(conversation_id=conversation_id).aggregate(
        ids=ArrayAgg("pk", default=[])
    )["ids"]
    keep = _in(participants, existing) & _in(statements, statement_ids)
    return _VoteArrays(
        participants=participants[keep],
        statements=statements[keep],
        values=values[keep],
        through=through,
        pending=_pending_ids(
            low=base.through, through=through, visible=visible, pending=base.pending
        ),
    )


def _in(ids: npt.NDArray[np.int64], members: list[int]) -> npt.NDArray[np.bool_]:
    """``np.isin`` through a lookup table: linear, where isin sorts the millions of votes."""
    if not members or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    low, high = min(members), max(members)
    table = np.zeros(high - low + 1, dtype=bool)
    table[np.asarray(members) - low] = True
    inside = (ids >= low) & (ids <= high)
    found = np.zeros(len(ids), dtype=bool)
    found[inside] = table[ids[inside] - low]
    return found


def snapshot_load_input(*, conversation_id: int) -> VoteInput:
    """Read the votes and everything around them as of one moment.

    On PostgreSQL the reads share one REPEATABLE READ transaction, so the watermark is exactly
    the last vote event the loaded votes include, and the votes are the previous succeeded
    run's stored arrays plus the events since (a full load when it stored none).
    """
    # Only an outermost transaction can choose its isolation level (not a savepoint).
    own_transaction = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        watermark = VoteEvent.objects.filter(conversation_id=conversation_id).aggregate(
            last=Max("id")
        )["last"]
        by_status = list(
            Statement.objects.filter(conversation_id=conversation_id).values_list(
                "pk", "status", "is_meta"
            )
        )
        excluded = list(
            Participant.objects.filter(conversation_id=conversation_id, excluded=True).values_list(
                "pk", flat=True
            )
        )
        previous_state, blob = (
            Snapshot.objects.filter(
                conversation_id=conversation_id, status=SnapshotStatus.SUCCEEDED
            )
            .order_by("-id")
            .values_list("state", "vote_arrays")
            .first()
        ) or (None, None)
        vote_arrays = None
        if connection.vendor == "postgresql":
            current = _votes_current(
                conversation_id=conversation_id,
                blob=bytes(blob) if blob else None,
                statement_ids=[pk for pk, _, _ in by_status],
            )
            participants, statements, values = (
                current.participants,
                current.statements,
                current.values,
            )
            vote_arrays = current.pack()
        else:
            participants, statements, values = _votes_load(conversation_id)
    # Outside the loading transaction: the burst scan is slow, and needs no consistent read.
    flagged = flagged_participants(conversation_id=conversation_id)
    pending = [pk for pk, status, _ in by_status if status == StatementStatus.PENDING]
    if pending:
        # Pending statements are not in the math: a statement moved back to pending keeps
        # its votes in the table, but they wait for the moderator's decision.
        keep = ~np.isin(statements, pending)
        participants, statements, values = participants[keep], statements[keep], values[keep]
    return VoteInput(
        watermark=watermark,
        participants=participants.astype(np.int64),
        statements=statements.astype(np.int64),
        values=values.astype(np.int8),
        moderated_out=[pk for pk, status, _ in by_status if status == StatementStatus.REJECTED],
        meta=[pk for pk, _, is_meta in by_status if is_meta],
        excluded=excluded,
        previous_state=previous_state,
        vote_arrays=vote_arrays,
        flagged=flagged,
    )


def _positions(analysis: Analysis) -> bytes:
    packed = np.zeros(len(analysis.participant_ids), dtype=POSITION_DTYPE)
    packed["participant"] = analysis.participant_ids
    packed["group"] = analysis.group
    packed["in_conv"] = analysis.in_conv
    xy = np.nan_to_num(analysis.projection)
    if xy.shape[1] > 0:
        packed["x"] = xy[:, 0]
    if xy.shape[1] > 1:
        packed["y"] = xy[:, 1]
    return packed.tobytes()


def _results_fields(data: VoteInput) -> dict[str, Any]:
    """The snapshot's result columns: computed by the clustering, or empty without votes."""
    base = {"watermark": data.watermark, "n_votes": len(data.values)}
    if not len(data.values):
        return base | {
            "n_participants": 0,
            "n_in_conv": 0,
            "n_statements": 0,
            "k": 0,
            "group_sizes": {},
            "polarization": None,
            "state": data.previous_state,
            "results": _EMPTY_RESULTS,
            "positions": b"",
            "timings_ms": {},
        }
    analysis = analyze(
        (data.participants, data.statements, data.values),
        moderated_out=data.moderated_out,
        meta=data.meta,
        excluded=data.excluded,
        previous_state=data.previous_state,
    )
    results = analysis.to_dict()
    # Positions are stored packed in their own column; the JSON keeps the rest.
    del results["participants"]
    timings_ms = results.pop("timings_ms")
    started = perf_counter()
    results["sensitivity"] = sensitivity_compute(
        votes=(data.participants, data.statements, data.values),
        moderated_out=data.moderated_out,
        meta=data.meta,
        excluded=data.excluded,
        previous_state=data.previous_state,
        flagged=data.flagged,
        analysis=analysis,
    )
    timings_ms["sensitivity"] = (perf_counter() - started) * 1000.0
    return base | {
        "n_participants": len(analysis.participant_ids),
        "n_in_conv": int(analysis.in_conv.sum()),
        "n_statements": len(analysis.statements.ids),
        "k": analysis.k,
        "group_sizes": results["metrics"]["group_sizes"],
        "polarization": results["metrics"]["polarization"],
        "state": analysis.state,
        "results": results,
        "positions": _positions(analysis),
        "timings_ms": timings_ms,
    }


def _vote_arrays_store(*, snapshot_id: int, conversation_id: int, blob: bytes) -> None:
    """Keep the run's vote arrays for the next run, inside the transaction storing its results.

    The next run starts from the latest succeeded snapshot's arrays, this one's, so older ones
    are dead weight: they are cleared as this one lands, and a failed or dropped run leaves the
    previous arrays in place.
    """
    # A binary parameter: Django's client-side binding would send the megabytes hex-escaped,
    # 135 ms instead of 45 for 6 MB.
    query = sql.SQL("UPDATE {} SET vote_arrays = %b WHERE id = %s").format(
        sql.Identifier(Snapshot._meta.db_table)
    )
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(query, [blob, snapshot_id])
    Snapshot.objects.filter(
        conversation_id=conversation_id, pk__lt=snapshot_id, vote_arrays__isnull=False
    ).update(vote_arrays=None)


def snapshot_compute(*, snapshot_id: int, attempt: int, conversation_id: int) -> bool:
    """Load, compute and store one claimed run. Returns whether its results were written.

    A failure is stored on the snapshot as its error and never raised: the run is over, and
    the next trigger starts a fresh one.
    """
    claimed = Snapshot.objects.filter(
        pk=snapshot_id, status=SnapshotStatus.RUNNING, attempt=attempt
    )
    started = perf_counter()
    try:
        with _Heartbeat(snapshot_id=snapshot_id, attempt=attempt):
            data = snapshot_load_input(conversation_id=conversation_id)
            loaded = perf_counter()
            fields = _results_fields(data)
            computed = perf_counter()
        fields["timings_ms"] = {
            "load": (loaded - started) * 1000.0,
            "compute": (computed - loaded) * 1000.0,
            **{f"clustering_{step}": ms for step, ms in fields["timings_ms"].items()},
        }
        with transaction.atomic():
            written = claimed.update(
                status=SnapshotStatus.SUCCEEDED, finished_at=timezone.now(), **fields
            )
            if written and data.vote_arrays is not None:
                _vote_arrays_store(
                    snapshot_id=snapshot_id, conversation_id=conversation_id, blob=data.vote_arrays
                )
    except Exception as exc:
        logger.exception("snapshot %s of conversation %s failed", snapshot_id, conversation_id)
        error = "".join(traceback.format_exception_only(exc)).strip()
        claimed.update(status=SnapshotStatus.FAILED, finished_at=timezone.now(), error=error)
        return False
    if not written:
        logger.warning("snapshot %s was taken over by another worker; results dropped", snapshot_id)
    return bool(written)


def snapshot_run(*, snapshot_id: int) -> Snapshot | None:
    """Claim and run a snapshot, then start whatever waits behind it.

    Safe to call any number of times for one snapshot: only one call computes. Returns the
    snapshot when this call ran it, None when another worker has it or it is finished.
    """
    attempt = snapshot_claim(snapshot_id=snapshot_id)
    if attempt is None:
        return None
    conversation_id = Snapshot.objects.values_list("conversation_id", flat=True).get(pk=snapshot_id)
    succeeded = snapshot_compute(
        snapshot_id=snapshot_id, attempt=attempt, conversation_id=conversation_id
    )
    if succeeded:
        snapshot_prune(conversation_id=conversation_id)
        assistant_summary_schedule(snapshot_id=snapshot_id)
    snapshot_dispatch_waiting(conversation_id=conversation_id)
    snapshot = Snapshot.objects.defer(*BULKY_FIELDS).get(pk=snapshot_id)
    if (
        succeeded
        and VoteEvent.objects.filter(
            conversation_id=conversation_id, id__gt=snapshot.watermark or 0
        ).exists()
    ):
        # Votes that arrived during the run normally queued a run themselves; this covers a
        # trigger that was lost on the way.
        snapshot_queue(conversation_id=conversation_id)
    return snapshot


def snapshot_prune(*, conversation_id: int) -> int:
    """Bound a conversation's history; returns how many snapshots were deleted.

    Keeps the ``KEEP_RECENT`` newest finished snapshots, then one succeeded snapshot per hour
    for the last week and one per day before that, so trends can still be drawn. The latest
    succeeded snapshot, and queued or running ones, are never deleted.
    """
    keep_recent = settings.AGORA_RECLUSTER["KEEP_RECENT"]
    finished = list(
        Snapshot.objects.filter(
            conversation_id=conversation_id,
            status__in=[SnapshotStatus.SUCCEEDED, SnapshotStatus.FAILED],
        )
        .order_by("-id")
        .values_list("pk", "status", "created_at")
    )
    week_ago = timezone.now() - timedelta(days=7)
    kept_buckets: set[tuple[int, int, int, int]] = set()
    doomed = []
    latest_succeeded_seen = False
    for position, (pk, status, created_at) in enumerate(finished):
        succeeded = status == SnapshotStatus.SUCCEEDED
        bucket = (
            created_at.year,
            created_at.month,
            created_at.day,
            created_at.hour if created_at >= week_ago else -1,
        )
        first_succeeded = succeeded and not latest_succeeded_seen
        latest_succeeded_seen = latest_succeeded_seen or succeeded
        if first_succeeded or position < keep_recent or (succeeded and bucket not in kept_buckets):
            if succeeded:
                kept_buckets.add(bucket)
            continue
        doomed.append(pk)
    if doomed:
        Snapshot.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def snapshot_summaries_catch_up() -> list[int]:
    """Queue the summary of each conversation's latest succeeded snapshot that lacks one.

    The safety net behind the summary task a succeeded run sends: a message lost to a broker
    outage or a worker crash would otherwise leave the group summaries missing for good.
    Snapshots finished less than ``SUMMARY_GRACE_S`` ago are left to the task on its way.
    Returns the snapshot ids whose summary was queued.
    """
    finished_before = timezone.now() - timedelta(
        seconds=settings.AGORA_RECLUSTER["SUMMARY_GRACE_S"]
    )
    newer_success = Snapshot.objects.filter(
        conversation=OuterRef("conversation"),
        status=SnapshotStatus.SUCCEEDED,
        pk__gt=OuterRef("pk"),
    )
    missing = list(
        Snapshot.objects.filter(
            status=SnapshotStatus.SUCCEEDED,
            finished_at__lt=finished_before,
            ai_summary__isnull=True,
        )
        .exclude(Exists(newer_success))
        .values_list("pk", flat=True)
    )
    for snapshot_id in missing:
        assistant_summary_schedule(snapshot_id=snapshot_id)
    if missing:
        logger.info("summaries queued again for snapshots %s", missing)
    return missing


def snapshot_run_now(*, conversation_id: int, timeout_s: float = 600.0) -> Snapshot:
    """Run a snapshot of this conversation in this process and return it finished.

    For operators: takes the waiting queued run (or creates one) and runs it here; if a worker
    holds the conversation, waits for that run to end and goes again, so the result includes
    every vote committed before the call.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        queued = Snapshot.objects.filter(
            conversation_id=conversation_id, status=SnapshotStatus.QUEUED
        ).first()
        if queued is None:
            try:
                with transaction.atomic():
                    queued = Snapshot.objects.create(conversation_id=conversation_id)
            except IntegrityError:
                # Race: a trigger queued a run at the same moment (snapshot_one_queued).
                continue
        done = snapshot_run(snapshot_id=queued.pk)
        if done is not None:
            return done
        if time.monotonic() > deadline:
            raise Conflict(f"Another run kept this conversation busy for over {timeout_s:g} s.")
        time.sleep(0.5)
