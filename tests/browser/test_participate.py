"""A participant's visit in headless Chromium: the demo conversation, end to end."""

from collections.abc import Callable

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, Route, expect
from pytest_django.live_server_helper import LiveServer

from deliberation.models import (
    Conversation,
    ModerationMode,
    Participant,
    Statement,
    StatementStatus,
    VoteEvent,
)
from tests.factories import ConversationFactory, StatementFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_SLUG = "15-per-hour-seattle"


@pytest.fixture
def demo() -> Conversation:
    call_command("import_polis", "data/polis/15-per-hour-seattle", "--slug", DEMO_SLUG)
    return Conversation.objects.get(slug=DEMO_SLUG)


def session_participant(page: Page, conversation: Conversation) -> Participant:
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    return Participant.objects.get(conversation=conversation, session_key=session_key)


def test_participant_votes_on_three_statements_and_adds_one(
    live_server: LiveServer, page: Page, demo: Conversation
) -> None:
    available = Statement.objects.filter(conversation=demo, status=StatementStatus.ACCEPTED).count()
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name=demo.topic).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(demo.topic)
    expect(page.locator("#progress-text")).to_have_text(f"0 of {available} statements voted")

    voted: dict[int, int] = {}
    # Two votes by mouse, one by the keyboard shortcut; a reason on the first.
    for done, (how, value) in enumerate([("Agree", 1), ("Disagree", -1), ("p", 0)], start=1):
        statement_id = int(page.locator("#vote-form [name=statement]").input_value())
        if done == 1:
            page.get_by_text("Say why (optional)").click()
            page.get_by_label("Why I voted this way").fill("Rents keep rising.")
        if len(how) == 1:
            page.locator("#statement-text").focus()
            page.keyboard.press(how)
        else:
            page.get_by_role("button", name=how, exact=True).click()
        expect(page.locator("#progress-text")).to_have_text(
            f"{done} of {available} statements voted"
        )
        expect(page.locator("#announcer")).to_contain_text("Vote saved. Next statement:")
        # The card moved on and took the focus with it, so keyboard users carry on.
        expect(page.locator("#vote-form [name=statement]")).not_to_have_value(str(statement_id))
        expect(page.locator("#statement-text")).to_be_focused()
        voted[statement_id] = value

    page.get_by_label("Your statement").fill(
        "A higher wage should come with support for small shops."
    )
    expect(page.locator("#new-statement-count")).to_contain_text("55 / 500")
    page.get_by_role("button", name="Add statement").click()
    expect(page.get_by_role("status")).to_contain_text("once a moderator has reviewed it")
    expect(page.get_by_label("Your statement")).to_have_value("")

    participant = session_participant(page, demo)
    events = VoteEvent.objects.filter(participant=participant)
    assert {event.statement_id: event.value for event in events} == voted
    assert events.count() == 3
    assert participant.votes.count() == 3
    assert participant.votes.get(statement_id=next(iter(voted))).reason == "Rents keep rising."
    added = Statement.objects.get(author_participant=participant)
    assert added.text == "A higher wage should come with support for small shops."
    assert added.status == StatementStatus.PENDING


def test_duplicate_statement_is_refused_inline_keeping_the_draft(
    live_server: LiveServer, page: Page, demo: Conversation
) -> None:
    existing = Statement.objects.filter(conversation=demo, status=StatementStatus.ACCEPTED).first()
    assert existing is not None
    before = Statement.objects.count()
    page.goto(f"{live_server.url}/c/{DEMO_SLUG}/")

    draft = existing.text.upper()
    page.get_by_label("Your statement").fill(draft)
    page.get_by_role("button", name="Add statement").click()

    expect(page.get_by_role("alert")).to_contain_text("already in the conversation")
    expect(page.get_by_label("Your statement")).to_have_value(draft)
    page.get_by_role("link", name="Vote on this statement").click()
    expect(page.locator("#statement-text")).to_have_text(existing.text)
    assert Statement.objects.count() == before


def test_end_state_invites_a_statement_that_then_comes_up_for_voting(
    live_server: LiveServer, page: Page
) -> None:
    # A small open-moderation conversation, so the end is two votes away and a new
    # statement is visible at once.
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    StatementFactory.create_batch(2, conversation=conversation)
    page.goto(f"{live_server.url}/c/{conversation.slug}/")
    for _ in range(2):
        page.get_by_role("button", name="Agree", exact=True).click()
    expect(page.get_by_role("heading", name="You've voted on all 2 statements")).to_be_focused()

    page.get_by_role("link", name="Add a statement of your own").click()
    expect(page.get_by_label("Your statement")).to_be_focused()
    page.keyboard.type("Publish the budget line by line.")
    page.get_by_role("button", name="Add statement").click()

    expect(page.get_by_role("status")).to_contain_text("now in the conversation")
    expect(page.locator("#statement-text")).to_have_text("Publish the budget line by line.")
    expect(page.locator("#progress-text")).to_have_text("2 of 3 statements voted")


def test_the_live_hint_appears_under_the_draft_and_keeps_the_form(
    live_server: LiveServer, page: Page
) -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    StatementFactory.create(conversation=conversation)
    page.goto(f"{live_server.url}/c/{conversation.slug}/")

    with page.expect_response("**/assistant/draft/"):
        page.get_by_label("Your statement").press_sequentially("Publish the budget line by line.")
    expect(page.locator("#draft-hints")).to_contain_text("Check for similar statements")

    # The hint fills its own slot: the heading, the draft and the button are all still there.
    expect(page.get_by_role("heading", name="Add a statement")).to_be_visible()
    expect(page.get_by_label("Your statement")).to_have_value("Publish the budget line by line.")
    expect(page.get_by_role("button", name="Add statement")).to_be_visible()


def test_a_hint_answered_after_the_statement_was_added_does_not_replace_the_result(
    live_server: LiveServer, page: Page
) -> None:
    # On a loaded machine the add can still be in flight when the live check fires, 600 ms
    # after the last key, and the check can be answered first while already seeing the
    # committed statement: "a very similar statement already exists". Hold both requests
    # so this order always happens.
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    StatementFactory.create(conversation=conversation)
    held: dict[str, list[Route]] = {"add": [], "check": []}

    def hold(kind: str) -> Callable[[Route], None]:
        return lambda route: held[kind].append(route)

    page.route("**/statements/", hold("add"))
    page.route("**/assistant/draft/", hold("check"))
    page.goto(f"{live_server.url}/c/{conversation.slug}/")

    page.get_by_label("Your statement").press_sequentially("Publish the budget line by line.")
    page.get_by_role("button", name="Add statement").click()
    page.wait_for_timeout(1_000)
    assert held["add"] and held["check"], "both requests should be in flight"
    added = held["add"][0].fetch()
    assert Statement.objects.filter(text="Publish the budget line by line.").exists()
    with page.expect_response("**/assistant/draft/"):
        held["check"][0].continue_()
    page.wait_for_timeout(300)
    held["add"][0].fulfill(response=added)

    expect(page.get_by_role("status")).to_contain_text("now in the conversation")
    expect(page.get_by_role("heading", name="Add a statement")).to_be_visible()


def test_voting_and_adding_work_without_javascript(
    live_server: LiveServer, browser: Browser, demo: Conversation
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/c/{DEMO_SLUG}/")
    statement_id = int(page.locator("#vote-form [name=statement]").input_value())

    page.get_by_role("button", name="Disagree", exact=True).click()
    expect(page.locator("#progress-text")).to_contain_text("1 of ")
    page.get_by_label("Your statement").fill("   ")
    page.get_by_role("button", name="Add statement").click()
    expect(page.get_by_role("alert")).to_contain_text("A statement cannot be empty.")

    participant = session_participant(page, demo)
    context.close()
    assert list(participant.votes.values_list("statement_id", "value")) == [(statement_id, -1)]
    assert not Statement.objects.filter(author_participant=participant).exists()


def test_conversation_page_fits_a_phone_with_big_tap_targets(
    live_server: LiveServer, phone_page: Page, demo: Conversation
) -> None:
    for path in ("/", f"/c/{DEMO_SLUG}/"):
        phone_page.goto(f"{live_server.url}{path}")
        overflow = phone_page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow == 0, f"{path} scrolls sideways by {overflow}px at 360px wide"

    for name in ("Agree", "Disagree", "Pass / Unsure", "Add statement"):
        box = phone_page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box is not None
        assert box["height"] >= 44 and box["width"] >= 44, f"{name} is {box}"
