"""Members-only conversations over HTTP: what a non-member may not read, on every surface
that shows statements, groups or a report; and what a member and a moderator still may."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import AccessMode, Conversation
from deliberation.services.access import invite_token_make
from tests.snapshot_data import clustered, log_in_as_first_of_camp_a, two_camps

pytestmark = pytest.mark.django_db


def _reads(conversation: Conversation, snapshot_id: int) -> list[str]:
    slug = conversation.slug
    api = f"/api/v1/conversations/{slug}"
    return [
        reverse("web:conversation", args=[slug]),
        reverse("web:groups", args=[slug]),
        reverse("web:groups_panel", args=[slug]),
        f"{api}/",
        f"{api}/statements/",
        f"{api}/groups/",
        f"{api}/snapshots/",
        reverse("report:latest", args=[slug]),
        reverse("report:frozen", args=[slug, snapshot_id]),
        reverse("report:export", args=[slug, snapshot_id, "json"]),
    ]


@pytest.fixture
def invite_only() -> tuple[Conversation, int, str]:
    camps = two_camps(per_camp=6, n_statements=5)
    snapshot = clustered(camps)
    conversation = camps.conversation
    conversation.access_mode = AccessMode.INVITE
    conversation.save()
    return conversation, snapshot.pk, camps.statements[0].text


@pytest.mark.parametrize("api", [False, True])
def test_a_non_member_reads_nothing_of_an_invite_only_conversation(
    invite_only: tuple[Conversation, int, str], api: bool
) -> None:
    conversation, snapshot_id, text = invite_only
    client = APIClient() if api else Client()
    for url in _reads(conversation, snapshot_id):
        response = client.get(url)
        assert response.status_code == 403, url
        assert text.encode() not in response.content, url
        assert b"members only" in response.content, url


def test_the_chat_answers_a_non_member_nothing(invite_only: tuple[Conversation, int, str]) -> None:
    conversation, _, text = invite_only
    response = APIClient().post(
        f"/api/v1/conversations/{conversation.slug}/assistant/chat/",
        {"intent": "groups", "text": ""},
        format="json",
    )
    assert response.status_code == 403
    assert text.encode() not in response.content


def test_a_member_and_a_moderator_read_everything(
    invite_only: tuple[Conversation, int, str],
) -> None:
    conversation, snapshot_id, text = invite_only
    moderator = Client()
    assert conversation.owner is not None
    moderator.force_login(conversation.owner)
    invited = Client()
    assert (
        invited.post(
            reverse("console:join_invite", args=[invite_token_make(conversation=conversation)])
        ).status_code
        == 302
    )
    for client in (moderator, invited):
        for url in _reads(conversation, snapshot_id):
            assert client.get(url).status_code == 200, url
    statements = invited.get(f"/api/v1/conversations/{conversation.slug}/statements/")
    assert text.encode() in statements.content


def test_a_member_found_by_account_reads_the_groups() -> None:
    camps = two_camps(per_camp=6, n_statements=5)
    snapshot = clustered(camps)
    camps.conversation.access_mode = AccessMode.XID_LIST
    camps.conversation.save()
    client = Client()
    log_in_as_first_of_camp_a(client, camps)
    assert client.get(f"/api/v1/conversations/{camps.conversation.slug}/me/").status_code == 200
    assert (
        client.get(
            reverse("report:frozen", args=[camps.conversation.slug, snapshot.pk])
        ).status_code
        == 200
    )


def test_members_only_switched_off_lets_anyone_read(
    invite_only: tuple[Conversation, int, str],
) -> None:
    conversation, snapshot_id, _ = invite_only
    conversation.members_only = False
    conversation.save()
    client = Client()
    page, *others = _reads(conversation, snapshot_id)
    for url in others:
        assert client.get(url).status_code == 200, url
    # The page itself still says how to join, as before members-only existed.
    assert b"by invitation" in client.get(page).content


def test_a_members_only_conversation_is_not_listed_to_the_public(
    invite_only: tuple[Conversation, int, str],
) -> None:
    conversation, _, _ = invite_only
    conversation.topic = "Closing the Elm Street shelter"
    conversation.save()
    assert conversation.topic not in Client().get(reverse("web:home")).content.decode()
    listed = APIClient().get("/api/v1/conversations/").json()
    assert conversation.slug not in str(listed)
    # Without members_only it is listed like any public conversation.
    conversation.members_only = False
    conversation.save()
    assert conversation.topic in Client().get(reverse("web:home")).content.decode()
