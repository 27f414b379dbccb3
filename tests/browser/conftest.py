"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Use the ``page`` fixture (a desktop-sized tab) or ``phone_page`` (360 px wide, touch) with
pytest-django's ``live_server``; mark the test ``@pytest.mark.browser`` and
``@pytest.mark.django_db(transaction=True)`` so the server thread sees the test's rows.
"""

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
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
# Without a broker (the test settings) Celery runs tasks in the request: a vote that
# triggers a conversation's first clustering run answers in seconds on a busy machine.
WAIT_MS = 20_000
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=360, height=740)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio loop in this thread, and Django refuses ORM
    # calls from a thread with a running loop. The tests are plain synchronous code, so
    # lift that guard while the browser is up (and only then).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=WAIT_MS)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab with its own cookies, 1280 x 900."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A fresh tab the size of a small phone (360 x 740), with touch."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()
