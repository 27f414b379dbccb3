"""Rate limits in the participant pages: a refusal is a 429 with Retry-After whose htmx
fragment (or whole page, without JavaScript) says why, and writes nothing."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from deliberation.models import Conversation, Participant, Statement
from tests.factories import ConversationFactory, StatementFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def fresh_client() -> Client:
    return Client(REMOTE_ADDR="203.0.113.7")


def add_statement(conversation: Conversation, text: str, htmx: bool = True) -> Any:
    return fresh_client().post(
        reverse("web:statement_add", args=[conversation.slug]),
        {"text": text},
        headers=HTMX if htmx else {},
    )


def test_cookie_dropping_statement_flood_gets_429_fragments_and_adds_nothing(
    settings: Settings,
) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"address": 3}}
    conversation = ConversationFactory.create()
    statuses = [add_statement(conversation, f"Web claim {i}.").status_code for i in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    refused = add_statement(conversation, "One more.")
    page = refused.content.decode()
    assert 'id="add-statement"' in page and "Too many statements from your network" in page
    assert 1 <= int(refused["Retry-After"]) <= 60
    whole_page = add_statement(conversation, "Without JavaScript.", htmx=False)
    assert whole_page.status_code == 429 and "Too many statements" in whole_page.content.decode()
    assert Statement.objects.filter(conversation=conversation).count() == 3
    assert Participant.objects.filter(conversation=conversation).count() == 3


def test_draft_hints_over_the_limit_say_so_with_a_429(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"draft": {"address": 2}}
    conversation = ConversationFactory.create()
    StatementFactory.create(conversation=conversation, text="Parks should stay open late.")
    url = reverse("assistant:draft_check", args=[conversation.slug])
    statuses = [
        fresh_client().post(url, {"text": "Parks open late"}, headers=HTMX).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    refused = fresh_client().post(url, {"text": "Parks open late"}, headers=HTMX)
    assert 'id="draft-hints"' in refused.content.decode()
    assert "Too many draft checks" in refused.content.decode()
    assert refused["Retry-After"]


def test_assistant_chat_over_the_limit_says_so_with_a_429(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"assistant": {"address": 1}}
    conversation = ConversationFactory.create()
    url = reverse("assistant:chat", args=[conversation.slug])
    assert fresh_client().post(url, {"intent": "groups"}, headers=HTMX).status_code == 200
    refused = fresh_client().post(url, {"intent": "groups"}, headers=HTMX)
    assert refused.status_code == 429 and refused["Retry-After"]
    assert "Too many questions to the assistant" in refused.content.decode()
