"""Reads behind the public report: who may see it, which snapshot, and what it shows.

``report_build`` turns one succeeded snapshot into everything the report page, its PDF and
its exports show. Every number comes from the snapshot's stored results or from the vote
log up to its watermark, so a frozen report (``/report/<slug>/<snapshot id>/``) reads the
same tomorrow as today.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import Count, F, Max, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import TruncHour

from clustering.pipeline import MIN_VOTES_IN_CONV, Options
from deliberation.errors import InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    AICall,
    AIPurpose,
    AuditAction,
    AuditLogEntry,
    BridgingSuggestion,
    Conversation,
    ReportVisibility,
    Snapshot,
    SnapshotStatus,
    SnapshotSummary,
    Statement,
    StatementStatus,
    SuggestionStatus,
    SummarySource,
    Visibility,
    VoteEvent,
)
from deliberation.report.svg import group_colour
from deliberation.selectors.assistant import ai_ledger_totals, conversation_for_operator
from deliberation.selectors.conversations import (
    conversation_get,
)
from deliberation.selectors.groups import (
    BULKY_FIELDS,
    OpinionMap,
    group_label,
    opinion_map,
    report_refusal,
    snapshot_latest_id,
)
from deliberation.selectors.moderation import audit_counts_by_action

if TYPE_CHECKING:
    from deliberation.selectors.topics import TopicReport

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
        return conversation_for_operator(slug=slug)
    conversation = conversation_get(slug=slug, user=user)
    refusal = report_refusal(conversation=conversation, user=user)
    if refusal is not None:
        raise PermissionDenied(refusal)
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

    The log is append-only, so the same watermark always gives the same timeline: it is
    cached (a week). One grouped scan counts events per (participant, hour); periods are then
    widened to days or weeks for longer conversations so the chart stays readable.
    """
    # The creation time keeps a recreated database (tests, a restored backup) from reading
    # another conversation's timeline under a reused id.
    key = f"report:timeline:v1:{conversation.pk}:{conversation.created_at.timestamp()}:{watermark}"
    cached: Timeline | None = cache.get(key)
    if cached is None:
        cached = _timeline(conversation, watermark)
        # Valid for good, but kept a week only: every cache key has a TTL, so the cache
        # database can evict under volatile-lru (README, Production).
        cache.set(key, cached, timeout=7 * 24 * 3600)
    return cached


def _timeline(conversation: Conversation, watermark: int) -> Timeline:
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
    not a succeeded snapshot of this conversation is NotFound. The bulky results load only
    when read, so a report served from the cache never fetches them.
    """
    succeeded = Snapshot.objects.filter(
        conversation=conversation, status=SnapshotStatus.SUCCEEDED
    ).defer(*BULKY_FIELDS)
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


def report_freshness(*, conversation: Conversation, snapshot: Snapshot) -> str:
    """A token that changes whenever something a snapshot's report shows changes after the
    snapshot: a moderator's action (all are audited), an AI call (summaries arrive after
    the snapshot), a bridging suggestion's decision or its real votes.

    One query: every report view, cached or not, pays it before it may use the cache.
    """
    bridges = BridgingSuggestion.objects.filter(conversation=OuterRef("pk")).values("conversation")
    token = (
        Conversation.objects.filter(pk=conversation.pk)
        .values(
            audit=_last_id(AuditLogEntry.objects.filter(conversation=OuterRef("pk"))),
            ai=_last_id(AICall.objects.filter(conversation=OuterRef("pk"))),
            summary=_last_id(SnapshotSummary.objects.filter(snapshot=snapshot)),
            decided=Subquery(bridges.annotate(last=Max("decided_at")).values("last")),
            votes=Subquery(bridges.annotate(total=Sum("realised_votes")).values("total")),
        )
        .get()
    )
    decided = token["decided"].timestamp() if token["decided"] else 0
    return (
        f"{token['audit'] or 0}.{token['ai'] or 0}.{token['summary'] or 0}."
        f"{decided:.0f}.{token['votes'] or 0}"
    )


def _last_id(rows: QuerySet[Any]) -> Subquery:
    return Subquery(rows.order_by("-id").values("id")[:1])


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


class _GroupNamed:
    """The letter, label and colour of a group, the same on every part of the report."""

    group_id: int

    @property
    def letter(self) -> str:
        return group_label(self.group_id)

    @property
    def label(self) -> str:
        return f"Group {self.letter}"

    @property
    def colour(self) -> str:
        return group_colour(self.letter)


@dataclass(frozen=True)
class GroupVotes(_GroupNamed):
    """One group's votes on one statement, as counts and as shares of the group's votes.

    The ``*_text`` forms are formatted here, once: the statements table repeats them
    thousands of times, and Django's number filters would dominate its rendering.
    """

    group_id: int
    agree: int
    disagree: int
    passes: int
    total: int
    p: float | None

    def _share(self, n: int) -> float:
        return 100.0 * n / self.total if self.total else 0.0

    @cached_property
    def bar_stops(self) -> tuple[str, str]:
        """Where the agree part of a bar ends, and where the disagree part ends, in whole
        percent: the bar's classes (s1-N, s2-N) name them."""
        return (
            f"{self._share(self.agree):.0f}",
            f"{self._share(self.agree + self.disagree):.0f}",
        )

    @cached_property
    def shares_text(self) -> str:
        agree, disagree, passes = (
            round(self._share(n)) for n in (self.agree, self.disagree, self.passes)
        )
        return (
            f"{self.label}: {agree}% agree, {disagree}% disagree, {passes}% pass, "
            f"of {self.total} votes"
        )

    @cached_property
    def figures_text(self) -> str:
        return (
            f"{round(self._share(self.agree))}% · {round(self._share(self.disagree))}% · "
            f"{self.total}"
        )


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

    @cached_property
    def metrics_text(self) -> dict[str, str]:
        """Each metric to two decimals, and exactly (``<name>_exact``) for sorting in place."""
        texts = {}
        for name in ("consensus", "bridging", "divisiveness", "uncertainty"):
            value = getattr(self, name)
            texts[name] = "" if value is None else f"{value:.2f}"
            texts[f"{name}_exact"] = "" if value is None else repr(value)
        return texts


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
class SummarySentence:
    text: str
    stance: str
    citations: list[StatementRow]
    missing: list[str]
    """Cited ids no longer in the report (moderated out since): shown, never silently lost."""


@dataclass(frozen=True)
class Summary:
    source: str
    sentences: list[SummarySentence]

    @property
    def by_model(self) -> bool:
        return self.source == SummarySource.LLM


@dataclass(frozen=True)
class GroupReport(_GroupNamed):
    group_id: int
    size: int
    share_pct: float
    representative: list[Representative]
    summary: Summary | None


@dataclass(frozen=True)
class BridgeGroup(_GroupNamed):
    group_id: int
    forecast: float | None
    real: float | None


@dataclass(frozen=True)
class BridgeReport:
    """An approved AI-suggested bridging statement: forecast against real agreement."""

    text: str
    statement_id: int | None
    source: str
    forecast_bridging: float | None
    """None: no similar, well-voted statement to forecast from."""
    groups: list[BridgeGroup]
    realised_votes: int
    forecast_error: float | None


@dataclass(frozen=True)
class AIUse:
    """The AI ledger in brief: which models, what was asked, what came of it."""

    totals: dict[str, int]
    models: list[str]
    by_purpose: list[tuple[str, int]]
    bridging: dict[str, int]


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
    moderation: list[tuple[str, int]]
    ai: AIUse
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


SENSITIVITY_TOP = 5
"""How many of the top consensus statements the sensitivity line compares."""


@dataclass(frozen=True)
class Sensitivity:
    """The outcome with and without the participants the abuse signals flagged
    (services/sensitivity.py): the number of groups and the top consensus statements."""

    flagged: int
    k: int
    k_without: int
    entered: list[StatementRow]
    """In the top consensus without the flagged participants, not with them."""
    left: list[StatementRow]
    """In the top consensus with the flagged participants, not without them."""

    @property
    def same_k(self) -> bool:
        return self.k == self.k_without

    @property
    def consensus_unchanged(self) -> bool:
        return not self.entered and not self.left

    @property
    def changes(self) -> list[tuple[StatementRow, str]]:
        return [(row, "joins them") for row in self.entered] + [
            (row, "drops out") for row in self.left
        ]


def _sensitivity(
    stored: dict[str, Any] | None, rows: dict[int, StatementRow]
) -> Sensitivity | None:
    """The stored comparison, with statements resolved to what the report may quote (accepted,
    not meta). None for a snapshot computed before the comparison existed."""
    if stored is None or stored.get("unavailable"):
        return None
    if not stored.get("flagged"):
        return Sensitivity(0, 0, 0, [], [])

    def top(ids: list[int]) -> list[int]:
        shown = [pk for pk in ids if pk in rows and not rows[pk].is_meta]
        return shown[:SENSITIVITY_TOP]

    with_flagged, without = top(stored["top_consensus"]), top(stored["top_consensus_without"])
    return Sensitivity(
        flagged=int(stored["flagged"]),
        k=int(stored["k"]),
        k_without=int(stored["k_without"]),
        entered=[rows[pk] for pk in without if pk not in with_flagged],
        left=[rows[pk] for pk in with_flagged if pk not in without],
    )


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
    opinion_map: OpinionMap
    overview: Summary | None
    summary_limitations: list[str]
    bridges: list[BridgeReport]
    sensitivity: Sensitivity | None
    topics: list["TopicReport"] = field(default_factory=list)

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort].lower()


def _summary(stored: dict[str, Any], rows: dict[str, StatementRow]) -> Summary | None:
    """A stored summary (SnapshotSummary's shape) with its citations resolved to statements."""
    if not stored.get("sentences"):
        return None
    return Summary(
        source=stored.get("source", ""),
        sentences=[
            SummarySentence(
                text=sentence["text"],
                stance=sentence.get("stance", ""),
                citations=[rows[str(c)] for c in sentence.get("citations", []) if str(c) in rows],
                missing=[str(c) for c in sentence.get("citations", []) if str(c) not in rows],
            )
            for sentence in stored["sentences"]
        ],
    )


def _bridges(conversation: Conversation) -> list[BridgeReport]:
    """Approved bridging suggestions, with the real agreement the assistant recorded from the
    latest snapshot beside each group's forecast."""
    return [
        BridgeReport(
            text=suggestion.text,
            statement_id=suggestion.statement_id,
            source=suggestion.source,
            forecast_bridging=suggestion.forecast_bridging,
            groups=[
                BridgeGroup(
                    group_id=int(gid),
                    forecast=forecast,
                    real=(suggestion.realised.get(gid) or {}).get("real"),
                )
                for gid, forecast in sorted(suggestion.forecast.items(), key=lambda i: int(i[0]))
            ],
            realised_votes=suggestion.realised_votes,
            forecast_error=suggestion.forecast_error,
        )
        # Approval made it a statement; once moderated out or sent back to pending, its text
        # is no longer public.
        for suggestion in BridgingSuggestion.objects.filter(
            conversation=conversation,
            status=SuggestionStatus.APPROVED,
            statement__status=StatementStatus.ACCEPTED,
        ).order_by(F("forecast_bridging").desc(nulls_last=True), "id")
    ]


def _ai_use(conversation: Conversation) -> AIUse:
    calls = AICall.objects.filter(conversation=conversation)
    return AIUse(
        totals=ai_ledger_totals(conversation=conversation),
        models=sorted(
            set(calls.exclude(model="").exclude(provider="offline").values_list("model", flat=True))
        ),
        by_purpose=[
            (AIPurpose(purpose).label, n)
            for purpose, n in calls.values_list("purpose")
            .annotate(n=Count("id"))
            .order_by("purpose")
        ],
        bridging=dict(
            BridgingSuggestion.objects.filter(conversation=conversation)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by("status")
        ),
    )


def _ranked(rows: list[StatementRow], metric: str) -> list[StatementRow]:
    return sorted(rows, key=lambda row: (-row.sort_key(metric), row.id))


def _statement_rows(
    results: dict[str, Any], statements: dict[int, Statement]
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
                groups=sorted(groups, key=lambda g: g.group_id),
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
    from deliberation.selectors.topics import topics_report  # It builds on this module.

    results: dict[str, Any] = snapshot.results or {}
    groups_data = results.get("groups", [])
    statements = {
        s.pk: s
        for s in Statement.objects.filter(
            conversation=conversation,
            status=StatementStatus.ACCEPTED,
            pk__in=[int(key) for key in results.get("statements", {})],
        )
    }
    rows = _statement_rows(results, statements)
    by_id = {row.id: row for row in rows}
    stored_summary = SnapshotSummary.objects.filter(snapshot=snapshot).first()
    by_display_id = {row.display_id: row for row in rows}
    summaries = {
        int(group["id"]): _summary(group, by_display_id)
        for group in (stored_summary.groups if stored_summary else [])
    }
    in_groups = sum(int(g["size"]) for g in groups_data)
    group_reports = [
        GroupReport(
            group_id=int(g["id"]),
            size=int(g["size"]),
            share_pct=round(100.0 * int(g["size"]) / in_groups, 1) if in_groups else 0.0,
            representative=[
                Representative(by_id[int(r["statement"])], r["direction"], r["p"])
                for r in g["representative"]
                if int(r["statement"]) in by_id
            ],
            summary=summaries.get(int(g["id"])),
        )
        for g in groups_data
    ]
    ranked = [row for row in rows if not row.is_meta]
    uncertainties = [row.uncertainty for row in ranked if row.uncertainty is not None]
    uncertain_at = max(
        UNCERTAIN_FLOOR, float(np.percentile(uncertainties, 75)) if uncertainties else 0.0
    )
    timeline = participation_timeline(conversation=conversation, watermark=snapshot.watermark or 0)
    statement_flags = results.get("statements", {}).values()
    metrics = results.get("metrics", {})
    return ReportContext(
        conversation=conversation,
        snapshot=snapshot,
        is_latest=snapshot_latest_id(conversation=conversation) == snapshot.pk,
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
            moderation=[
                (AuditAction(action).label if action in AuditAction.values else action, n)
                for action, n in audit_counts_by_action(conversation=conversation).items()
            ],
            ai=_ai_use(conversation),
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
        opinion_map=opinion_map(snapshot=snapshot, participant=None),
        overview=_summary(stored_summary.overview, by_display_id) if stored_summary else None,
        summary_limitations=list(stored_summary.limitations) if stored_summary else [],
        bridges=_bridges(conversation),
        sensitivity=_sensitivity(results.get("sensitivity"), by_id),
        topics=topics_report(conversation=conversation, rows=rows),
    )
