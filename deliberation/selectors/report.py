"""Reads behind the public report: who may see it, which snapshot, and what it shows.

``report_build`` turns one succeeded snapshot into everything the report page, its PDF and
its exports show. Every number comes from the snapshot's stored results or from the vote
log up to its watermark, so a frozen report (``/report/<slug>/<snapshot id>/``) reads the
same tomorrow as today.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count
from django.db.models.functions import TruncHour

from clustering.pipeline import MIN_VOTES_IN_CONV, Options
from deliberation.errors import InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    Conversation,
    ReportVisibility,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    Visibility,
    VoteEvent,
)
from deliberation.selectors.conversations import (
    WriteState,
    conversation_can_moderate,
    conversation_get,
    conversation_write_state,
)

HOURLY_UP_TO = timedelta(days=2)
DAILY_UP_TO = timedelta(days=120)


def report_conversation_get(
    *, slug: str, user: AbstractBaseUser | AnonymousUser | None, trusted: bool = False
) -> Conversation:
    """The conversation whose report this reader may see, or an error saying why not.

    The report is at most as visible as the conversation (a private one looks missing to
    anyone but its moderators), and moderators can restrict it further: to themselves, or
    until the conversation closes. ``trusted`` is for operators' commands, which see all.
    """
    if trusted:
        conversation = Conversation.objects.filter(slug=slug).first()
        if conversation is None:
            raise NotFound(f"No conversation called {slug!r}.")
        return conversation
    conversation = conversation_get(slug=slug, user=user)
    if conversation_can_moderate(conversation=conversation, user=user):
        return conversation
    if conversation.report_visibility == ReportVisibility.MODERATORS:
        raise PermissionDenied("The moderators of this conversation keep its report private.")
    if (
        conversation.report_visibility == ReportVisibility.AFTER_CLOSE
        and conversation_write_state(conversation=conversation) != WriteState.CLOSED
    ):
        raise PermissionDenied("The report of this conversation is published once it closes.")
    return conversation


def report_is_indexable(*, conversation: Conversation) -> bool:
    """Whether search engines may index the report: only a listed (public) conversation's
    report open to everyone."""
    return (
        conversation.visibility == Visibility.PUBLIC
        and conversation.report_visibility != ReportVisibility.MODERATORS
    )


@dataclass(frozen=True)
class Period:
    start: datetime
    votes: int
    new_participants: int
    participants_so_far: int


@dataclass(frozen=True)
class Timeline:
    """Votes and newly arrived participants per period, up to a snapshot's watermark."""

    unit: str
    periods: list[Period]
    first_vote_hour: datetime | None
    last_vote_hour: datetime | None
    participants: int
    vote_events: int


def _period_start(moment: datetime, unit: str) -> datetime:
    if unit == "hour":
        return moment
    day = moment.replace(hour=0)
    return day if unit == "day" else day - timedelta(days=day.weekday())


def _period_step(unit: str) -> timedelta:
    return {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[unit]


def participation_timeline(*, conversation: Conversation, watermark: int) -> Timeline:
    """Participation over time from the vote log, frozen at ``watermark``.

    The log is append-only, so the same watermark always gives the same timeline. One
    grouped scan counts events per (participant, hour); periods are then widened to days or
    weeks for longer conversations so the chart stays readable.
    """
    rows = (
        VoteEvent.objects.filter(conversation=conversation, id__lte=watermark)
        .annotate(hour=TruncHour("created_at"))
        .values_list("participant_id", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    first_hour: dict[int, datetime] = {}
    votes_per_hour: dict[datetime, int] = defaultdict(int)
    for participant_id, hour, n in rows:
        votes_per_hour[hour] += n
        if participant_id not in first_hour or hour < first_hour[participant_id]:
            first_hour[participant_id] = hour
    if not votes_per_hour:
        return Timeline("day", [], None, None, 0, 0)
    first, last = min(votes_per_hour), max(votes_per_hour)
    span = last - first
    unit = "hour" if span <= HOURLY_UP_TO else "day" if span <= DAILY_UP_TO else "week"
    votes: dict[datetime, int] = defaultdict(int)
    arrivals: dict[datetime, int] = defaultdict(int)
    for hour, n in votes_per_hour.items():
        votes[_period_start(hour, unit)] += n
    for hour in first_hour.values():
        arrivals[_period_start(hour, unit)] += 1
    periods = []
    so_far = 0
    start, end, step = _period_start(first, unit), _period_start(last, unit), _period_step(unit)
    while start <= end:
        so_far += arrivals[start]
        periods.append(Period(start, votes[start], arrivals[start], so_far))
        start += step
    return Timeline(
        unit=unit,
        periods=periods,
        first_vote_hour=first,
        last_vote_hour=last,
        participants=len(first_hour),
        vote_events=sum(votes_per_hour.values()),
    )


def report_snapshot_get(
    *, conversation: Conversation, snapshot_id: object = None
) -> Snapshot | None:
    """The snapshot a report shows: the given one (frozen), else the latest succeeded one.

    Returns None when the conversation has no succeeded snapshot yet. A snapshot id that is
    not a succeeded snapshot of this conversation is NotFound.
    """
    succeeded = Snapshot.objects.filter(
        conversation=conversation, status=SnapshotStatus.SUCCEEDED
    ).defer("state")
    if snapshot_id is None:
        return succeeded.order_by("-id").first()
    try:
        pk = int(str(snapshot_id))
    except ValueError:
        raise NotFound(f"No snapshot {snapshot_id!r} of this conversation.") from None
    snapshot = succeeded.filter(pk=pk).first()
    if snapshot is None:
        raise NotFound(f"No finished snapshot {pk} of this conversation.")
    return snapshot


GROUP_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SORTS = {
    "consensus": "Consensus (all groups agree)",
    "bridging": "Bridging (least-convinced group)",
    "divisiveness": "Divisiveness (one group against the rest)",
    "uncertainty": "Uncertainty (many passes)",
    "votes": "Number of votes",
}
"""Orders of the statements table, each highest first; the default is the first."""
DEFAULT_SORT = "consensus"
LIST_LENGTH = 10
COMMON_GROUND_BRIDGING = 0.6
COMMON_GROUND_MIN_VOTES = 20
DIVISIVE_AT = 0.3
UNCERTAIN_FLOOR = 0.2
THRESHOLDS = {
    "common_ground_pct": round(100 * COMMON_GROUND_BRIDGING),
    "common_ground_votes": COMMON_GROUND_MIN_VOTES,
    "divisive_points": round(100 * DIVISIVE_AT),
}


def report_sort_clean(sort: object) -> str:
    """The statements table's order from the query string, or a clear error."""
    if sort is None or sort == "":
        return DEFAULT_SORT
    if sort not in SORTS:
        raise InvalidInput(
            f"The statements table can be sorted by {', '.join(SORTS)}, not {sort!r}.",
            field="sort",
        )
    return str(sort)


@dataclass(frozen=True)
class GroupVotes:
    """One group's votes on one statement, as counts and as shares of the group's votes."""

    group_id: int
    letter: str
    agree: int
    disagree: int
    passes: int
    total: int
    p: float | None

    def _share(self, n: int) -> float:
        return round(100.0 * n / self.total, 1) if self.total else 0.0

    @property
    def label(self) -> str:
        return f"Group {self.letter}"

    @property
    def agree_pct(self) -> float:
        return self._share(self.agree)

    @property
    def disagree_pct(self) -> float:
        return self._share(self.disagree)

    @property
    def pass_pct(self) -> float:
        return self._share(self.passes)


@dataclass(frozen=True)
class StatementRow:
    """A statement with its votes per group and the shared metrics (metrics.md)."""

    id: int
    display_id: str
    text: str
    is_meta: bool
    is_seed: bool
    groups: list[GroupVotes]
    consensus: float | None
    bridging: float | None
    divisiveness: float | None
    polarization: float | None
    uncertainty: float | None

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)

    @property
    def common_ground(self) -> bool:
        return (
            self.bridging is not None
            and self.bridging >= COMMON_GROUND_BRIDGING
            and self.total >= COMMON_GROUND_MIN_VOTES
        )

    def sort_key(self, sort: str) -> float:
        value = self.total if sort == "votes" else getattr(self, sort)
        return float("-inf") if value is None else float(value)


@dataclass(frozen=True)
class Representative:
    statement: StatementRow
    direction: str
    p: float | None
    """Share of the group voting in ``direction`` (smoothed, as the clustering ranks it)."""

    @property
    def pct(self) -> int | None:
        return None if self.p is None else round(100 * self.p)


@dataclass(frozen=True)
class GroupReport:
    id: int
    letter: str
    size: int
    share_pct: float
    representative: list[Representative]

    @property
    def label(self) -> str:
        return f"Group {self.letter}"


@dataclass(frozen=True)
class Participation:
    participants: int
    participants_in_groups: int
    votes: int
    statements: int
    timeline: Timeline

    @property
    def below_threshold(self) -> int:
        return self.participants - self.participants_in_groups


@dataclass(frozen=True)
class Methodology:
    k: int
    max_k: int
    min_votes: int
    silhouette: dict[int, float | None]
    explained_variance: list[float | None]
    polarization: float | None
    excluded_participants: int
    moderated_out_statements: int
    meta_statements: int
    uncertain_threshold: float
    imported: bool

    @property
    def uncertain_threshold_pct(self) -> int:
        return round(100 * self.uncertain_threshold)


@dataclass(frozen=True)
class ReportContext:
    conversation: Conversation
    snapshot: Snapshot
    is_latest: bool
    participation: Participation
    groups: list[GroupReport]
    consensus: list[StatementRow]
    bridging: list[StatementRow]
    divisive: list[StatementRow]
    uncertain: list[StatementRow]
    statements: list[StatementRow]
    sort: str
    methodology: Methodology
    positions: npt.NDArray[Any]

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort].lower()


def _ranked(rows: list[StatementRow], metric: str) -> list[StatementRow]:
    return sorted(rows, key=lambda row: (-row.sort_key(metric), row.id))


def _statement_rows(
    results: dict[str, Any], letters: dict[int, str], statements: dict[int, Statement]
) -> list[StatementRow]:
    rows = []
    for key, stats in results["statements"].items():
        statement = statements.get(int(key))
        # Moderated-out statements never appear by text in the public report; one rejected
        # after the snapshot was taken is hidden from its frozen report too.
        if statement is None or stats["moderated_out"]:
            continue
        groups = [
            GroupVotes(
                group_id=int(gid),
                letter=letters[int(gid)],
                agree=tally["agree"],
                disagree=tally["disagree"],
                passes=tally["pass"],
                total=tally["total"],
                p=tally["p"],
            )
            for gid, tally in stats["groups"].items()
        ]
        rows.append(
            StatementRow(
                id=statement.pk,
                display_id=statement.display_id,
                text=statement.text,
                is_meta=stats["meta"],
                is_seed=statement.is_seed,
                groups=sorted(groups, key=lambda g: g.letter),
                consensus=stats["gac_norm"],
                bridging=stats["bridging"],
                divisiveness=stats["divisiveness"],
                polarization=stats["polarization"],
                uncertainty=stats["uncertainty"],
            )
        )
    return rows


def report_build(
    *, conversation: Conversation, snapshot: Snapshot, sort: str = DEFAULT_SORT
) -> ReportContext:
    """Everything the report shows for one succeeded snapshot (see the module docstring)."""
    results: dict[str, Any] = snapshot.results or {}
    groups_data = results.get("groups", [])
    letters = {int(g["id"]): GROUP_LETTERS[i % 26] for i, g in enumerate(groups_data)}
    statements = {
        s.pk: s
        for s in Statement.objects.filter(
            conversation=conversation,
            status=StatementStatus.ACCEPTED,
            pk__in=[int(key) for key in results.get("statements", {})],
        )
    }
    rows = _statement_rows(results, letters, statements)
    by_id = {row.id: row for row in rows}
    in_groups = sum(int(g["size"]) for g in groups_data)
    group_reports = [
        GroupReport(
            id=int(g["id"]),
            letter=letters[int(g["id"])],
            size=int(g["size"]),
            share_pct=round(100.0 * int(g["size"]) / in_groups, 1) if in_groups else 0.0,
            representative=[
                Representative(by_id[int(r["statement"])], r["direction"], r["p"])
                for r in g["representative"]
                if int(r["statement"]) in by_id
            ],
        )
        for g in groups_data
    ]
    ranked = [row for row in rows if not row.is_meta]
    uncertainties = [row.uncertainty for row in ranked if row.uncertainty is not None]
    uncertain_at = max(
        UNCERTAIN_FLOOR, float(np.percentile(uncertainties, 75)) if uncertainties else 0.0
    )
    latest = report_snapshot_get(conversation=conversation)
    timeline = participation_timeline(conversation=conversation, watermark=snapshot.watermark or 0)
    statement_flags = results.get("statements", {}).values()
    metrics = results.get("metrics", {})
    return ReportContext(
        conversation=conversation,
        snapshot=snapshot,
        is_latest=latest is not None and latest.pk == snapshot.pk,
        participation=Participation(
            participants=snapshot.n_participants or 0,
            participants_in_groups=snapshot.n_in_conv or 0,
            votes=snapshot.n_votes or 0,
            statements=snapshot.n_statements or 0,
            timeline=timeline,
        ),
        groups=group_reports,
        consensus=_ranked(ranked, "consensus")[:LIST_LENGTH],
        bridging=_ranked(ranked, "bridging")[:LIST_LENGTH],
        divisive=[
            row
            for row in _ranked(ranked, "divisiveness")
            if row.divisiveness is not None and row.divisiveness >= DIVISIVE_AT
        ][:LIST_LENGTH],
        uncertain=[
            row
            for row in _ranked(ranked, "uncertainty")
            if row.uncertainty is not None and row.uncertainty > uncertain_at
        ][:LIST_LENGTH],
        statements=_ranked(rows, sort),
        sort=sort,
        methodology=Methodology(
            k=int(results.get("k", len(groups_data))),
            max_k=Options().max_k,
            min_votes=MIN_VOTES_IN_CONV,
            silhouette={int(k): v for k, v in metrics.get("silhouette", {}).items()},
            explained_variance=list(metrics.get("explained_variance", [])),
            polarization=metrics.get("polarization"),
            excluded_participants=conversation.participants.filter(excluded=True).count(),
            moderated_out_statements=sum(1 for s in statement_flags if s["moderated_out"]),
            meta_statements=sum(1 for s in statement_flags if s["meta"]),
            uncertain_threshold=uncertain_at,
            imported=conversation.statements.filter(external_id__isnull=False).exists(),
        ),
        positions=snapshot.positions_array(),
    )
