"""The report in a real headless Chromium (the ``browser`` fixture of tests/browser/conftest.py),
at desktop and phone widths."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from deliberation.services.assistant import assistant_summarize
from tests.report.real_data import Clustered, import_and_cluster

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clustered() -> Clustered:
    clustered = import_and_cluster(slug="seattle")
    assistant_summarize(snapshot=clustered.snapshot)
    return clustered


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 900), ("phone", 375, 740)])
def test_report_fits_the_viewport_and_is_screenshotted(
    clustered: Clustered,
    browser: Browser,
    live_server: object,
    name: str,
    width: int,
    height: int,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    response = page.goto(f"{live_server}/report/{clustered.conversation.slug}/")
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == clustered.conversation.topic
    assert page.locator("svg.opinion-map polygon").count() == clustered.snapshot.k
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"report-{name}-top.png"))
    page.screenshot(path=str(SCREENSHOTS / f"report-{name}-full.png"), full_page=True)
    assert overflow[0] <= overflow[1], f"page is {overflow[0]}px wide in a {overflow[1]}px window"
    context.close()


def test_sort_links_reorder_the_table_in_place(
    clustered: Clustered, page: Page, live_server: object
) -> None:
    page.goto(f"{live_server}/report/{clustered.conversation.slug}/")
    page.get_by_role("link", name="Divisiveness (one group against the rest)").click()

    values = page.eval_on_selector_all(
        ".statements-table tbody tr", "rows => rows.map(r => parseFloat(r.dataset.divisiveness))"
    )
    assert values == sorted(values, reverse=True) and len(values) > 10
    assert page.url.endswith("?sort=divisiveness#statements")
    current = page.locator(".sort-links [aria-current]")
    assert current.inner_text() == "Divisiveness (one group against the rest)"
    assert "divisiveness" in page.locator(".statements-table .sorted-by").inner_text().lower()
