"""Did the deliberation work? Process figures over the snapshot history and the vote log.

Every figure is read up to one snapshot (its id and its vote watermark), so a frozen report
shows the same process figures tomorrow as today. Definitions are in ``clustering.process``
and repeated, in words, in ``DEFINITIONS`` (the report's methodology and the exports).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.core.cache import cache

from clustering.process import (
    COMMON_GROUND_BRIDGING,
    COMMON_GROUND_MIN_VOTES,
    OpinionChanges,
    common_ground_share,
    early_late_common_ground,
    opinion_changes,
    others_majority,
    towards_others,
)
from deliberation.models import (
    Conversation,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    VoteEvent,
)
from deliberation.selectors.groups import group_label
from deliberation.selectors.report import ReportContext, Representative, StatementRow

MAX_POINTS = 60
"""Snapshots drawn at most: a long history is sampled evenly, first and last kept."""
TOP_CHANGED = 5

DEFINITIONS = {
    "polarization": (
        "For each statement, the largest minus the smallest group agreement "
        "((agrees + 1) / (votes + 2) in each group), averaged over statements weighted by "
        "their votes; 0 when every group agrees alike, near 1 when groups vote opposite ways."
    ),
    "groups": "The number of opinion groups the clustering chose in each snapshot.",
    "common_ground": (
        f"Among statements with at least {COMMON_GROUND_MIN_VOTES} votes, the share whose "
        f"least-convinced group agrees at least {round(100 * COMMON_GROUND_BRIDGING)}% "
        "(smoothed): the report's common ground."
    ),
    "early_late": (
        "The same common-ground share for the statements written in the first half of the "
        "conversation (by order of creation, split at the median statement of the latest "
        "snapshot) and for those written in the second half."
    ),
    "opinion_change": (
        "A participant changed a vote when their last vote on a statement differs from their "
        "first (changed and changed back counts as no change). A change moved towards the "
        "other groups when the last vote is closer than the first to the majority (agree or "
        "disagree) of everyone in the other groups, in the snapshot's groups; changes by "
        "people outside any group, or where the other groups are evenly split, have no "
        "direction."
    ),
    "minority": (
        "The smallest group by size; its representative statements with every group's "
        "votes, and statements written by its members that reached common ground."
    ),
}

_VOTE_NAMES = {1: "agree", 0: "pass", -1: "disagree"}


@dataclass(frozen=True)
class ProcessPoint:
    snapshot_id: int
    at: datetime
    k: int
    polarization: float | None
    common_ground: float | None
    early: float | None
    late: float | None


@dataclass(frozen=True)
class ProcessSeries:
    points: list[ProcessPoint]
    snapshots: int
    """Succeeded snapshots retained up to this one (``points`` may sample them)."""
    split_statement_id: int | None
    """The last statement id counted as early."""

    def _change(self, name: str) -> tuple[float, float] | None:
        values = [getattr(p, name) for p in self.points if getattr(p, name) is not None]
        return (values[0], values[-1]) if len(values) >= 2 else None

    @property
    def readings(self) -> dict[str, str]:
        """One plain-language sentence per series, from its first and last points."""
        out = {}
        for name, what, scale in (
            ("polarization", "Polarization", 1.0),
            ("common_ground", "The share of statements on common ground", 100.0),
            ("early", "Common ground among early statements", 100.0),
            ("late", "Common ground among late statements", 100.0),
            ("k", "The number of groups", 1.0),
        ):
            change = self._change(name)
            if change is None:
                out[name] = "Too few snapshots to see a change yet."
                continue
            first, last = change
            unit = "%" if scale == 100.0 else ""
            fmt = (
                (lambda v: f"{v:.0f}") if name == "k" or scale == 100.0 else (lambda v: f"{v:.2f}")
            )
            verb = "rose" if last > first else "fell" if last < first else "stayed"
            span = (
                f"at {fmt(first * scale)}{unit}"
                if verb == "stayed"
                else f"from {fmt(first * scale)}{unit} to {fmt(last * scale)}{unit}"
            )
            out[name] = f"{what} {verb} {span} over {len(self.points)} snapshots."
        return out


def _statement_arrays(results: dict[str, Any] | None) -> np.ndarray:
    """Rows of (statement id, bridging, in-conv votes) of the statements a snapshot counted
    (not moderated out, not meta)."""
    rows = [
        (
            int(key),
            np.nan if stats["bridging"] is None else stats["bridging"],
            sum(g["total"] for g in stats["groups"].values()),
        )
        for key, stats in (results or {}).get("statements", {}).items()
        if not stats["moderated_out"] and not stats["meta"]
    ]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _snapshot_rows(picked: list[tuple[int, datetime]]) -> dict[int, dict[str, Any]]:
    """Each picked snapshot's time, k, polarization and statement rows.

    A finished snapshot never changes, so its rows are cached for good: the results JSON of
    a large conversation runs to megabytes, and the report draws up to ``MAX_POINTS`` of them.
    """
    # The creation time keeps a recreated database (tests, a restored backup) from reading
    # another snapshot's rows under a reused id, as the report's own keys do.
    keys = {pk: f"report:process:v1:{pk}:{at.timestamp()}" for pk, at in picked}
    cached = cache.get_many(list(keys.values()))
    found = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [pk for pk in keys if pk not in found]
    fresh = {
        pk: {
            "at": at,
            "k": k or 0,
            "polarization": polarization,
            "rows": _statement_arrays(results),
        }
        for pk, at, k, polarization, results in Snapshot.objects.filter(pk__in=missing).values_list(
            "pk", "created_at", "k", "polarization", "results"
        )
    }
    cache.set_many({keys[pk]: row for pk, row in fresh.items()}, timeout=None)
    return found | fresh


def _sampled(ids: list[tuple[int, datetime]], limit: int) -> list[tuple[int, datetime]]:
    if len(ids) <= limit:
        return ids
    picks = np.unique(np.round(np.linspace(0, len(ids) - 1, limit)).astype(int))
    return [ids[i] for i in picks]


def process_series(
    *, conversation: Conversation, snapshot: Snapshot, max_points: int = MAX_POINTS
) -> ProcessSeries:
    """Polarization, groups and common ground in each retained snapshot up to ``snapshot``."""
    history = list(
        Snapshot.objects.filter(
            conversation=conversation, status=SnapshotStatus.SUCCEEDED, pk__lte=snapshot.pk
        )
        .order_by("pk")
        .values_list("pk", "created_at")
    )
    picked = _sampled(history, max_points)
    accepted = np.array(
        Statement.objects.filter(
            conversation=conversation, status=StatementStatus.ACCEPTED
        ).values_list("pk", flat=True),
        dtype=np.float64,
    )
    by_snapshot = _snapshot_rows(picked)
    latest = by_snapshot[history[-1][0]]["rows"] if history else np.zeros((0, 3))
    latest_ids = np.sort(latest[np.isin(latest[:, 0], accepted), 0])
    split = int(latest_ids[(len(latest_ids) - 1) // 2]) if len(latest_ids) else None
    points = []
    for pk, _ in picked:
        stored = by_snapshot[pk]
        # Only statements accepted today count: one rejected since leaves every point.
        rows = stored["rows"][np.isin(stored["rows"][:, 0], accepted)]
        ids, bridging, votes = rows[:, 0], rows[:, 1], rows[:, 2]
        early, late = (
            early_late_common_ground(bridging, votes, ids.astype(np.int64), split)
            if split is not None
            else (None, None)
        )
        points.append(
            ProcessPoint(
                snapshot_id=pk,
                at=stored["at"],
                k=stored["k"],
                polarization=stored["polarization"],
                common_ground=common_ground_share(bridging, votes),
                early=early,
                late=late,
            )
        )
    return ProcessSeries(points=points, snapshots=len(history), split_statement_id=split)


@dataclass(frozen=True)
class ChangedStatement:
    statement_id: int
    display_id: str
    text: str
    changes: int
    towards: int
    away: int


@dataclass(frozen=True)
class OpinionChange:
    voters: int
    pairs: int
    changes: int
    participants_changed: int
    directions: list[tuple[str, int]]
    towards: int
    away: int
    undirected: int
    statements: list[ChangedStatement]

    @property
    def reading(self) -> str:
        if not self.changes:
            return "Nobody changed a vote."
        share = 100.0 * self.participants_changed / self.voters if self.voters else 0.0
        return (
            f"{self.participants_changed} of {self.voters} participants ({share:.0f}%) changed "
            f"{self.changes} vote{'s' if self.changes != 1 else ''}; {self.towards} moved towards "
            f"the other groups' majority and {self.away} away from it."
        )


def _group_tallies(results: dict[str, Any], statement_ids: np.ndarray) -> tuple[Any, Any, Any]:
    """Per-group agree and disagree counts, shape (k, len(statement_ids)), and group ids."""
    group_ids = sorted(int(g["id"]) for g in results.get("groups", []))
    row = {gid: i for i, gid in enumerate(group_ids)}
    agree = np.zeros((len(group_ids), len(statement_ids)))
    disagree = np.zeros_like(agree)
    stats = results.get("statements", {})
    for c, sid in enumerate(statement_ids.tolist()):
        for gid, tally in stats.get(str(sid), {}).get("groups", {}).items():
            if int(gid) in row:
                agree[row[int(gid)], c] = tally["agree"]
                disagree[row[int(gid)], c] = tally["disagree"]
    return agree, disagree, row


@dataclass(frozen=True)
class _DirectedChanges:
    voters: int
    changes: OpinionChanges
    direction: np.ndarray
    """+1 towards the other groups, -1 away, 0 neither, per change."""


def _directed_changes(conversation: Conversation, snapshot: Snapshot) -> _DirectedChanges:
    """The vote log's net changes up to the watermark, with their direction.

    The log is append-only and a snapshot's groups never change, so this is cached for good
    per snapshot: another order of the report's table does not scan the log again.
    """
    # The creation time keeps a recreated database from reading another snapshot's figures.
    key = f"report:changes:v1:{snapshot.pk}:{snapshot.created_at.timestamp()}"
    cached: _DirectedChanges | None = cache.get(key)
    if cached is not None:
        return cached
    events = np.array(
        VoteEvent.objects.filter(conversation=conversation, pk__lte=snapshot.watermark or 0)
        .order_by("pk")
        .values_list("participant_id", "statement_id", "value"),
        dtype=np.int64,
    ).reshape(-1, 3)
    changes = opinion_changes(events[:, 0], events[:, 1], events[:, 2])
    statement_ids, column = np.unique(changes.statement, return_inverse=True)
    agree, disagree, row = _group_tallies(snapshot.results or {}, statement_ids)
    positions = snapshot.positions_array()
    group_of = dict(
        zip(positions["participant"].tolist(), positions["group"].tolist(), strict=True)
    )
    group_row = np.array(
        [row.get(group_of.get(p, -1), -1) for p in changes.participant.tolist()], dtype=np.int64
    )
    grouped = group_row >= 0
    direction = np.zeros(len(changes.first), dtype=np.int64)
    if grouped.any() and len(row) > 1:
        target = others_majority(agree, disagree)[group_row[grouped], column[grouped]]
        direction[grouped] = towards_others(changes.first[grouped], changes.last[grouped], target)
    cached = _DirectedChanges(
        voters=int(np.unique(events[:, 0]).size), changes=changes, direction=direction
    )
    cache.set(key, cached, timeout=None)
    return cached


def opinion_change(*, conversation: Conversation, snapshot: Snapshot) -> OpinionChange:
    """Net vote changes in the log up to the snapshot's watermark, and their direction
    relative to the other groups (``DEFINITIONS["opinion_change"]``)."""
    directed = _directed_changes(conversation, snapshot)
    changes, direction = directed.changes, directed.direction
    statement_ids, column = np.unique(changes.statement, return_inverse=True)
    shown = {
        s.pk: s
        for s in Statement.objects.filter(
            conversation=conversation,
            status=StatementStatus.ACCEPTED,
            pk__in=statement_ids.tolist(),
        )
    }
    per_statement = []
    for c, sid in enumerate(statement_ids.tolist()):
        statement = shown.get(sid)
        if statement is None:  # only accepted statements appear by text
            continue
        mine = column == c
        per_statement.append(
            ChangedStatement(
                statement_id=sid,
                display_id=statement.display_id,
                text=statement.text,
                changes=int(mine.sum()),
                towards=int((direction[mine] > 0).sum()),
                away=int((direction[mine] < 0).sum()),
            )
        )
    per_statement.sort(key=lambda s: (-s.changes, s.statement_id))
    return OpinionChange(
        voters=directed.voters,
        pairs=changes.pairs,
        changes=len(changes.first),
        participants_changed=changes.participants_changed,
        directions=[
            (f"{_VOTE_NAMES[first]} to {_VOTE_NAMES[last]}", n)
            for (first, last), n in sorted(changes.directions().items(), key=lambda i: -i[1])
        ],
        towards=int((direction > 0).sum()),
        away=int((direction < 0).sum()),
        undirected=int((direction == 0).sum()),
        statements=per_statement[:TOP_CHANGED],
    )


@dataclass(frozen=True)
class MinorityVoices:
    group_id: int
    size: int
    share_pct: float
    representative: list[Representative]
    """The smallest group's representative statements (accepted ones, as the report shows)."""
    authored_common_ground: list[StatementRow]
    """Statements its members wrote that are common ground."""
    tied: bool = False
    """Another group is as small: this one is the first of them by letter."""

    @property
    def letter(self) -> str:
        return group_label(self.group_id)

    @property
    def reading(self) -> str:
        agreed = len(self.authored_common_ground)
        reps = len(self.representative)
        return (
            f"{'One of the equally small groups' if self.tied else 'The smallest group'}, "
            f"Group {self.letter} ({self.size} people, {self.share_pct}%), "
            f"has {reps} statement{'s' if reps != 1 else ''} "
            "that set it apart; "
            + (
                f"{agreed} statement{'s' if agreed != 1 else ''} written by its members reached "
                "common ground across all groups."
                if agreed
                else "no statement written by its members has reached common ground yet."
            )
        )


def minority_voices(*, report: ReportContext) -> MinorityVoices | None:
    """The smallest group's voice in a built report.

    None with fewer than two groups: there is no minority among one group.
    """
    if len(report.groups) < 2:
        return None
    smallest = min(report.groups, key=lambda g: (g.size, g.group_id))
    positions = report.snapshot.positions_array()
    members = positions["participant"][positions["group"] == smallest.group_id]
    written = np.array(
        Statement.objects.filter(
            conversation=report.conversation,
            status=StatementStatus.ACCEPTED,
            author_participant__isnull=False,
        ).values_list("pk", "author_participant_id"),
        dtype=np.int64,
    ).reshape(-1, 2)
    authored = set(written[np.isin(written[:, 1], members), 0].tolist())
    return MinorityVoices(
        group_id=smallest.group_id,
        size=smallest.size,
        share_pct=smallest.share_pct,
        representative=list(smallest.representative),
        authored_common_ground=[
            row
            for row in report.statements
            if row.id in authored and row.common_ground and not row.is_meta
        ],
        tied=sum(g.size == smallest.size for g in report.groups) > 1,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def process_document(*, report: ReportContext) -> dict[str, Any]:
    """The process figures of a built report as one JSON-ready document, with definitions:
    what the JSON export and the API give researchers. Statements by id only; the export
    lists their texts."""
    series = process_series(conversation=report.conversation, snapshot=report.snapshot)
    change = opinion_change(conversation=report.conversation, snapshot=report.snapshot)
    minority = minority_voices(report=report)
    return {
        "definitions": DEFINITIONS,
        "series": {
            "snapshots_retained": series.snapshots,
            "split_statement_id": series.split_statement_id,
            "readings": series.readings,
            "points": [
                {
                    "snapshot_id": p.snapshot_id,
                    "at": _iso(p.at),
                    "k": p.k,
                    "polarization": p.polarization,
                    "common_ground": p.common_ground,
                    "early_common_ground": p.early,
                    "late_common_ground": p.late,
                }
                for p in series.points
            ],
        },
        "opinion_change": {
            "voters": change.voters,
            "vote_pairs": change.pairs,
            "changes": change.changes,
            "participants_changed": change.participants_changed,
            "directions": dict(change.directions),
            "towards_other_groups": change.towards,
            "away_from_other_groups": change.away,
            "no_direction": change.undirected,
            "statements": [
                {"id": s.statement_id, "changes": s.changes, "towards": s.towards, "away": s.away}
                for s in change.statements
            ],
            "reading": change.reading,
        },
        "minority": None
        if minority is None
        else {
            "group": minority.group_id,
            "size": minority.size,
            "representative": [
                {"id": r.statement.id, "direction": r.direction, "p": r.p}
                for r in minority.representative
            ],
            "authored_common_ground": [row.id for row in minority.authored_common_ground],
            "reading": minority.reading,
        },
    }
