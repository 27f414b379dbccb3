import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from deliberation.models import Conversation
from tests.factories import ConversationFactory


@pytest.fixture
def conversation() -> Conversation:
    return ConversationFactory.create()


def with_csrf(client: APIClient, conversation: Conversation) -> APIClient:
    """The client after the GET an anonymous app starts with, sending the token it was given."""
    client.get(reverse("v1:conversation-detail", args=[conversation.slug]))
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.fixture
def participant_client(api_client: APIClient, conversation: Conversation) -> APIClient:
    """An anonymous participant's client: session cookie and CSRF token, like a browser."""
    return with_csrf(api_client, conversation)


@pytest.fixture
def owner_client(conversation: Conversation) -> APIClient:
    """The conversation owner's script: a DRF token, no session, no CSRF token."""
    assert conversation.owner is not None
    token = Token.objects.create(user=conversation.owner)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
