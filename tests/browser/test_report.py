"""The report in a real headless Chromium, at desktop and phone widths."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.report.real_data import Clustered, import_and_cluster

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clustered() -> Clustered:
    # Before the browser starts: Playwright's event loop forbids database calls in its thread.
    return import_and_cluster(slug="seattle")


@pytest.fixture
def browser(clustered: Clustered) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 900), ("phone", 375, 740)])
def test_report_fits_the_viewport_and_is_screenshotted(
    clustered: Clustered,
    browser: Browser,
    live_server: object,
    name: str,
    width: int,
    height: int,
) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    response = page.goto(f"{live_server}/report/{clustered.conversation.slug}/")
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == clustered.conversation.topic
    assert page.locator("svg.opinion-map polygon").count() == clustered.snapshot.k
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"report-{name}-top.png"))
    page.screenshot(path=str(SCREENSHOTS / f"report-{name}-full.png"), full_page=True)
    assert overflow[0] <= overflow[1], f"page is {overflow[0]}px wide in a {overflow[1]}px window"
    page.close()
