"""The participant web UI, through Django's test client with CSRF checks on, like a browser."""

from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from deliberation.models import (
    AccessMode,
    Conversation,
    ModerationMode,
    Participant,
    RateLimitAction,
    ReportVisibility,
    Statement,
    StatementStatus,
    Visibility,
    Vote,
    VoteEvent,
)
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory, UserFactory

pytestmark = pytest.mark.django_db


class Browser:
    """A test client that, like a browser, has the CSRF cookie and sends its token back."""

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)

    def get(self, url: str, **query: str) -> HttpResponse:
        return self.client.get(url, query)  # type: ignore[return-value]

    def post(self, url: str, data: dict[str, Any], *, htmx: bool = False) -> HttpResponse:
        if "csrftoken" not in self.client.cookies:
            self.client.get(reverse("web:home"))
        token = self.client.cookies["csrftoken"].value
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(  # type: ignore[return-value]
            url, {"csrfmiddlewaretoken": token, **data}, headers=headers
        )

    def participant(self, conversation: Conversation) -> Participant:
        session_key = self.client.cookies["sessionid"].value
        return Participant.objects.get(conversation=conversation, session_key=session_key)


@pytest.fixture
def browser() -> Browser:
    return Browser()


def page_url(conversation: Conversation) -> str:
    return reverse("web:conversation", args=[conversation.slug])


def vote_url(conversation: Conversation) -> str:
    return reverse("web:vote", args=[conversation.slug])


def add_url(conversation: Conversation) -> str:
    return reverse("web:statement_add", args=[conversation.slug])


def nothing_written() -> bool:
    return not (Vote.objects.exists() or VoteEvent.objects.exists())


# Home


def test_home_lists_public_conversations_with_counts(browser: Browser) -> None:
    public = ConversationFactory.create(topic="Bike lanes on Main Street")
    ConversationFactory.create(topic="Secret budget", visibility=Visibility.PRIVATE)
    ConversationFactory.create(topic="Link-only survey", visibility=Visibility.UNLISTED)
    statement = StatementFactory.create(conversation=public)
    StatementFactory.create(conversation=public, status=StatementStatus.PENDING)
    for _ in range(2):
        voter = ParticipantFactory.create(conversation=public)
        Vote.objects.create(
            conversation=public,
            participant=voter,
            statement=statement,
            value=1,
            updated_at=statement.created_at,
        )

    html = browser.get(reverse("web:home")).content.decode()

    assert "Bike lanes on Main Street" in html
    assert "Open</span> 1 statement · 2 participants" in " ".join(html.split())
    assert "Secret budget" not in html
    assert "Link-only survey" not in html


def test_home_without_public_conversations_says_so(browser: Browser) -> None:
    response = browser.get(reverse("web:home"))
    assert response.status_code == 200
    assert "No public conversations yet" in response.content.decode()


def test_home_lists_open_conversations_before_closed_and_scheduled_ones(
    browser: Browser,
) -> None:
    ConversationFactory.create(topic="Open one")
    ConversationFactory.create(topic="Switched off", is_open=False)
    ConversationFactory.create(topic="Past its end", closes_at=timezone.now() - timedelta(days=1))
    ConversationFactory.create(topic="Not yet", opens_at=timezone.now() + timedelta(days=3))

    html = " ".join(browser.get(reverse("web:home")).content.decode().split())

    assert html.index("Open one") < min(html.index(t) for t in ("Switched off", "Not yet"))
    assert html.count('class="badge badge-closed">Closed<') == 2
    assert 'class="badge badge-soon">Opens' in html


# The conversation page


def test_conversation_page_shows_one_statement_with_vote_buttons_and_progress(
    browser: Browser,
) -> None:
    conversation = ConversationFactory.create(topic="Parks", description="Green spaces.")
    statement = StatementFactory.create(conversation=conversation, text="More trees downtown.")
    StatementFactory.create(conversation=conversation, status=StatementStatus.PENDING)

    response = browser.get(page_url(conversation))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Parks" in html and "Green spaces." in html
    assert "More trees downtown." in html
    assert f'name="statement" value="{statement.pk}"' in html
    for label in ("Agree", "Disagree", "Pass"):
        assert f">{label}" in html
    assert "0 of 1 statement voted" in html
    assert 'id="add-statement"' in html


def test_link_to_a_statement_puts_it_on_the_card(browser: Browser) -> None:
    conversation = ConversationFactory.create()
    StatementFactory.create_batch(5, conversation=conversation)
    wanted = StatementFactory.create(conversation=conversation, text="Open the library on Sundays.")

    html = browser.get(page_url(conversation), statement=str(wanted.pk)).content.decode()

    assert f'name="statement" value="{wanted.pk}"' in html


@pytest.mark.parametrize("status", ["rejected", "pending", "unknown"])
def test_a_link_to_a_statement_that_is_not_open_says_so_and_shows_no_other(
    browser: Browser, status: str
) -> None:
    conversation = ConversationFactory.create()
    other = StatementFactory.create(conversation=conversation, text="Plant more trees.")
    if status == "unknown":
        wanted_id = other.pk + 1000
    else:
        wanted_id = StatementFactory.create(
            conversation=conversation, text="Hello.", status=status
        ).pk

    html = browser.get(page_url(conversation), statement=str(wanted_id)).content.decode()

    assert f"Statement {wanted_id} is not open for voting" in html
    assert f'name="statement" value="{other.pk}"' not in html
    assert "Hello." not in html


def test_participant_who_voted_on_everything_sees_the_end_state(browser: Browser) -> None:
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(2, conversation=conversation)
    for statement in statements:
        browser.post(vote_url(conversation), {"statement": statement.pk, "value": 1})

    html = browser.get(page_url(conversation)).content.decode()

    assert "You've voted on all 2 statements" in html
    assert 'id="vote-form"' not in html
    assert "Add a statement of your own" in html


@pytest.mark.parametrize(
    "closed",
    [{"is_open": False}, {"closes_at": timezone.now() - timedelta(minutes=1)}],
    ids=["switched-off", "past-closing-time"],
)
def test_closed_conversation_shows_it_is_closed_and_no_forms(
    browser: Browser, closed: dict[str, Any]
) -> None:
    conversation = ConversationFactory.create(**closed)
    StatementFactory.create(conversation=conversation)

    html = browser.get(page_url(conversation)).content.decode()

    assert "This conversation is closed" in html
    assert "<form" not in html


def test_conversation_not_yet_open_says_when_it_opens(browser: Browser) -> None:
    opens_at = timezone.now() + timedelta(days=2)
    conversation = ConversationFactory.create(opens_at=opens_at)
    StatementFactory.create(conversation=conversation)

    html = browser.get(page_url(conversation)).content.decode()

    assert "This conversation has not opened yet" in html
    assert f"It opens on {opens_at:%-d %B %Y}" in html
    assert "<form" not in html
    assert not Participant.objects.exists()


def test_invitation_only_conversation_tells_visitors_how_to_get_in(browser: Browser) -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    StatementFactory.create(conversation=conversation)

    response = browser.get(page_url(conversation))

    html = response.content.decode()
    assert response.status_code == 403
    assert "open the invite link you were sent" in html
    assert "<form" not in html
    assert not Participant.objects.exists()


def test_conversation_without_participant_statements_has_no_add_form(browser: Browser) -> None:
    conversation = ConversationFactory.create(participants_can_add=False)
    StatementFactory.create(conversation=conversation)

    html = browser.get(page_url(conversation)).content.decode()

    assert 'id="vote-form"' in html
    assert 'id="add-statement"' not in html


def test_private_conversation_is_not_found_for_anonymous_visitors(browser: Browser) -> None:
    conversation = ConversationFactory.create(visibility=Visibility.PRIVATE, topic="Board only")

    response = browser.get(page_url(conversation))

    assert response.status_code == 404
    assert "Board only" not in response.content.decode()


def test_private_conversation_opens_for_its_owner(browser: Browser) -> None:
    owner = UserFactory.create()
    conversation = ConversationFactory.create(visibility=Visibility.PRIVATE, owner=owner)
    browser.client.force_login(owner)

    assert browser.get(page_url(conversation)).status_code == 200


def test_unknown_conversation_is_not_found(browser: Browser) -> None:
    response = browser.get("/c/no-such-thing/")
    assert response.status_code == 404
    assert "No conversation called" in response.content.decode()


# Voting


def test_plain_form_vote_writes_vote_and_event_and_redirects(browser: Browser) -> None:
    statement = StatementFactory.create()
    conversation = statement.conversation

    response = browser.post(
        vote_url(conversation), {"statement": statement.pk, "value": "-1", "reason": " too costly "}
    )

    assert response.status_code == 302
    assert response["Location"] == page_url(conversation)
    participant = browser.participant(conversation)
    vote = Vote.objects.get(participant=participant, statement=statement)
    assert (vote.value, vote.reason) == (-1, "too costly")
    assert VoteEvent.objects.filter(participant=participant, statement=statement).count() == 1


def test_htmx_vote_returns_next_card_and_progress_fragments(browser: Browser) -> None:
    conversation = ConversationFactory.create()
    first = StatementFactory.create(conversation=conversation, text="First statement.")
    second = StatementFactory.create(conversation=conversation, text="Second statement.")

    response = browser.post(
        vote_url(conversation), {"statement": first.pk, "value": "1"}, htmx=True
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="card"' in html
    assert f'name="statement" value="{second.pk}"' in html
    assert 'id="progress" class="progress" hx-swap-oob="true"' in html
    assert "1 of 2 statements voted" in html
    assert "Vote saved. Next statement: Second statement." in html
    assert Vote.objects.get(participant=browser.participant(conversation)).statement == first


def test_htmx_vote_on_last_statement_announces_the_end(browser: Browser) -> None:
    statement = StatementFactory.create()

    html = browser.post(
        vote_url(statement.conversation), {"statement": statement.pk, "value": "0"}, htmx=True
    ).content.decode()

    assert "You've voted on all 1 statement" in html
    assert Vote.objects.get().value == 0


def test_vote_without_csrf_token_is_refused_and_writes_nothing() -> None:
    statement = StatementFactory.create()
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        vote_url(statement.conversation), {"statement": statement.pk, "value": 1}
    )

    assert response.status_code == 403
    assert nothing_written()


def test_statement_without_csrf_token_is_refused_and_writes_nothing() -> None:
    conversation = ConversationFactory.create()
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        add_url(conversation), {"text": "Sneaky."}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 403
    assert not Statement.objects.exists()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"value": "2"}, 400, "A vote is 1 (agree), -1 (disagree) or 0 (pass), not 2."),
        ({"value": ""}, 400, "A vote is 1 (agree), -1 (disagree) or 0 (pass)."),
        ({"reason": "x" * 281}, 400, "A reason can be at most 280 characters."),
        ({"statement": "999999"}, 404, "No statement &#x27;999999&#x27; in this conversation."),
    ],
    ids=["value-out-of-range", "no-value", "reason-too-long", "unknown-statement"],
)
def test_bad_vote_is_refused_inline_and_writes_nothing(
    browser: Browser, htmx: bool, change: dict[str, str], status: int, message: str
) -> None:
    statement = StatementFactory.create()
    data = {"statement": str(statement.pk), "value": "1", **change}

    response = browser.post(vote_url(statement.conversation), data, htmx=htmx)

    html = response.content.decode()
    assert response.status_code == status
    assert f'<p id="vote-error" class="error" role="alert">{message}</p>' in html
    assert ("<html" in html) is not htmx
    assert nothing_written()


def test_over_long_reason_stays_in_the_field_for_another_try(browser: Browser) -> None:
    statement = StatementFactory.create()
    reason = "because " * 40

    html = browser.post(
        vote_url(statement.conversation),
        {"statement": statement.pk, "value": "1", "reason": reason},
        htmx=True,
    ).content.decode()

    assert f'name="statement" value="{statement.pk}"' in html
    assert f'aria-invalid="true">{reason}</textarea>' in html
    assert '<details class="reason" open>' in html
    assert 'class="help over"><span data-count>320</span> / 280' in html


@pytest.mark.parametrize("status", [StatementStatus.PENDING, StatementStatus.REJECTED])
def test_vote_on_statement_no_longer_accepted_is_refused_and_next_card_shown(
    browser: Browser, status: StatementStatus
) -> None:
    conversation = ConversationFactory.create()
    withdrawn = StatementFactory.create(conversation=conversation, status=status)
    other = StatementFactory.create(conversation=conversation)

    response = browser.post(
        vote_url(conversation), {"statement": withdrawn.pk, "value": "1"}, htmx=True
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "This statement is not open for voting" in html
    assert f'name="statement" value="{other.pk}"' in html
    assert nothing_written()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_vote_in_closed_conversation_is_refused_inline(browser: Browser, htmx: bool) -> None:
    statement = StatementFactory.create(conversation__is_open=False)

    response = browser.post(
        vote_url(statement.conversation), {"statement": statement.pk, "value": "1"}, htmx=htmx
    )

    html = response.content.decode()
    assert response.status_code == 403
    assert "This conversation is closed: it takes no new votes." in html
    assert 'role="alert"' in html
    assert nothing_written()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_vote_by_someone_the_access_mode_keeps_out_is_refused_inline(
    browser: Browser, htmx: bool
) -> None:
    statement = StatementFactory.create(conversation__access_mode=AccessMode.LOGGED_IN)

    response = browser.post(
        vote_url(statement.conversation), {"statement": statement.pk, "value": "1"}, htmx=htmx
    )

    assert response.status_code == 403
    assert '<p role="alert">Log in to take part in this conversation.</p>' in (
        response.content.decode()
    )
    assert nothing_written()


def test_votes_over_the_rate_limit_are_refused_inline(browser: Browser, settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {RateLimitAction.VOTE: {"participant": 1}}
    conversation = ConversationFactory.create()
    first, second = StatementFactory.create_batch(2, conversation=conversation)
    browser.post(vote_url(conversation), {"statement": first.pk, "value": "1"}, htmx=True)

    response = browser.post(
        vote_url(conversation), {"statement": second.pk, "value": "1"}, htmx=True
    )

    assert response.status_code == 429
    assert "Too many votes from you in the last minute" in response.content.decode()
    assert 1 <= int(response["Retry-After"]) <= 60
    assert VoteEvent.objects.count() == 1


def test_vote_in_private_conversation_is_not_found(browser: Browser) -> None:
    statement = StatementFactory.create(conversation__visibility=Visibility.PRIVATE)

    response = browser.post(
        vote_url(statement.conversation), {"statement": statement.pk, "value": "1"}, htmx=True
    )

    assert response.status_code == 404
    assert response["HX-Refresh"] == "true"
    assert nothing_written()


def test_vote_page_only_takes_posts(browser: Browser) -> None:
    statement = StatementFactory.create()
    assert browser.get(vote_url(statement.conversation)).status_code == 405


# Adding statements


def test_plain_form_statement_waits_for_review_in_strict_moderation(browser: Browser) -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.STRICT)

    response = browser.post(add_url(conversation), {"text": "  Plant fruit trees in parks. "})

    assert response.status_code == 302
    assert response["Location"] == page_url(conversation) + "#add-statement"
    statement = Statement.objects.get()
    assert statement.text == "Plant fruit trees in parks."
    assert statement.status == StatementStatus.PENDING
    assert statement.author_participant == browser.participant(conversation)
    followed = browser.get(page_url(conversation)).content.decode()
    assert "once a moderator has reviewed it" in followed


def test_htmx_statement_in_open_moderation_is_visible_at_once(browser: Browser) -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    shown = StatementFactory.create(conversation=conversation)

    response = browser.post(
        add_url(conversation),
        {"text": "Close Main Street to cars on Sundays.", "statement": str(shown.pk)},
        htmx=True,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "now in the conversation" in html
    assert "0 of 2 statements voted" in html
    # The card on the page is left alone while it still has a statement.
    assert 'id="card"' not in html
    assert Statement.objects.get(text__startswith="Close").status == StatementStatus.ACCEPTED


def test_htmx_statement_at_the_end_state_brings_a_card_back(browser: Browser) -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)

    html = browser.post(
        add_url(conversation), {"text": "Fund a youth centre."}, htmx=True
    ).content.decode()

    assert 'id="card" class="card-slot" hx-swap-oob="true"' in html
    assert "Fund a youth centre." in html


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "A statement cannot be empty."),
        ("   \n  ", "A statement cannot be empty."),
        ("y" * 501, "A statement can be at most 500 characters (this one has 501)."),
    ],
    ids=["empty", "whitespace", "too-long"],
)
def test_bad_statement_is_refused_inline_keeping_the_draft(
    browser: Browser, htmx: bool, text: str, message: str
) -> None:
    conversation = ConversationFactory.create()

    response = browser.post(add_url(conversation), {"text": text}, htmx=htmx)

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="new-statement-error" class="error" role="alert"' in html
    assert message in html
    assert 'aria-invalid="true"' in html
    assert f">{text}</textarea>" in html
    assert not Statement.objects.exists()


def test_duplicate_statement_is_refused_and_offers_the_existing_one(browser: Browser) -> None:
    existing = StatementFactory.create(text="Build more bike lanes.")
    conversation = existing.conversation

    response = browser.post(add_url(conversation), {"text": "build MORE  bike lanes."}, htmx=True)

    html = response.content.decode()
    assert response.status_code == 409
    assert "This statement is already in the conversation: vote on it instead." in html
    assert "Build more bike lanes." in html
    assert f"{page_url(conversation)}?statement={existing.pk}#card" in html
    assert ">build MORE  bike lanes.</textarea>" in html
    assert Statement.objects.count() == 1


def test_duplicate_of_a_hidden_statement_does_not_reveal_it(browser: Browser) -> None:
    hidden = StatementFactory.create(
        text="Someone else's pending idea.", status=StatementStatus.PENDING
    )

    html = browser.post(
        add_url(hidden.conversation), {"text": "someone else's pending idea."}, htmx=True
    ).content.decode()

    assert "already in the conversation" in html
    assert "Someone else&#x27;s pending idea." not in html
    assert "?statement=" not in html


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_statement_in_closed_conversation_is_refused_keeping_the_draft(
    browser: Browser, htmx: bool
) -> None:
    conversation = ConversationFactory.create(is_open=False)

    response = browser.post(add_url(conversation), {"text": "Late idea."}, htmx=htmx)

    html = response.content.decode()
    assert response.status_code == 403
    assert "This conversation is closed: it takes no new statements." in html
    assert "readonly>Late idea.</textarea>" in html
    assert "Add statement</button>" not in html
    assert not Statement.objects.exists()


def test_statement_by_someone_the_access_mode_keeps_out_keeps_the_draft(
    browser: Browser,
) -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)

    response = browser.post(add_url(conversation), {"text": "Let me in."}, htmx=True)

    html = response.content.decode()
    assert response.status_code == 403
    assert "open the invite link you were sent" in html
    assert "readonly>Let me in.</textarea>" in html
    assert not Statement.objects.exists()


def test_statement_where_participants_cannot_add_is_refused(browser: Browser) -> None:
    conversation = ConversationFactory.create(participants_can_add=False)

    response = browser.post(add_url(conversation), {"text": "Me too."}, htmx=True)

    assert response.status_code == 403
    assert "Participants cannot add statements" in response.content.decode()
    assert not Statement.objects.exists()


def test_near_duplicate_is_refused_until_the_author_confirms_it_differs(browser: Browser) -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    existing = StatementFactory.create(
        conversation=conversation, text="The city should build more protected bike lanes."
    )
    near = "The city should build more protected bike lanes!"
    refused = browser.post(add_url(conversation), {"text": near}, htmx=True)
    assert refused.status_code == 409
    body = refused.content.decode()
    assert existing.text in body
    assert 'name="confirmed"' in body
    assert Statement.objects.filter(conversation=conversation).count() == 1

    added = browser.post(add_url(conversation), {"text": near, "confirmed": "1"}, htmx=True)
    assert added.status_code == 200
    statement = Statement.objects.get(conversation=conversation, text=near)
    assert statement.duplicate_flags.filter(similar_to=existing).exists()


def test_pages_link_to_the_report_only_where_readers_may_open_it(browser: Browser) -> None:
    published = ConversationFactory.create()
    kept_private = ConversationFactory.create(report_visibility=ReportVisibility.MODERATORS)
    home = browser.get(reverse("web:home")).content.decode()
    assert reverse("report:latest", args=[published.slug]) in home
    assert reverse("report:latest", args=[kept_private.slug]) not in home
    page = browser.get(page_url(kept_private)).content.decode()
    assert reverse("report:latest", args=[kept_private.slug]) not in page


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"is_open": False}, "This conversation is closed"),
        ({"opens_at": timezone.now() + timedelta(days=2)}, "This conversation opens on"),
    ],
    ids=["closed", "not-yet-open"],
)
@pytest.mark.parametrize("write", ["vote", "statement"])
def test_refused_first_write_leaves_no_participant(
    browser: Browser, htmx: bool, schedule: dict[str, Any], message: str, write: str
) -> None:
    # Issue 2: the newcomer's participant goes with the write that was refused.
    statement = StatementFactory.create(conversation=ConversationFactory.create(**schedule))
    conversation = statement.conversation
    if write == "vote":
        response = browser.post(
            vote_url(conversation), {"statement": statement.pk, "value": "1"}, htmx=htmx
        )
    else:
        response = browser.post(add_url(conversation), {"text": "A new idea."}, htmx=htmx)

    assert response.status_code == 403
    assert message in response.content.decode()
    assert not Participant.objects.exists()
    assert Statement.objects.count() == 1
    assert nothing_written()


def test_reading_an_open_conversation_creates_no_participant_until_the_first_vote(
    browser: Browser,
) -> None:
    statement = StatementFactory.create()
    conversation = statement.conversation

    page = browser.get(page_url(conversation))

    assert page.status_code == 200
    assert statement.text in page.content.decode()
    assert not Participant.objects.exists()
    browser.post(vote_url(conversation), {"statement": statement.pk, "value": 1})
    assert Participant.objects.get().votes.get().statement == statement
