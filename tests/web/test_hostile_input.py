"""Hostile input through the participant pages and forms: a clear refusal, never a 500."""

import pytest
from django.urls import reverse

from deliberation.models import ModerationMode, Statement, Vote
from tests.factories import ConversationFactory, StatementFactory
from tests.web.test_views import Browser, add_url, vote_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Nul\x00byte", "A statement cannot contain control characters (U+0000 at character 4)."),
        ("Escape\x1b[31m", "A statement cannot contain control characters (U+001B"),
        ("\u200b\u200e\u202e\u2066\ufeff", "A statement cannot be empty."),
    ],
    ids=["nul", "escape", "zero-width"],
)
def test_statement_form_refuses_control_and_invisible_text(
    browser: Browser, htmx: bool, text: str, message: str
) -> None:
    conversation = ConversationFactory.create()

    response = browser.post(add_url(conversation), {"text": text}, htmx=htmx)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Statement.objects.exists()


def test_statement_form_adds_text_that_grows_when_case_folded(browser: Browser) -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)

    response = browser.post(add_url(conversation), {"text": "ß" * 500}, htmx=True)

    assert response.status_code == 200
    assert Statement.objects.get().text_key == "ss" * 500


def test_vote_reason_with_a_nul_byte_is_refused_inline(browser: Browser) -> None:
    statement = StatementFactory.create()

    response = browser.post(
        vote_url(statement.conversation),
        {"statement": str(statement.pk), "value": "1", "reason": "because\x00"},
        htmx=True,
    )

    assert response.status_code == 400
    assert "control characters" in response.content.decode()
    assert not Vote.objects.exists()


def test_chat_submit_adds_text_that_grows_when_case_folded(browser: Browser) -> None:
    conversation = ConversationFactory.create()
    url = reverse("assistant:chat", args=[conversation.slug])

    response = browser.post(url, {"intent": "submit", "text": "ﬃ" * 300, "confirmed": "1"})

    assert response.status_code == 200
    assert Statement.objects.get().text_key == "ffi" * 300


def test_chat_submit_refuses_a_nul_byte(browser: Browser) -> None:
    conversation = ConversationFactory.create()
    url = reverse("assistant:chat", args=[conversation.slug])

    response = browser.post(url, {"intent": "submit", "text": "Trees\x00", "confirmed": "1"})

    assert "control characters" in response.content.decode()
    assert not Statement.objects.exists()
