"""Racing requests through the whole stack, each on its own PostgreSQL connection."""

from importlib import import_module

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import Conversation, ModerationMode, Participant, Statement, Vote
from tests.concurrency import meet_at, run_together
from tests.factories import ConversationFactory, StatementFactory

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_SECRET = "s" * 32


def clients_of_one_session(count: int) -> list[APIClient]:
    """Clients sharing one browser session and CSRF cookie: tabs or a double tap."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session.create()
    clients = []
    for _ in range(count):
        client = APIClient(enforce_csrf_checks=True)
        client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
        client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
        client.credentials(HTTP_X_CSRFTOKEN=CSRF_SECRET)
        clients.append(client)
    return clients


def test_two_simultaneous_first_requests_from_one_session_leave_one_participant() -> None:
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(2, conversation=conversation)
    clients = clients_of_one_session(2)
    votes = reverse("v1:vote-list", args=[conversation.slug])

    with meet_at("deliberation.services.participants.access_check_join", parties=2):
        responses = run_together(
            *(
                lambda client=client, statement=statement: client.post(
                    votes, {"statement": statement.pk, "value": 1}
                )
                for client, statement in zip(clients, statements, strict=True)
            )
        )

    assert [response.status_code for response in responses] == [201, 201]
    participant = Participant.objects.get()
    assert Vote.objects.filter(participant=participant).count() == 2


def test_two_simultaneous_identical_statements_leave_one_and_one_clean_409() -> None:
    conversation: Conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    statements = reverse("v1:statement-list", args=[conversation.slug])
    first, second = clients_of_one_session(1) + clients_of_one_session(1)

    with meet_at("deliberation.services.statements.statement_find_duplicate", parties=2):
        responses = run_together(
            lambda: first.post(statements, {"text": "Fund the night buses"}),
            lambda: second.post(statements, {"text": "fund the NIGHT  buses"}),
        )

    statement = Statement.objects.get()
    assert sorted(response.status_code for response in responses) == [201, 409]
    conflict = next(response for response in responses if response.status_code == 409)
    assert conflict.json()["error"] == {
        "code": "duplicate_statement",
        "message": "This statement is already in the conversation: vote on it instead.",
        "field": "text",
        "existing_id": statement.pk,
    }
