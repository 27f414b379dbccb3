"""Server-rendered SVG charts for the report page and its PDF.

Plain SVG strings, so the browser and WeasyPrint draw the same picture and the page needs
no JavaScript to show it. Every chart carries a title and a description for screen readers;
the report puts the same numbers in a table beside it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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
"""Okabe-Ito colours, distinguishable with the common colour-vision deficiencies."""
_MAP_W = 640
_MAP_H = 420
_MAP_PAD = 24
_GRID = 48


@dataclass(frozen=True)
class MapGroup:
    id: int
    letter: str
    size: int


def group_colour(position: int) -> str:
    return GROUP_COLOURS[position % len(GROUP_COLOURS)]


def _hull(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Convex hull of 2-D points (Andrew's monotone chain), counter-clockwise."""
    unique = np.unique(points, axis=0)
    if len(unique) < 3:
        return unique

    def half(ordered: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
        chain: list[npt.NDArray[np.float64]] = []
        for p in ordered:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(unique), half(unique[::-1])
    return np.array(lower[:-1] + upper[:-1])


def opinion_map_svg(positions: npt.NDArray[Any], groups: Sequence[MapGroup]) -> SafeString:
    """The opinion map: participants as density dots, each group's outline, letter and size.

    ``positions`` is a snapshot's ``POSITION_DTYPE`` array. People the clustering did not
    place (too few votes) are drawn in grey beneath the groups. Dots are binned on a grid so
    the drawing stays small whatever the number of participants.
    """
    xy = np.column_stack([positions["x"], positions["y"]]).astype(np.float64)
    finite = np.isfinite(xy).all(axis=1)
    xy, group_of = xy[finite], positions["group"][finite]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_MAP_W} {_MAP_H}" '
        'class="opinion-map" role="img" aria-labelledby="map-t map-d">',
        '<title id="map-t">Opinion map</title>',
        '<desc id="map-d">Each dot is a cluster of participants placed by how they voted; '
        "people who voted alike are close together. Outlines mark the opinion groups. "
        "The table below gives the same groups and sizes.</desc>",
        f'<rect width="{_MAP_W}" height="{_MAP_H}" fill="#fff" stroke="#dfe3ea"/>',
    ]
    if len(xy) == 0:
        parts.append("</svg>")
        return mark_safe("".join(parts))  # no interpolated text
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    inner = np.array([_MAP_W - 2 * _MAP_PAD, _MAP_H - 2 * _MAP_PAD], dtype=np.float64)
    scale = float(min(inner / span))
    offset = _MAP_PAD + (inner - span * scale) / 2
    screen = (xy - low) * scale + offset
    # SVG's y axis points down; flip so the map reads like a plot.
    screen[:, 1] = _MAP_H - screen[:, 1]
    cell = np.floor(screen / (_MAP_W / _GRID)).astype(np.int64)
    layers: list[tuple[str, npt.NDArray[np.bool_], MapGroup | None]] = [
        ("#b8bfcc", group_of < 0, None)
    ]
    layers += [(group_colour(i), group_of == g.id, g) for i, g in enumerate(groups)]
    densest = 1
    binned = []
    for colour, members, group in layers:
        keys, inverse, counts = np.unique(
            cell[members], axis=0, return_inverse=True, return_counts=True
        )
        inside = screen[members]
        centres = (
            np.column_stack(
                [
                    np.bincount(inverse.ravel(), weights=inside[:, a], minlength=len(keys))
                    for a in (0, 1)
                ]
            )
            / np.maximum(counts, 1)[:, None]
        )
        densest = max(densest, int(counts.max()) if len(counts) else 1)
        binned.append((colour, members, group, centres, counts))
    for colour, members, group, centres, counts in binned:
        if group is not None and members.sum() >= 3:
            hull = _hull(screen[members])
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in hull)
            parts.append(
                f'<polygon points="{points}" fill="{colour}" fill-opacity="0.08" '
                f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>'
            )
        opacity = "0.45" if group is None else "0.75"
        for (x, y), n in zip(centres, counts, strict=True):
            radius = 1.5 + 5.5 * math.sqrt(n / densest)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{colour}" '
                f'fill-opacity="{opacity}"/>'
            )
    for colour, members, group, _, _ in binned:
        if group is None or not members.any():
            continue
        cx, cy = screen[members].mean(axis=0)
        parts.append(
            f'<g class="map-label"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="15" fill="#fff" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{cx:.1f}" y="{cy + 5:.1f}" text-anchor="middle" font-size="15" '
            f'font-weight="700" fill="{colour}">{escape(group.letter)}</text>'
            f'<text x="{cx:.1f}" y="{cy + 32:.1f}" text-anchor="middle" font-size="12" '
            f'fill="#1d2330" stroke="#fff" stroke-width="3" paint-order="stroke">'
            f"{group.size:,} people</text></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text is escaped above
