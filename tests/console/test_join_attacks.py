"""The audit's identity attacks, replayed over HTTP: each one must bind nothing.

Written against the code before signed links existed; every test here failed on it.
"""

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import AccessMode, AllowedXid, Participant
from deliberation.services.votes import vote_cast
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory

pytestmark = pytest.mark.django_db

# The key anyone can read in settings.py: what an attacker signs with when a site runs
# without AGORA_ENV=production.
DEVELOPMENT_KEY = "agora-development-only-key-not-for-production-use"


def _api_votes(client: Client, slug: str) -> list[object]:
    api = APIClient()
    api.cookies = client.cookies
    response = api.get(f"/api/v1/conversations/{slug}/votes/")
    if response.status_code == 403:  # a members-only conversation: not even the list
        return []
    assert response.status_code == 200
    return response.json()["results"] if isinstance(response.json(), dict) else response.json()


def test_guessed_xid_in_an_open_conversation_claims_no_imported_participant() -> None:
    statement = StatementFactory.create(conversation__access_mode=AccessMode.ANYONE)
    conversation = statement.conversation
    imported = ParticipantFactory.create(conversation=conversation, session_key="", xid="5")
    vote_cast(participant=imported, statement=statement, value=1)
    attacker = Client()
    response = attacker.post(reverse("console:join_xid", args=[conversation.slug]), {"xid": "5"})
    assert response.status_code in (400, 403)
    assert b"external id" in response.content
    imported.refresh_from_db()
    assert imported.session_key == ""
    assert _api_votes(attacker, conversation.slug) == []


def test_guessed_member_id_in_an_id_list_conversation_is_refused() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="member-1")
    url = reverse("console:join_xid", args=[conversation.slug])
    response = Client().post(url, {"xid": "member-1"})
    assert response.status_code == 403
    assert b"signed" in response.content
    assert not Participant.objects.exists()


def test_a_second_browser_with_a_members_id_does_not_take_the_member_over() -> None:
    statement = StatementFactory.create(conversation__access_mode=AccessMode.XID_LIST)
    conversation = statement.conversation
    AllowedXid.objects.create(conversation=conversation, xid="member-1")
    member = ParticipantFactory.create(conversation=conversation, xid="member-1")
    vote_cast(participant=member, statement=statement, value=1)
    thief = Client()
    response = thief.post(
        reverse("console:join_xid", args=[conversation.slug]), {"xid": "member-1"}
    )
    assert response.status_code == 403
    session_before = member.session_key
    member.refresh_from_db()
    assert member.session_key == session_before
    assert _api_votes(thief, conversation.slug) == []


def test_a_wrongly_signed_xid_is_refused() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="member-1")
    url = reverse("console:join_xid", args=[conversation.slug])
    response = Client().post(url, {"xid": "member-1", "sig": "0" * 64})
    assert response.status_code == 403
    assert not Participant.objects.exists()


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_invite_forged_with_the_development_key_is_refused(version: int) -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    forged = signing.dumps(
        {"c": conversation.pk, "v": version}, salt="agora.invite", key=DEVELOPMENT_KEY
    )
    response = Client().post(reverse("console:join_invite", args=[forged]))
    assert response.status_code == 400
    assert not Participant.objects.exists()


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_invite_forged_with_the_sites_secret_key_is_refused(version: int) -> None:
    """SECRET_KEY alone (say, leaked from a log) signs no invite either."""
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    forged = signing.dumps({"c": conversation.pk, "v": version}, salt="agora.invite")
    response = Client().post(reverse("console:join_invite", args=[forged]))
    assert response.status_code == 400
    assert not Participant.objects.exists()
