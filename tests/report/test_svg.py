import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from deliberation.report.svg import (
    GROUP_COLOURS,
    UNGROUPED,
    SeriesPoint,
    group_colour,
    nice_ceiling,
    opinion_map_svg,
    time_series_svg,
)
from deliberation.selectors.groups import MapDot, MapHull, OpinionMap

SVG = "{http://www.w3.org/2000/svg}"
DAY = datetime(2024, 1, 1, tzinfo=UTC)


def _series(values: list[float]) -> list[SeriesPoint]:
    return [SeriesPoint(DAY + timedelta(days=i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize(("value", "top"), [(0, 1), (3, 5), (7, 10), (120, 200), (2000, 2000)])
def test_axis_tops_are_round_numbers_at_or_above_the_data(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


def test_line_chart_is_valid_svg_with_an_accessible_name_and_one_path() -> None:
    svg = ET.fromstring(
        time_series_svg(_series([1, 4, 9]), title="Participants <so far>", description="By day.")
    )
    assert svg.find(f"{SVG}title").text == "Participants <so far>"  # type: ignore[union-attr]
    assert svg.get("role") == "img" and "chart-participants--so-far-" in svg.get(
        "aria-labelledby", ""
    )
    assert len(svg.findall(f"{SVG}path")) == 1
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert "2024-01-01" in labels and "2024-01-03" in labels and "10" in labels


def test_bar_chart_draws_one_bar_per_period_with_heights_in_proportion() -> None:
    svg = ET.fromstring(
        time_series_svg(_series([5, 10]), title="Votes", description="", kind="bars")
    )
    heights = [float(rect.get("height", 0)) for rect in svg.findall(f"{SVG}rect")]
    assert len(heights) == 2 and heights[1] == pytest.approx(2 * heights[0])


def test_an_empty_series_still_draws_its_frame() -> None:
    svg = ET.fromstring(time_series_svg([], title="Votes", description="", kind="bars"))
    assert svg.findall(f"{SVG}rect") == [] and svg.find(f"{SVG}title") is not None


def test_unknown_chart_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="pie"):
        time_series_svg([], title="x", description="", kind="pie")


def test_opinion_map_draws_each_group_outline_label_and_size() -> None:
    opinion_map = OpinionMap(
        size=400,
        dots=[MapDot(10, 10, "A"), MapDot(300, 300, "B"), MapDot(200, 20, None)],
        density=False,
        hulls=[
            MapHull("A", 1200, "1,1 50,1 25,40", 25, 14),
            MapHull("B", 30, "300,300 350,300 320,380", 320, 330),
        ],
        me=None,
        rows=[],
    )

    svg = ET.fromstring(opinion_map_svg(opinion_map))

    polygons = svg.findall(f"{SVG}polygon")
    assert [p.get("stroke") for p in polygons] == [GROUP_COLOURS[0], GROUP_COLOURS[1]]
    assert [c.get("fill") for c in svg.findall(f"{SVG}circle")] == [
        GROUP_COLOURS[0],
        GROUP_COLOURS[1],
        UNGROUPED,
    ]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"A", "B", "1,200 people", "30 people"} <= set(texts)


def test_group_colours_follow_the_letter_and_grey_marks_no_group() -> None:
    assert group_colour("A") == GROUP_COLOURS[0] and group_colour("C") == GROUP_COLOURS[2]
    assert group_colour(None) == group_colour("G27") == UNGROUPED


def test_the_stylesheet_paints_each_group_letter_in_its_colour() -> None:
    """Pages colour groups by class (group-A...), never a style attribute, which the
    Content-Security-Policy refuses: the stylesheet must hold the same palette."""
    css = (settings.BASE_DIR / "static" / "css" / "agora.css").read_text()
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        assert f".group-{letter} {{ --group: {group_colour(letter)}; }}" in css
    assert f".group-none {{ --group: {UNGROUPED}; }}" in css
