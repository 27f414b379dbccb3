"""What each participant must prove, over HTTP: a verified email address (the mail goes
through a real SMTP server the test starts, aiosmtpd, and Django's SMTP backend: one
address, one participant), or a user account."""

import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from deliberation.models import (
    AuditAction,
    AuditLogEntry,
    EmailLink,
    Participant,
    ParticipantRequirement,
    Statement,
    Vote,
)
from tests.factories import StatementFactory, UserFactory

pytestmark = pytest.mark.django_db


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def last_link(self) -> str:
        _, message = self.messages[-1]
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        found = re.search(r"http://testserver(/console/verify/[^/\s]+/)", body.decode())
        assert found is not None, body
        return found[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox(settings: Settings) -> Iterator[_Inbox]:
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 5
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def statement() -> Statement:
    return StatementFactory.create(
        conversation__participant_requirement=ParticipantRequirement.EMAIL
    )


def _vote(client: Client, statement: Statement) -> int:
    url = reverse("web:vote", args=[statement.conversation.slug])
    return client.post(url, {"statement": statement.pk, "value": "1"}).status_code


def _ask_link(client: Client, statement: Statement, email: str) -> None:
    url = reverse("console:email_link_request", args=[statement.conversation.slug])
    response = client.post(url, {"email": email})
    assert response.status_code == 200
    assert b"Check your email" in response.content


def test_a_vote_waits_for_a_verified_address_then_counts(
    inbox: _Inbox, statement: Statement
) -> None:
    browser = Client()
    page = browser.get(reverse("web:conversation", args=[statement.conversation.slug]))
    assert b"Verify your email address" in page.content
    assert _vote(browser, statement) == 403
    assert not Participant.objects.exists()

    _ask_link(browser, statement, "ada@example.org")
    assert inbox.messages[0][0] == ["ada@example.org"]
    link = inbox.last_link()
    # Opening the link only asks to confirm: a mail scanner's GET uses nothing up.
    confirm = browser.get(link)
    assert confirm.status_code == 200 and b"Confirm your email address" in confirm.content
    assert EmailLink.objects.get().used_at is None
    assert browser.post(link).status_code == 302
    participant = Participant.objects.get()
    assert participant.email_hash is not None
    assert participant.session_key == browser.session.session_key
    assert _vote(browser, statement) == 302
    assert Vote.objects.filter(participant=participant).count() == 1

    again = Client().post(link)
    assert again.status_code == 400
    assert b"already been used" in again.content


def test_one_address_is_one_participant_whichever_browser_opens_its_link(
    inbox: _Inbox, statement: Statement
) -> None:
    laptop, phone = Client(), Client()
    _ask_link(laptop, statement, "ada@example.org")
    assert laptop.post(inbox.last_link()).status_code == 302
    _ask_link(phone, statement, "  ADA@example.org ")
    assert phone.post(inbox.last_link()).status_code == 302
    participant = Participant.objects.get()
    assert participant.session_key == phone.session.session_key
    assert AuditLogEntry.objects.get(action=AuditAction.PARTICIPANT_MOVED).target_id == (
        participant.pk
    )
    assert _vote(laptop, statement) == 403
    assert _vote(phone, statement) == 302


def test_a_wrong_token_and_a_bad_address_are_refused_clearly(
    inbox: _Inbox, statement: Statement
) -> None:
    refused = Client().post(reverse("console:verify_email", args=["made-up"]))
    assert refused.status_code == 400
    assert b"not valid" in refused.content
    url = reverse("console:email_link_request", args=[statement.conversation.slug])
    bad = Client().post(url, {"email": "not an address"})
    assert bad.status_code == 400
    assert b"not an email address" in bad.content
    assert inbox.messages == []
    assert not Participant.objects.exists()


def test_account_requirement_refuses_anonymous_votes_and_takes_logged_in_ones() -> None:
    statement = StatementFactory.create(
        conversation__participant_requirement=ParticipantRequirement.ACCOUNT
    )
    anonymous = Client()
    assert _vote(anonymous, statement) == 403
    api = APIClient()
    refused = api.post(
        f"/api/v1/conversations/{statement.conversation.slug}/votes/",
        {"statement": statement.pk, "value": 1},
    )
    assert refused.status_code == 403
    assert "Log in" in str(refused.json())
    assert not Participant.objects.exists()
    member = Client()
    member.force_login(UserFactory.create())
    assert _vote(member, statement) == 302
    assert Vote.objects.count() == 1


def test_link_requests_are_limited_per_address_and_per_recipient(
    inbox: _Inbox, statement: Statement
) -> None:
    # The form mails whatever address it is given: without limits it is a way to flood
    # someone's inbox from Agora's mail server.
    url = reverse("console:email_link_request", args=[statement.conversation.slug])
    statuses = [Client().post(url, {"email": "victim@example.org"}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert len(inbox.messages) == 3
    spread = [Client().post(url, {"email": f"person{n}@example.org"}).status_code for n in range(8)]
    assert spread.count(429) == 3
    assert len(inbox.messages) == 3 + 5
