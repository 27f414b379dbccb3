"""Rate limits through the API as an attacker meets them: a client that drops its cookies
(a new participant each request), many addresses on one conversation, a forged
X-Forwarded-For. Each refusal is a 429 in the JSON error format with Retry-After, and
writes nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from deliberation.models import Conversation, Participant, RateLimitHit, Statement, Vote
from tests.api.conftest import with_csrf
from tests.factories import ConversationFactory, StatementFactory

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"


def fresh_client(conversation: Conversation, **environ: str) -> APIClient:
    """A client with no cookies: what a script that drops its session each time looks like."""
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR=environ.pop("REMOTE_ADDR", ATTACKER))
    client.defaults.update(environ)
    return with_csrf(client, conversation)


def assert_refused(response: Any) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert "wait" in error["message"]
    assert 1 <= int(response["Retry-After"]) <= 60


def flood(
    post: Callable[[int], Any], attempts: int, allowed: int, ok_status: int = 201
) -> list[int]:
    statuses = [post(i).status_code for i in range(attempts)]
    assert statuses[:allowed] == [ok_status] * allowed, statuses
    assert statuses[allowed:] == [429] * (attempts - allowed), statuses
    return statuses


def test_cookie_dropping_statement_flood_stops_at_the_address_limit(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"address": 5}}
    conversation = ConversationFactory.create()
    statements = reverse("v1:statement-list", args=[conversation.slug])

    def post(i: int) -> Any:
        return fresh_client(conversation).post(statements, {"text": f"Flooded claim {i}."})

    flood(post, attempts=12, allowed=5)
    assert_refused(post(99))
    assert Statement.objects.filter(conversation=conversation).count() == 5
    # A refused newcomer leaves no participant behind.
    assert Participant.objects.filter(conversation=conversation).count() == 5
    # Someone else, elsewhere, still gets through.
    other = fresh_client(conversation, REMOTE_ADDR="198.51.100.20")
    assert other.post(statements, {"text": "A different person."}).status_code == 201


def test_cookie_dropping_vote_flood_is_refused_at_the_join_limit(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"join": {"address": 4}}
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    votes = reverse("v1:vote-list", args=[conversation.slug])

    def post(i: int) -> Any:
        return fresh_client(conversation).post(votes, {"statement": statement.pk, "value": 1})

    flood(post, attempts=9, allowed=4)
    assert Vote.objects.count() == Participant.objects.count() == 4


def test_draft_checks_are_limited_per_address_for_cookieless_clients(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"draft": {"address": 3}}
    conversation = ConversationFactory.create()
    StatementFactory.create(conversation=conversation, text="Buses should run all night.")
    check = reverse("v1:assistant-draft-check", args=[conversation.slug])

    def post(i: int) -> Any:
        return fresh_client(conversation).post(check, {"text": f"Buses at night {i}"})

    flood(post, attempts=7, allowed=3, ok_status=200)
    assert_refused(post(99))


def test_draft_checks_are_limited_per_participant(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"draft": {"participant": 2}}
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation)
    client = fresh_client(conversation)
    votes = reverse("v1:vote-list", args=[conversation.slug])
    assert client.post(votes, {"statement": statement.pk, "value": 1}).status_code == 201
    check = reverse("v1:assistant-draft-check", args=[conversation.slug])
    flood(lambda i: client.post(check, {"text": f"Draft {i}"}), 4, allowed=2, ok_status=200)
    assert RateLimitHit.objects.get().hits == 2


def test_assistant_questions_are_limited_per_address(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"assistant": {"address": 3}}
    conversation = ConversationFactory.create()
    chat = reverse("v1:assistant-chat", args=[conversation.slug])

    def post(i: int) -> Any:
        return fresh_client(conversation).post(chat, {"intent": "groups"})

    flood(post, attempts=6, allowed=3, ok_status=200)
    assert_refused(post(99))


def test_a_conversation_takes_no_more_than_its_limit_from_many_addresses(
    settings: Settings,
) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"conversation": 4}}
    conversation, other = ConversationFactory.create_batch(2)

    def post(i: int, into: Conversation = conversation) -> Any:
        client = fresh_client(into, REMOTE_ADDR=f"198.51.100.{i + 1}")
        url = reverse("v1:statement-list", args=[into.slug])
        return client.post(url, {"text": f"Claim number {i}."})

    flood(post, attempts=8, allowed=4)
    assert Statement.objects.filter(conversation=conversation).count() == 4
    # The limit is the conversation's: another one is not affected.
    assert post(0, into=other).status_code == 201


def test_a_forged_forwarded_for_does_not_change_the_address_without_a_trusted_proxy(
    settings: Settings,
) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"address": 3}}
    conversation = ConversationFactory.create()
    statements = reverse("v1:statement-list", args=[conversation.slug])

    def post(i: int) -> Any:
        client = fresh_client(conversation, HTTP_X_FORWARDED_FOR=f"192.0.2.{i + 1}")
        return client.post(statements, {"text": f"Spoofed claim {i}."})

    flood(post, attempts=6, allowed=3)


def test_behind_a_trusted_proxy_each_forwarded_address_counts_apart(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"address": 2}}
    settings.AGORA_TRUSTED_PROXY_COUNT = 1
    conversation = ConversationFactory.create()
    statements = reverse("v1:statement-list", args=[conversation.slug])
    proxy = "10.0.0.2"

    def post(client_address: str, i: int, spoofed: str = "192.0.2.99") -> Any:
        # The client sent its own X-Forwarded-For; our proxy appended the real address.
        client = fresh_client(
            conversation,
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"{spoofed}, {client_address}",
        )
        return client.post(statements, {"text": f"From {client_address}, claim {i}."})

    assert [post("198.51.100.1", i).status_code for i in range(3)] == [201, 201, 429]
    # Another client behind the same proxy has its own count...
    assert post("198.51.100.2", 0).status_code == 201
    # ...and the first cannot escape its count by changing what it forwards itself.
    assert post("198.51.100.1", 5, spoofed="192.0.2.1").status_code == 429
