"""The dashboard's activity charts, drawn with the report's server-side SVG charts."""

from dataclasses import dataclass

from django.utils.safestring import SafeString

from deliberation.report.svg import SeriesPoint, time_series_svg
from deliberation.selectors.moderation import ActivitySeries


@dataclass(frozen=True)
class Chart:
    title: str
    total: int
    svg: SafeString


def activity_charts(series: ActivitySeries) -> list[Chart]:
    """One cumulative line chart each for participants, votes and statements."""
    charts = []
    for title, totals in (
        ("Participants", series.participants),
        ("Votes", series.votes),
        ("Statements", series.statements),
    ):
        points = [SeriesPoint(at, total) for at, total in zip(series.times, totals, strict=True)]
        total = totals[-1] if totals else 0
        svg = time_series_svg(
            points,
            title=f"{title} over time",
            description=f"{title}, cumulative by {series.bucket}: {total} in all.",
        )
        charts.append(Chart(title, total, svg))
    return charts
