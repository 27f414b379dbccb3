"""The Content-Security-Policy in a real browser: every page, and the htmx actions on them,
run without a single violation (a blocked inline script or style, a CDN, an eval)."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from deliberation.models import Statement, Vote
from tests.factories import UserFactory
from tests.snapshot_data import Camps, clustered, two_camps

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"

# Registered before any page script: every violation the browser reports reaches the test.
LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber} on ${location.pathname}`
  );
});
"""


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    """Every CSP violation and CSP console error of the page, however it is reported."""
    found: list[str] = []

    def report(text: str) -> None:
        found.append(text)

    page.expose_function("reportViolation", report)
    page.add_init_script(LISTEN)
    page.on(
        "console",
        lambda message: (
            found.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    # Chromium logs refusals it makes before any script runs (a blocked inline script or
    # <style> in the markup) through the Log domain, not the console API.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Log.enable")

    def logged(entry: dict[str, Any]) -> None:
        text = entry["entry"].get("text", "")
        if "Content Security Policy" in text:
            found.append(f"log: {text}")

    cdp.on("Log.entryAdded", logged)
    yield found


@pytest.fixture
def camps() -> Camps:
    camps = two_camps(per_camp=4)
    clustered(camps)
    return camps


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")


def test_participant_pages_and_htmx_actions_break_no_policy(
    live_server: LiveServer, page: Page, camps: Camps, violations: list[str]
) -> None:
    conversation = camps.conversation
    response = page.goto(f"{live_server.url}/c/{conversation.slug}/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy

    # The groups panel loads by htmx and draws the opinion map.
    page.locator("#groups-panel svg title").wait_for(state="attached")
    # Vote (htmx swaps the card), with a reason.
    page.get_by_role("button", name="Agree", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("1 of")
    # Draft hints as one types, then add the statement.
    page.get_by_label("Your statement").fill("Open the library on Sundays")
    with page.expect_response(lambda response: "/assistant/draft/" in response.url) as hints:
        page.get_by_label("Your statement").press("s")
    assert hints.value.status == 200
    expect(page.locator("#draft-hints .help").first).to_be_visible()
    page.get_by_role("button", name="Add statement").click()
    expect(page.get_by_role("status").first).to_contain_text("Thank you")
    # The assistant's chat panel.
    with page.expect_response(lambda response: "/assistant/chat/" in response.url) as chat:
        page.get_by_role("button", name="Explain the groups").click()
    assert chat.value.status == 200
    expect(page.locator("#assistant-log")).not_to_be_empty()
    settle(page)
    assert Vote.objects.filter(participant__conversation=conversation).count() == 2 * 4 * 8 + 1
    assert Statement.objects.filter(text__startswith="Open the library").exists()

    for path in (
        "/",
        f"/c/{conversation.slug}/groups/",
        f"/report/{conversation.slug}/",
        "/api/docs/",
    ):
        page.goto(f"{live_server.url}{path}")
        settle(page)
    # The API docs come from our own static files, and render.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Agora API")
    # The report's sort links run its script.
    page.goto(f"{live_server.url}/report/{conversation.slug}/#statements")
    page.locator(".sort-links a[data-sort]").last.click()
    settle(page)

    assert violations == []


def test_console_and_admin_pages_break_no_policy(
    live_server: LiveServer, page: Page, camps: Camps, violations: list[str]
) -> None:
    UserFactory.create(username="admin", is_staff=True, is_superuser=True)
    slug = camps.conversation.slug
    page.goto(f"{live_server.url}/console/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Create a conversation")).to_be_visible()
    for path in (
        "/console/",
        "/console/new/",
        f"/console/c/{slug}/",
        f"/console/c/{slug}/settings/",
        f"/console/c/{slug}/access/",
        f"/console/c/{slug}/queue/",
        f"/console/c/{slug}/participants/",
        f"/console/c/{slug}/signals/",
        f"/console/c/{slug}/audit/",
        f"/console/c/{slug}/assistant/ledger/",
        f"/console/c/{slug}/assistant/bridging/",
        "/admin/",
        "/admin/deliberation/conversation/",
        f"/admin/deliberation/conversation/{camps.conversation.pk}/change/",
        "/admin/auth/user/add/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        settle(page)
    expect(page.get_by_role("heading", name="Rate limits")).to_have_count(0)
    page.goto(f"{live_server.url}/console/c/{slug}/settings/")
    expect(page.get_by_role("heading", name="Rate limits")).to_be_visible()

    assert violations == []
