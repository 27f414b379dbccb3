"""CSRF for anonymous sessions, tokens for scripts (deliberation/api/authentication.py)."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from deliberation.models import Conversation, Participant, Statement, Vote, VoteEvent
from tests.api.conftest import with_csrf
from tests.factories import StatementFactory, UserFactory

pytestmark = pytest.mark.django_db


def nothing_written(*, statements: int = 0) -> bool:
    """No participant, vote or event, and only the statements the test made itself."""
    others = (Participant, Vote, VoteEvent)
    return Statement.objects.count() == statements and not any(
        model.objects.exists() for model in others
    )


def vote_url(conversation: Conversation) -> str:
    return reverse("v1:vote-list", args=[conversation.slug])


def assert_csrf_refusal(response: object) -> None:
    assert getattr(response, "status_code", None) == 403
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "csrf_failed"
    assert "X-CSRFToken" in error["message"]


def test_a_get_hands_out_the_csrf_cookie(conversation: Conversation, api_client: APIClient) -> None:
    api_client.get(reverse("v1:conversation-list"))
    assert api_client.cookies["csrftoken"].value


def test_anonymous_post_without_token_is_refused_and_writes_nothing(
    conversation: Conversation, api_client: APIClient
) -> None:
    statement = StatementFactory.create(conversation=conversation)
    api_client.get(reverse("v1:conversation-detail", args=[conversation.slug]))
    response = api_client.post(vote_url(conversation), {"statement": statement.pk, "value": 1})
    assert_csrf_refusal(response)
    assert nothing_written(statements=1)


def test_anonymous_post_with_a_wrong_token_is_refused(
    conversation: Conversation, api_client: APIClient
) -> None:
    api_client.get(reverse("v1:conversation-detail", args=[conversation.slug]))
    api_client.credentials(HTTP_X_CSRFTOKEN="x" * 32)
    response = api_client.post(
        reverse("v1:statement-list", args=[conversation.slug]), {"text": "Forged"}
    )
    assert_csrf_refusal(response)
    assert nothing_written()


def test_anonymous_post_without_the_cookie_is_refused(
    conversation: Conversation, api_client: APIClient
) -> None:
    response = api_client.post(
        reverse("v1:statement-list", args=[conversation.slug]),
        {"text": "Forged"},
        HTTP_X_CSRFTOKEN="x" * 32,
    )
    assert_csrf_refusal(response)
    assert nothing_written()


def test_anonymous_post_with_the_token_from_the_cookie_works(
    conversation: Conversation, api_client: APIClient
) -> None:
    statement = StatementFactory.create(conversation=conversation)
    client = with_csrf(api_client, conversation)
    response = client.post(vote_url(conversation), {"statement": statement.pk, "value": 1})
    assert response.status_code == 201
    assert Vote.objects.count() == 1


def test_logged_in_session_needs_the_token_too(
    conversation: Conversation, api_client: APIClient
) -> None:
    statement = StatementFactory.create(conversation=conversation)
    api_client.force_login(UserFactory.create())
    response = api_client.post(vote_url(conversation), {"statement": statement.pk, "value": 1})
    assert_csrf_refusal(response)
    assert nothing_written(statements=1)


@pytest.mark.parametrize("keyword", ["Token", "token"])
def test_token_scripts_need_no_csrf_token(
    conversation: Conversation, api_client: APIClient, keyword: str
) -> None:
    statement = StatementFactory.create(conversation=conversation)
    user = UserFactory.create()
    token = Token.objects.create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token.key}")
    response = api_client.post(vote_url(conversation), {"statement": statement.pk, "value": -1})
    assert response.status_code == 201
    assert Vote.objects.get().participant.user == user


def test_a_bad_token_is_refused_even_with_a_valid_session(
    conversation: Conversation, api_client: APIClient
) -> None:
    statement = StatementFactory.create(conversation=conversation)
    client = with_csrf(api_client, conversation)
    client.credentials(
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value, HTTP_AUTHORIZATION="Token nope"
    )
    response = client.post(vote_url(conversation), {"statement": statement.pk, "value": 1})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "authentication_failed"
    assert nothing_written(statements=1)


def test_a_valid_token_from_a_foreign_origin_is_refused(
    conversation: Conversation, api_client: APIClient
) -> None:
    statement = StatementFactory.create(conversation=conversation)
    client = with_csrf(api_client, conversation)
    response = client.post(
        vote_url(conversation),
        {"statement": statement.pk, "value": 1},
        HTTP_ORIGIN="https://elsewhere.example",
    )
    assert_csrf_refusal(response)
    assert nothing_written(statements=1)
