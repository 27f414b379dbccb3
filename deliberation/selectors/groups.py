"""Reading the opinion groups: the latest snapshot, where a participant stands, the history.

Everything here reads the latest *succeeded* snapshot; a queued, running or failed run never
hides the last good groups.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import QuerySet
from scipy.spatial import ConvexHull, QhullError

from deliberation.errors import NotFound, PermissionDenied
from deliberation.models import (
    Conversation,
    Participant,
    ReportVisibility,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    Vote,
)
from deliberation.selectors.conversations import (
    WriteState,
    conversation_can_moderate,
    conversation_write_state,
)

BULKY_FIELDS = ("state", "results", "positions")
# Above this many participants the map draws a density grid instead of one dot each: an
# SVG with tens of thousands of circles is slow on the phones most participants use.
MAP_MAX_POINTS = 1500
MAP_GRID = 36
MAP_SIZE = 400
MAP_MARGIN = 24


def group_label(group_id: int) -> str:
    """How people name a group: A, B, C... (ids are stable across runs)."""
    return chr(ord("A") + group_id) if 0 <= group_id < 26 else f"G{group_id}"


def _succeeded(conversation_id: int) -> QuerySet[Snapshot]:
    return Snapshot.objects.filter(
        conversation_id=conversation_id, status=SnapshotStatus.SUCCEEDED
    ).order_by("-id")


def snapshot_latest(*, conversation: Conversation) -> Snapshot | None:
    """The latest succeeded snapshot, with its results, or None before the first one."""
    return _succeeded(conversation.pk).defer("state").first()


def snapshot_latest_id(*, conversation: Conversation) -> int | None:
    """The id of the latest succeeded snapshot: what the page polls to notice a new one."""
    return _succeeded(conversation.pk).values_list("pk", flat=True).first()


def report_refusal(
    *, conversation: Conversation, user: AbstractBaseUser | AnonymousUser | None
) -> str | None:
    """Why someone who can see the conversation may not read its results (the report, and
    the live groups that are its content), or None if they may. Pages use it to decide
    whether to link to the report at all."""
    if conversation_can_moderate(conversation=conversation, user=user):
        return None
    if conversation.report_visibility == ReportVisibility.MODERATORS:
        return "The moderators of this conversation keep its report private."
    if (
        conversation.report_visibility == ReportVisibility.AFTER_CLOSE
        and conversation_write_state(conversation=conversation) != WriteState.CLOSED
    ):
        return "The report of this conversation is published once it closes."
    return None


def groups_refusal(
    *, conversation: Conversation, user: AbstractBaseUser | AnonymousUser | None
) -> str | None:
    """Why this person may not see the opinion groups, or None if they may: the one decision
    every groups view (API, pages, assistant) takes. The groups are the report's content, so
    they are at most as visible as the report; moderators can also hide them from
    participants alone."""
    refusal = report_refusal(conversation=conversation, user=user)
    if refusal is not None:
        return refusal
    if conversation.show_groups or conversation_can_moderate(conversation=conversation, user=user):
        return None
    return "The moderators have not shared this conversation's groups."


def groups_visible(
    *, conversation: Conversation, user: AbstractBaseUser | AnonymousUser | None
) -> bool:
    return groups_refusal(conversation=conversation, user=user) is None


def groups_require_visible(
    *, conversation: Conversation, user: AbstractBaseUser | AnonymousUser | None
) -> None:
    """Refuse, with a clear error, a person the groups are hidden from."""
    refusal = groups_refusal(conversation=conversation, user=user)
    if refusal is not None:
        raise PermissionDenied(refusal)


def snapshot_latest_for_viewer(
    *, conversation: Conversation, user: AbstractBaseUser | AnonymousUser | None
) -> Snapshot:
    """The latest succeeded snapshot if this person may see the groups, else a clear error."""
    groups_require_visible(conversation=conversation, user=user)
    snapshot = snapshot_latest(conversation=conversation)
    if snapshot is None:
        raise NotFound(
            "No opinion groups yet: they appear a few seconds after the first votes.",
            field="snapshot",
        )
    return snapshot


def snapshot_failure_latest(*, conversation: Conversation) -> Snapshot | None:
    """The latest run, if it failed: its error is for moderators (the public API omits it)."""
    latest = (
        Snapshot.objects.filter(
            conversation=conversation,
            status__in=[SnapshotStatus.SUCCEEDED, SnapshotStatus.FAILED],
        )
        .defer(*BULKY_FIELDS)
        .order_by("-id")
        .first()
    )
    return latest if latest is not None and latest.status == SnapshotStatus.FAILED else None


def snapshot_history(*, conversation: Conversation) -> QuerySet[Snapshot]:
    """Every kept snapshot, newest first, without the bulky columns."""
    return Snapshot.objects.filter(conversation=conversation).defer(*BULKY_FIELDS).order_by("-id")


def participant_groups_latest(*, conversation: Conversation) -> dict[int, int]:
    """Participant id to group id in the latest snapshot, for participants in a group."""
    snapshot = _succeeded(conversation.pk).only("positions").first()
    return {} if snapshot is None else snapshot_groups(snapshot=snapshot)


def snapshot_groups(*, snapshot: Snapshot) -> dict[int, int]:
    """Participant id to group id, for the people the snapshot placed in a group."""
    positions = snapshot.positions_array()
    placed = positions[positions["group"] >= 0]
    return dict(zip(placed["participant"].tolist(), placed["group"].tolist(), strict=True))


def statement_extremity_latest(*, conversation_id: int) -> dict[int, float]:
    """Statement id to extremity in the latest snapshot, for the routing priority.

    Cached per snapshot: the next-statement draw runs on every vote and must not parse the
    snapshot's results each time.
    """
    snapshot_id = _succeeded(conversation_id).values_list("pk", flat=True).first()
    if snapshot_id is None:
        return {}
    key = f"agora:extremity:{snapshot_id}"
    extremity: dict[int, float] | None = cache.get(key)
    if extremity is None:
        statements = Snapshot.objects.values_list("results__statements", flat=True).get(
            pk=snapshot_id
        )
        extremity = {
            int(sid): float(stats.get("extremity") or 0.0)
            for sid, stats in (statements or {}).items()
        }
        cache.set(key, extremity, timeout=3600)
    return extremity


@dataclass(frozen=True)
class StatementRef:
    id: int
    external_id: str | None
    text: str


@dataclass(frozen=True)
class Tally:
    agree: int
    disagree: int
    passes: int

    @property
    def total(self) -> int:
        return self.agree + self.disagree + self.passes

    @property
    def majority(self) -> int | None:
        """The value most of these voters chose (1, -1 or 0), None on a tie or no votes."""
        counts = {1: self.agree, -1: self.disagree, 0: self.passes}
        best = max(counts.values())
        winners = [value for value, count in counts.items() if count == best]
        return winners[0] if best > 0 and len(winners) == 1 else None


@dataclass(frozen=True)
class RepresentativeView:
    statement: StatementRef
    direction: str
    p: float | None
    tally: Tally


@dataclass(frozen=True)
class GroupView:
    id: int
    label: str
    size: int
    agrees: list[RepresentativeView]
    disagrees: list[RepresentativeView]

    @property
    def representative(self) -> list[RepresentativeView]:
        return self.agrees + self.disagrees


@dataclass(frozen=True)
class ConsensusView:
    statement: StatementRef
    direction: str
    p: float | None


@dataclass(frozen=True)
class StatementStatsView:
    statement: StatementRef
    groups: dict[int, Tally]
    gac: float | None
    gac_norm: float | None
    bridging: float | None
    polarization: float | None
    divisiveness: float | None
    extremity: float | None
    priority: float | None
    cn_intercept: float | None


@dataclass(frozen=True)
class GroupsView:
    snapshot: Snapshot
    groups: list[GroupView]
    consensus: list[ConsensusView]
    statements: list[StatementStatsView] = field(repr=False)

    @property
    def k(self) -> int:
        return len(self.groups)


def _tally(numbers: dict[str, Any]) -> Tally:
    return Tally(int(numbers["agree"]), int(numbers["disagree"]), int(numbers["pass"]))


def groups_view(*, snapshot: Snapshot) -> GroupsView:
    """The snapshot's groups, consensus and statement statistics, with the statements' texts.

    Every reader of this view is public (the API, the pages, the assistant and the summaries
    it writes), so it holds accepted statements only, as they are now: one rejected or sent
    back to pending after the snapshot drops out of it.
    """
    results = snapshot.results or {}
    stats: dict[str, dict[str, Any]] = results.get("statements", {})
    refs = {
        pk: StatementRef(pk, external_id, text)
        for pk, external_id, text in Statement.objects.filter(
            pk__in=[int(sid) for sid in stats], status=StatementStatus.ACCEPTED
        ).values_list("pk", "external_id", "text")
    }

    def group_tally(statement_id: str, group_id: int) -> Tally:
        return _tally(stats[statement_id]["groups"][str(group_id)])

    groups = []
    for group in results.get("groups", []):
        representative = [
            RepresentativeView(
                statement=refs[int(item["statement"])],
                direction=item["direction"],
                p=item["p"],
                tally=group_tally(item["statement"], group["id"]),
            )
            for item in group["representative"]
            if int(item["statement"]) in refs
        ]
        groups.append(
            GroupView(
                id=group["id"],
                label=group_label(group["id"]),
                size=group["size"],
                agrees=[r for r in representative if r.direction == "agree"],
                disagrees=[r for r in representative if r.direction == "disagree"],
            )
        )
    consensus = [
        ConsensusView(statement=refs[int(item["statement"])], direction=direction, p=item["p"])
        for direction in ("agree", "disagree")
        for item in results.get("consensus", {}).get(direction, [])
        if int(item["statement"]) in refs
    ]
    statements = [
        StatementStatsView(
            statement=refs[int(sid)],
            groups={int(gid): _tally(numbers) for gid, numbers in item["groups"].items()},
            **{
                name: item.get(name)
                for name in (
                    "gac",
                    "gac_norm",
                    "bridging",
                    "polarization",
                    "divisiveness",
                    "extremity",
                    "priority",
                    "cn_intercept",
                )
            },
        )
        for sid, item in stats.items()
        if int(sid) in refs
    ]
    return GroupsView(snapshot=snapshot, groups=groups, consensus=consensus, statements=statements)


@dataclass(frozen=True)
class Comparison:
    statement: StatementRef
    mine: int
    group_majority: int | None

    @property
    def agrees_with_group(self) -> bool:
        return self.mine == self.group_majority


@dataclass(frozen=True)
class MyPosition:
    snapshot: Snapshot
    participant: Participant
    in_snapshot: bool
    in_conv: bool
    group: GroupView | None
    x: float | None
    y: float | None
    comparisons: list[Comparison]


def participant_position(*, view: GroupsView, participant: Participant) -> MyPosition:
    """Where this participant stands in the snapshot, and their votes against their group's."""
    positions = view.snapshot.positions_array()
    row = int(np.searchsorted(positions["participant"], participant.pk))
    found = row < len(positions) and int(positions["participant"][row]) == participant.pk
    group_id = int(positions["group"][row]) if found else -1
    group = next((g for g in view.groups if g.id == group_id), None)
    comparisons: list[Comparison] = []
    if group is not None:
        by_statement = {s.statement.id: s for s in view.statements}
        for statement_id, value in (
            Vote.objects.filter(participant=participant).order_by("statement_id")
        ).values_list("statement_id", "value"):
            stats = by_statement.get(statement_id)
            if stats is not None and group.id in stats.groups:
                comparisons.append(
                    Comparison(stats.statement, value, stats.groups[group.id].majority)
                )
    return MyPosition(
        snapshot=view.snapshot,
        participant=participant,
        in_snapshot=found,
        in_conv=bool(positions["in_conv"][row]) if found else False,
        group=group,
        x=float(positions["x"][row]) if found else None,
        y=float(positions["y"][row]) if found else None,
        comparisons=comparisons,
    )


@dataclass(frozen=True)
class MapDot:
    x: float
    y: float
    group_label: str | None
    weight: float = 1.0


@dataclass(frozen=True)
class MapHull:
    label: str
    size: int
    points: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class OpinionMap:
    size: int
    dots: list[MapDot]
    density: bool
    hulls: list[MapHull]
    me: MapDot | None
    rows: list[tuple[str, int, float, float]]


def opinion_map(*, snapshot: Snapshot, participant: Participant | None) -> OpinionMap:
    """The participants' positions scaled into an SVG square, with group outlines.

    Dots (or, for large conversations, a density grid), each group's convex hull with its
    label at the group's centre, and the participant's own position. ``rows`` is the table
    alternative: label, size and centre of each group.
    """
    positions = snapshot.positions_array()
    xy = np.column_stack([positions["x"], positions["y"]]).astype(np.float64)
    groups = positions["group"]
    if len(xy):
        low, high = xy.min(axis=0), xy.max(axis=0)
        span = float(max((high - low).max(), 1e-9))
        inner = MAP_SIZE - 2 * MAP_MARGIN
        # One scale for both axes keeps the distances between people true.
        scaled = (xy - low) / span * inner + MAP_MARGIN
        # SVG's y grows downwards.
        scaled[:, 1] = MAP_SIZE - scaled[:, 1]
    else:
        scaled = xy
    density = len(xy) > MAP_MAX_POINTS
    if density:
        cells = np.clip((scaled / MAP_SIZE * MAP_GRID).astype(np.int64), 0, MAP_GRID - 1)
        flat = cells[:, 0] * MAP_GRID + cells[:, 1]
        counts = np.bincount(flat, minlength=MAP_GRID * MAP_GRID)
        cell = MAP_SIZE / MAP_GRID
        top = counts.max()
        dots = [
            MapDot((i // MAP_GRID + 0.5) * cell, (i % MAP_GRID + 0.5) * cell, None, c / top)
            for i, c in enumerate(counts.tolist())
            if c
        ]
    else:
        dots = [
            MapDot(float(x), float(y), group_label(int(g)) if g >= 0 else None)
            for (x, y), g in zip(scaled.tolist(), groups.tolist(), strict=True)
        ]
    hulls: list[MapHull] = []
    rows: list[tuple[str, int, float, float]] = []
    for group_id in sorted(set(groups[groups >= 0].tolist())):
        in_group = groups == group_id
        members = scaled[in_group]
        centre = members.mean(axis=0)
        label = group_label(group_id)
        # The table gives the centre in the analysis' own units, not the map's.
        raw_x, raw_y = xy[in_group].mean(axis=0).tolist()
        rows.append((label, len(members), raw_x, raw_y))
        hulls.append(
            MapHull(label, len(members), _hull_points(members), float(centre[0]), float(centre[1]))
        )
    me = None
    if participant is not None and len(positions):
        row = int(np.searchsorted(positions["participant"], participant.pk))
        if row < len(positions) and int(positions["participant"][row]) == participant.pk:
            g = int(groups[row])
            me = MapDot(
                float(scaled[row, 0]), float(scaled[row, 1]), group_label(g) if g >= 0 else None
            )
    return OpinionMap(MAP_SIZE, dots, density, hulls, me, rows)


def _hull_points(members: np.ndarray) -> str:
    """The SVG ``points`` of a group's outline (a convex hull, or a small diamond)."""
    unique = np.unique(np.round(members, 2), axis=0)
    outline = unique
    if len(unique) >= 3:
        try:
            outline = unique[ConvexHull(unique).vertices]
        except QhullError:  # all members on one line
            outline = unique[[0, -1]]
    if len(outline) < 3:
        # A group stacked on one point or a line still gets a visible outline.
        cx, cy = outline.mean(axis=0)
        pad = 6.0
        outline = np.array([[cx, cy - pad], [cx + pad, cy], [cx, cy + pad], [cx - pad, cy]])
        if len(unique) == 2:
            (x0, y0), (x1, y1) = unique
            outline = np.array([[x0 - pad, y0], [x1, y1 - pad], [x1 + pad, y1], [x0, y0 + pad]])
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in outline if math.isfinite(x + y))
