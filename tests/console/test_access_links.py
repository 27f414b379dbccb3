"""Signed links through the console, end to end over HTTP: the moderator makes them, a
member opens theirs, a second device takes over only with the genuine link."""

import csv
import hashlib
import hmac
import io
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import (
    AccessMode,
    AllowedXid,
    AuditAction,
    AuditLogEntry,
    Conversation,
    Participant,
    ParticipantRequirement,
)
from tests.factories import ConversationFactory, StatementFactory

pytestmark = pytest.mark.django_db


def _moderator(conversation: Conversation) -> Client:
    client = Client()
    assert conversation.owner is not None
    client.force_login(conversation.owner)
    return client


def _personal_links(conversation: Conversation) -> dict[str, str]:
    response = _moderator(conversation).get(
        reverse("console:access_xid_links", args=[conversation.slug])
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["xid", "link"]
    return {xid: link for xid, link in rows[1:]}


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _vote(client: Client, slug: str, statement_id: int) -> int:
    api = APIClient()
    api.cookies = client.cookies
    return api.post(
        f"/api/v1/conversations/{slug}/votes/", {"statement": statement_id, "value": 1}
    ).status_code


def test_personal_link_admits_its_member_and_a_new_device_moves_them_audited() -> None:
    statement = StatementFactory.create(conversation__access_mode=AccessMode.XID_LIST)
    conversation = statement.conversation
    AllowedXid.objects.bulk_create(
        [AllowedXid(conversation=conversation, xid=xid) for xid in ("m-1", "m-2")]
    )
    links = _personal_links(conversation)
    assert set(links) == {"m-1", "m-2"}
    assert links["m-1"] != links["m-2"]

    laptop = Client()
    page = laptop.get(_path(links["m-1"]))
    assert page.status_code == 200 and conversation.topic.encode() in page.content
    assert laptop.post(_path(links["m-1"])).status_code == 302
    assert _vote(laptop, conversation.slug, statement.pk) == 201

    phone = Client()
    assert phone.post(_path(links["m-1"])).status_code == 302
    member = Participant.objects.get(xid="m-1")
    assert member.session_key == phone.session.session_key
    entry = AuditLogEntry.objects.get(action=AuditAction.PARTICIPANT_MOVED)
    assert entry.target_id == member.pk
    # The laptop is no longer the member: in an id-list conversation it cannot vote at all.
    assert _vote(laptop, conversation.slug, statement.pk) == 403
    assert _vote(phone, conversation.slug, statement.pk) == 201
    audit = _moderator(conversation).get(reverse("console:audit", args=[conversation.slug]))
    assert b"Participant moved to a new device" in audit.content


def test_unsigned_link_is_refused_on_sight_with_a_clear_page() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="m-1")
    url = reverse("console:join_xid", args=[conversation.slug])
    response = Client().get(f"{url}?xid=m-1")
    assert response.status_code == 403
    assert b"not signed" in response.content
    assert not Participant.objects.exists()


def test_the_secret_is_shown_once_and_signs_links_as_the_console_documents() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.SIGNED)
    moderator = _moderator(conversation)
    access = reverse("console:access", args=[conversation.slug])
    before = moderator.get(access)
    assert b"hmac.new(SECRET.encode()" in before.content
    made = moderator.post(reverse("console:access_xid_secret", args=[conversation.slug]))
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    secret = made.context["new_secret"]
    assert secret.encode() in made.content
    assert secret.encode() not in moderator.get(access).content

    # The snippet the page gives the organisation's server, run as written.
    sig = hmac.new(
        secret.encode(), f"{conversation.slug}:user-42".encode(), hashlib.sha256
    ).hexdigest()
    url = reverse("console:join_xid", args=[conversation.slug])
    member = Client()
    assert member.post(f"{url}?xid=user-42&sig={sig}").status_code == 302
    assert Participant.objects.get().xid == "user-42"
    refused = Client().post(f"{url}?xid=user-43&sig={sig}")
    assert refused.status_code == 403
    assert b"does not match" in refused.content


def test_access_rules_are_set_in_the_console_and_audited() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    assert conversation.members_only
    response = _moderator(conversation).post(
        reverse("console:access_rules", args=[conversation.slug]),
        {"participant_requirement": ParticipantRequirement.EMAIL},
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert not conversation.members_only
    assert conversation.participant_requirement == ParticipantRequirement.EMAIL
    entry = AuditLogEntry.objects.get(action=AuditAction.ACCESS_CHANGED)
    assert entry.after == {"members_only": False, "participant_requirement": "email"}


def test_a_stranger_cannot_make_or_download_links() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="m-1")
    for url in (
        reverse("console:access_xid_links", args=[conversation.slug]),
        reverse("console:access_xid_secret", args=[conversation.slug]),
    ):
        stranger = Client()
        stranger.force_login(ConversationFactory.create().owner)  # type: ignore[arg-type]
        response = stranger.post(url) if url.endswith("secret/") else stranger.get(url)
        assert response.status_code == 404
