import time

import pytest
from playwright.sync_api import Page, expect

from deliberation.models import VoteEvent
from tests.snapshot_data import clustered, two_camps, votes_write

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_panel_refreshes_without_a_reload_when_a_new_snapshot_lands(
    live_server: object, page: Page
) -> None:
    camps = two_camps(per_camp=4)
    clustered(camps)
    page.goto(f"{live_server}/c/{camps.conversation.slug}/")
    page.locator("#groups-panel svg title").wait_for(state="attached")
    page.evaluate("window.notReloaded = true")
    before = page.locator("#groups-panel .help").first.inner_text()

    votes_write([(camps.camp_a[0], camps.statements[0], 0)])
    clustered(camps)
    watermark = VoteEvent.objects.latest("id").pk
    started = time.monotonic()
    # A locator, not wait_for_function: the Content-Security-Policy refuses the eval that
    # a string predicate needs.
    expect(page.locator("#groups-panel")).to_contain_text(f"#{watermark}", timeout=10_000)

    assert time.monotonic() - started < 10
    assert page.evaluate("window.notReloaded") is True
    assert f"#{watermark}" not in before
