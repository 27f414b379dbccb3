"""The report's process section: figures from ``selectors.process`` drawn as small charts."""

from typing import Any

from django.utils.safestring import SafeString

from deliberation.models import Conversation, Snapshot
from deliberation.report.svg import SeriesPoint, time_series_svg
from deliberation.selectors.groups import snapshot_latest_id
from deliberation.selectors.process import (
    DEFINITIONS,
    ProcessSeries,
    minority_voices,
    opinion_change,
    process_series,
)
from deliberation.selectors.report import ReportContext

# (attribute, title, scale, definition): shares are drawn in percent.
_SERIES = (
    ("polarization", "Polarization", 1.0, "polarization"),
    ("k", "Number of groups", 1.0, "groups"),
    ("common_ground", "Statements on common ground (%)", 100.0, "common_ground"),
    ("early", "Common ground, early statements (%)", 100.0, "early_late"),
    ("late", "Common ground, late statements (%)", 100.0, "early_late"),
)


def process_charts(series: ProcessSeries) -> list[dict[str, Any]]:
    """One line chart per process series, with its reading and definition."""
    readings = series.readings
    charts = []
    for name, title, scale, defined_as in _SERIES:
        points = [
            SeriesPoint(p.at, float(getattr(p, name)) * scale)
            for p in series.points
            if getattr(p, name) is not None
        ]
        svg: SafeString = time_series_svg(
            points,
            title=title,
            description=f"{readings[name]} {DEFINITIONS[defined_as]}",
            kind="line",
        )
        charts.append({"name": name, "title": title, "svg": svg, "reading": readings[name]})
    return charts


def process_context(report: ReportContext) -> dict[str, Any]:
    """Everything ``report/_process.html`` shows, for one built report."""
    series = process_series(conversation=report.conversation, snapshot=report.snapshot)
    return {
        "process": {
            "series": series,
            "charts": process_charts(series),
            "change": opinion_change(conversation=report.conversation, snapshot=report.snapshot),
            "minority": minority_voices(report=report),
            "definitions": DEFINITIONS,
        }
    }


def process_charts_latest(*, conversation: Conversation) -> list[dict[str, Any]]:
    """The process charts up to the latest succeeded snapshot (the console dashboard's)."""
    snapshot_id = snapshot_latest_id(conversation=conversation)
    if snapshot_id is None:
        return []
    snapshot = Snapshot.objects.only("pk", "results").get(pk=snapshot_id)
    return process_charts(process_series(conversation=conversation, snapshot=snapshot))
