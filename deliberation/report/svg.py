"""Server-rendered SVG charts for the report page and its PDF.

Plain SVG strings, so the browser and WeasyPrint draw the same picture and the page needs
no JavaScript to show it. Every chart carries a title and a description for screen readers;
the report puts the same numbers in a table beside it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from deliberation.selectors.groups import OpinionMap

_WIDTH = 640
_HEIGHT = 200
_PAD_LEFT = 56
_PAD_RIGHT = 16
_PAD_TOP = 12
_PAD_BOTTOM = 28


@dataclass(frozen=True)
class SeriesPoint:
    at: datetime
    value: float


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``: a readable axis top."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def time_series_svg(
    points: Sequence[SeriesPoint], *, title: str, description: str, kind: str = "line"
) -> SafeString:
    """A line (cumulative totals) or bar (per-period counts) chart over time.

    ``points`` are in time order, one per period; an empty series draws an empty frame with
    its title so the page keeps its layout.
    """
    if kind not in ("line", "bars"):
        raise ValueError(f"Unknown chart kind {kind!r}.")
    plot_w = _WIDTH - _PAD_LEFT - _PAD_RIGHT
    plot_h = _HEIGHT - _PAD_TOP - _PAD_BOTTOM
    top = nice_ceiling(max((p.value for p in points), default=0.0))
    n = len(points)
    slot = plot_w / max(n, 1)

    def x_at(i: int) -> float:
        # Bars fill their slot; a line runs through the slots' centres.
        return _PAD_LEFT + slot * i + slot / 2

    def y_at(value: float) -> float:
        return _PAD_TOP + plot_h * (1 - value / top)

    chart_id = "chart-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = _PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{_PAD_LEFT}" x2="{_WIDTH - _PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#dfe3ea" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13" '
            f'fill="#5b6475">{_number(top * fraction)}</text>'
        )
    if kind == "bars":
        bar_w = max(slot * 0.8, 0.5)
        for i, point in enumerate(points):
            y = y_at(point.value)
            parts.append(
                f'<rect x="{x_at(i) - bar_w / 2:.2f}" y="{y:.2f}" width="{bar_w:.2f}" '
                f'height="{_PAD_TOP + plot_h - y:.2f}" fill="#3451b2"/>'
            )
    elif points:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x_at(i):.2f},{y_at(p.value):.2f}"
            for i, p in enumerate(points)
        )
        parts.append(f'<path d="{path}" fill="none" stroke="#3451b2" stroke-width="2"/>')
    if points:
        # First, middle and last period labels: enough to read the span without crowding.
        for i in sorted({0, n // 2, n - 1}):
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(
                f'<text x="{x_at(i):.2f}" y="{_HEIGHT - 8}" text-anchor="{anchor}" '
                f'font-size="13" fill="#5b6475">{points[i].at:%Y-%m-%d}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text is escaped above


GROUP_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f6d00")
"""Okabe-Ito colours, distinguishable with the common colour-vision deficiencies and clear of
the agree green. The one palette for groups: the report's swatches and bars and the
participants' groups panel all take their colours from ``group_colour``."""
UNGROUPED = "#9aa1ad"


def group_colour(label: str | None) -> str:
    """The colour of group A, B, C...; grey for people outside any group."""
    if label is None or len(label) != 1 or not "A" <= label <= "Z":
        return UNGROUPED
    return GROUP_COLOURS[(ord(label) - ord("A")) % len(GROUP_COLOURS)]


def opinion_map_svg(opinion_map: OpinionMap) -> SafeString:
    """The opinion map of the groups selectors (``deliberation.selectors.groups``) drawn for
    the report: each group's outline, its letter and size, and the participants as dots or,
    in large conversations, as a density grid."""
    size = opinion_map.size
    what = (
        "each shaded square is a cluster of participants"
        if opinion_map.density
        else "each dot is a participant, grey when too few votes placed them in a group"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        'class="opinion-map" role="img" aria-labelledby="map-t map-d">',
        '<title id="map-t">Opinion map</title>',
        f'<desc id="map-d">People who voted alike are close together; {what}. Outlines mark '
        "the opinion groups. The table below gives the same groups and sizes.</desc>",
        f'<rect width="{size}" height="{size}" fill="#fff"/>',
    ]
    for hull in opinion_map.hulls:
        colour = group_colour(hull.label)
        parts.append(
            f'<polygon points="{escape(hull.points)}" fill="{colour}" fill-opacity="0.08" '
            f'stroke="{colour}" stroke-width="1.5" stroke-linejoin="round"/>'
        )
    for dot in opinion_map.dots:
        if opinion_map.density:
            parts.append(
                f'<rect x="{dot.x - 5:.1f}" y="{dot.y - 5:.1f}" width="10" height="10" '
                f'fill="{UNGROUPED}" fill-opacity="{0.15 + 0.85 * dot.weight:.2f}"/>'
            )
        else:
            parts.append(
                f'<circle cx="{dot.x:.1f}" cy="{dot.y:.1f}" r="2.5" '
                f'fill="{group_colour(dot.group_label)}" fill-opacity="0.7"/>'
            )
    for hull in opinion_map.hulls:
        colour, x, y = group_colour(hull.label), hull.label_x, hull.label_y
        parts.append(
            f'<g><circle cx="{x:.1f}" cy="{y:.1f}" r="12" fill="#fff" stroke="{colour}" '
            f'stroke-width="2"/><text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" '
            f'font-size="13" font-weight="700" fill="{colour}">{escape(hull.label)}</text>'
            f'<text x="{x:.1f}" y="{y + 27:.1f}" text-anchor="middle" font-size="11" '
            'font-weight="600" fill="#1d2330">'
            f"{hull.size:,} people</text></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text is escaped above
