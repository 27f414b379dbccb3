"""A moderator runs a conversation from the console, in headless Chromium."""

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from deliberation.models import AuditAction, AuditLogEntry, Conversation, Statement
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
TOPIC = "How should the neighbourhood use the old depot?"
PROPOSAL = "Turn the depot into a covered market on weekends."


def test_moderator_seeds_a_conversation_and_accepts_a_participant_statement(
    live_server: LiveServer, page: Page, browser: Browser
) -> None:
    UserFactory.create(username="moderator", is_staff=True)

    # The moderator logs in with a username and password and creates the conversation.
    page.goto(f"{live_server.url}/console/")
    expect(page).to_have_url(f"{live_server.url}/console/login/?next=/console/")
    page.get_by_label("Username").fill("moderator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Create a conversation").click()
    page.get_by_label("Topic").fill(TOPIC)
    page.get_by_label("Moderation mode").select_option("strict")
    page.get_by_label("Seed statements, one per line").fill(
        "Keep the depot as a bus garage.\nBuild homes on the depot site.\n"
    )
    page.get_by_role("button", name="Create the conversation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TOPIC)
    conversation = Conversation.objects.get(topic=TOPIC)

    # A participant votes on both seeds and proposes a statement of their own.
    participant = browser.new_context().new_page()
    participant.set_default_timeout(10_000)
    participant.goto(f"{live_server.url}/c/{conversation.slug}/")
    expect(participant.locator("#progress-text")).to_have_text("0 of 2 statements voted")
    for done in (1, 2):
        participant.get_by_role("button", name="Agree", exact=True).click()
        expect(participant.locator("#progress-text")).to_have_text(f"{done} of 2 statements voted")
    participant.get_by_label("Your statement").fill(PROPOSAL)
    participant.get_by_role("button", name="Add statement").click()
    expect(participant.get_by_role("status")).to_contain_text("once a moderator has reviewed it")

    # The moderator finds it waiting in the queue and accepts it.
    page.get_by_role("link", name="Moderation queue").click()
    row = page.get_by_role("row").filter(has_text=PROPOSAL)
    expect(row).to_contain_text("Pending")
    row.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("list").filter(has_text="accepted")).to_contain_text(
        "1 statement(s) accepted."
    )
    expect(page.get_by_role("row").filter(has_text=PROPOSAL)).to_have_count(0)

    # It now appears to participants: the author's next card, and a newcomer's count.
    participant.reload()
    expect(participant.locator("#statement-text")).to_have_text(PROPOSAL)
    newcomer = browser.new_context().new_page()
    newcomer.goto(f"{live_server.url}/c/{conversation.slug}/")
    expect(newcomer.locator("#progress-text")).to_have_text("0 of 3 statements voted")
    participant.context.close()
    newcomer.context.close()

    proposal = Statement.objects.get(text=PROPOSAL)
    assert proposal.status == "accepted"
    assert proposal.author_participant is not None
    logged = list(AuditLogEntry.objects.order_by("id").values_list("action", "actor_username"))
    assert logged == [
        (AuditAction.CONVERSATION_CREATED, "moderator"),
        (AuditAction.STATEMENT_SEEDED, "moderator"),
        (AuditAction.STATEMENT_SEEDED, "moderator"),
        (AuditAction.STATEMENT_ACCEPTED, "moderator"),
    ]
