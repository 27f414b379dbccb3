import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deliberation.models import (
    AccessMode,
    AllowedXid,
    AuditAction,
    AuditLogEntry,
    Conversation,
    Participant,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
)
from deliberation.services.access import invite_token_make
from tests.factories import (
    ConversationFactory,
    ParticipantFactory,
    StatementFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEW_CONVERSATION = {
    "topic": "Parks",
    "moderation_mode": "strict",
    "participants_can_add": "on",
    "is_open": "on",
    "visibility": "public",
    "report_visibility": "public",
    "access_mode": "anyone",
}


def _client(user: User | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _console_urls(conversation: Conversation) -> list[tuple[str, str, dict[str, Any]]]:
    """Every console URL of one conversation, with the method and a plausible body."""
    slug = conversation.slug
    statement = StatementFactory.create(conversation=conversation, status=StatementStatus.PENDING)
    participant = ParticipantFactory.create(conversation=conversation)
    s, p = statement.pk, participant.pk
    return [
        ("get", reverse("console:dashboard", args=[slug]), {}),
        ("post", reverse("console:recompute", args=[slug]), {}),
        ("post", reverse("console:topic_rename", args=[slug, 1]), {"name": "Hijacked"}),
        ("get", reverse("console:settings", args=[slug]), {}),
        ("post", reverse("console:settings", args=[slug]), {"topic": "Hijacked"}),
        ("post", reverse("console:seeds", args=[slug]), {"seeds": "Injected."}),
        ("get", reverse("console:access", args=[slug]), {}),
        ("post", reverse("console:access_xids", args=[slug]), {"xids": "x"}),
        ("post", reverse("console:access_invite_reset", args=[slug]), {}),
        ("post", reverse("console:access_rules", args=[slug]), {"participant_requirement": "none"}),
        ("post", reverse("console:access_xid_secret", args=[slug]), {}),
        ("get", reverse("console:access_xid_links", args=[slug]), {}),
        ("post", reverse("console:moderators", args=[slug]), {"username": "x", "moderates": "1"}),
        ("get", reverse("console:queue", args=[slug]), {}),
        ("post", reverse("console:decide", args=[slug]), {"one": f"accept:{s}"}),
        ("get", reverse("console:statement", args=[slug, s]), {}),
        ("post", reverse("console:statement_text", args=[slug, s]), {"text": "Changed."}),
        ("post", reverse("console:statement_flags", args=[slug, s]), {"is_meta": "on"}),
        ("get", reverse("console:participants", args=[slug]), {}),
        ("post", reverse("console:participant_exclusion", args=[slug, p]), {"excluded": "1"}),
        ("get", reverse("console:signals", args=[slug]), {}),
        ("get", reverse("console:audit", args=[slug]), {}),
        ("get", reverse("console:audit_csv", args=[slug]), {}),
    ]


def _untouched(conversation: Conversation) -> None:
    conversation.refresh_from_db()
    assert conversation.topic != "Hijacked"
    assert conversation.invite_version == 1
    assert not conversation.statements.exclude(status=StatementStatus.PENDING).exists()
    assert not conversation.statements.filter(is_meta=True).exists()
    assert not Participant.objects.filter(conversation=conversation, excluded=True).exists()
    assert not AuditLogEntry.objects.filter(conversation=conversation).exists()


def test_moderator_of_another_conversation_gets_404_on_every_console_url() -> None:
    conversation = ConversationFactory.create()
    outsider = ConversationFactory.create().owner
    client = _client(outsider)
    for method, url, data in _console_urls(conversation):
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url)
    _untouched(conversation)


def test_anonymous_visitor_is_sent_to_the_login_page_from_every_console_url() -> None:
    conversation = ConversationFactory.create()
    client = _client()
    for method, url, data in _console_urls(conversation):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("console:login"))
    assert client.get(reverse("console:list")).status_code == 302
    _untouched(conversation)


def test_staff_and_conversation_moderators_see_every_console_page() -> None:
    conversation = ConversationFactory.create()
    moderator = UserFactory.create()
    conversation.moderators.add(moderator)
    for user in (UserFactory.create(is_staff=True), moderator, conversation.owner):
        client = _client(user)
        for method, url, _ in _console_urls(conversation):
            if method == "get":
                assert client.get(url).status_code == 200, (user, url)


def test_login_page_logs_a_moderator_in_with_username_and_password() -> None:
    UserFactory.create(username="mod")
    client = Client()
    response = client.post(
        reverse("console:login"),
        {"username": "mod", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:list")
    assert client.get(reverse("console:list")).status_code == 200


def test_creating_a_conversation_with_seeds_leads_to_its_dashboard() -> None:
    staff = UserFactory.create(is_staff=True)
    response = _client(staff).post(
        reverse("console:new"), {**NEW_CONVERSATION, "seeds": "More trees.\nMore benches."}
    )
    conversation = Conversation.objects.get()
    assert response["Location"] == reverse("console:dashboard", args=[conversation.slug])
    assert conversation.statements.filter(is_seed=True).count() == 2


def test_closing_before_opening_is_refused_inline_and_keeps_what_was_typed() -> None:
    staff = UserFactory.create(is_staff=True)
    response = _client(staff).post(
        reverse("console:new"),
        {
            **NEW_CONVERSATION,
            "opens_at": "2030-05-02T10:00",
            "closes_at": "2030-05-01T10:00",
            "seeds": "Keep me.",
        },
    )
    assert response.status_code == 400
    assert b"must close after it opens" in response.content
    assert b"Keep me." in response.content
    assert not Conversation.objects.exists()


def test_bulk_accept_from_the_queue() -> None:
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(
        3, conversation=conversation, status=StatementStatus.PENDING
    )
    client = _client(conversation.owner)
    response = client.post(
        reverse("console:decide", args=[conversation.slug]),
        {"ids": [s.pk for s in statements[:2]], "decision": "accept"},
        follow=True,
    )
    assert b"2 statement(s) accepted." in response.content
    statuses = list(Statement.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["accepted", "accepted", "pending"]


def test_bulk_decision_with_a_foreign_id_changes_nothing_and_says_why() -> None:
    conversation = ConversationFactory.create()
    mine = StatementFactory.create(conversation=conversation, status=StatementStatus.PENDING)
    foreign = StatementFactory.create(status=StatementStatus.PENDING)
    response = _client(conversation.owner).post(
        reverse("console:decide", args=[conversation.slug]),
        {"ids": [mine.pk, foreign.pk], "decision": "reject"},
        follow=True,
    )
    assert f"No statement {foreign.pk} in this conversation".encode() in response.content
    assert set(Statement.objects.values_list("status", flat=True)) == {"pending"}


def test_queue_is_paginated_filtered_and_flags_resemblances() -> None:
    conversation = ConversationFactory.create()
    original = StatementFactory.create(
        conversation=conversation, text="The council should open the pool on Sundays."
    )
    StatementFactory.create(
        conversation=conversation,
        text="The council should open the pool on Sunday!",
        status=StatementStatus.PENDING,
    )
    StatementFactory.create_batch(30, conversation=conversation, status=StatementStatus.PENDING)
    client = _client(conversation.owner)
    url = reverse("console:queue", args=[conversation.slug])
    first = client.get(url)
    link = reverse("console:statement", args=[conversation.slug, original.pk])
    assert f'resembles <a href="{link}">#{original.pk}</a>'.encode() in first.content
    assert b"Page 1 of 2 (31 in all)" in first.content
    second = client.get(url, {"status": "pending", "kind": "", "q": "", "page": "2"})
    assert b"Page 2 of 2" in second.content
    searched = client.get(url, {"status": "", "q": "pool"})
    assert searched.content.count(b'name="ids"') == 2


def test_typo_fix_shows_the_original_in_the_history() -> None:
    statement = StatementFactory.create(text="Moar trees.")
    conversation = statement.conversation
    client = _client(conversation.owner)
    client.post(
        reverse("console:statement_text", args=[conversation.slug, statement.pk]),
        {"text": "More trees."},
    )
    page = client.get(reverse("console:statement", args=[conversation.slug, statement.pk]))
    assert b"More trees." in page.content
    assert b"Moar trees." in page.content


def test_exclusion_and_undo_from_the_participants_page() -> None:
    participant = ParticipantFactory.create()
    conversation = participant.conversation
    client = _client(conversation.owner)
    url = reverse("console:participant_exclusion", args=[conversation.slug, participant.pk])
    client.post(url, {"excluded": "1", "reason": "spam"})
    participant.refresh_from_db()
    assert participant.excluded
    client.post(url, {"excluded": "0"})
    participant.refresh_from_db()
    assert not participant.excluded


def test_malformed_xid_upload_names_the_line_and_keeps_the_list() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="kept")
    response = _client(conversation.owner).post(
        reverse("console:access_xids", args=[conversation.slug]),
        {"file": io.BytesIO(b"m-1\nm-2\nm 3, oops\n")},
    )
    assert response.status_code == 400
    assert b"Line 3" in response.content
    assert list(AllowedXid.objects.values_list("xid", flat=True)) == ["kept"]


def test_audit_log_page_and_csv_export() -> None:
    statement = StatementFactory.create(status=StatementStatus.PENDING)
    conversation = statement.conversation
    client = _client(conversation.owner)
    client.post(
        reverse("console:decide", args=[conversation.slug]), {"one": f"reject:{statement.pk}"}
    )
    page = client.get(reverse("console:audit", args=[conversation.slug]))
    assert b"Statement rejected" in page.content
    response = client.get(reverse("console:audit_csv", args=[conversation.slug]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0][:3] == ["created_at", "moderator", "action"]
    assert rows[1][1:5] == [
        conversation.owner.username,  # type: ignore[union-attr]
        AuditAction.STATEMENT_REJECTED,
        "statement",
        str(statement.pk),
    ]
    assert rows[1][5:] == ['{"status": "pending"}', '{"status": "rejected"}']


def test_invite_link_admits_its_holder_to_the_conversation() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    client = Client()
    url = reverse("console:join_invite", args=[invite_token_make(conversation=conversation)])
    assert conversation.topic.encode() in client.get(url).content
    response = client.post(url)
    assert response["Location"] == reverse("web:conversation", args=[conversation.slug])
    participant = Participant.objects.get()
    assert participant.session_key == client.session.session_key


def test_broken_invite_link_is_refused_with_a_clear_message() -> None:
    response = Client().post(reverse("console:join_invite", args=["not-a-token"]))
    assert response.status_code == 400
    assert b"invite link is not valid" in response.content
    assert not Participant.objects.exists()


def test_settings_page_shows_the_rate_limits_in_force(settings: Any) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"address": 42}}
    conversation = ConversationFactory.create()
    response = _client(conversation.owner).get(
        reverse("console:settings", args=[conversation.slug])
    )
    page = response.content.decode()
    assert "Rate limits" in page
    assert '<th scope="row">Statement</th><td>6</td><td>42</td><td>600</td>' in page
    assert '<th scope="row">Join</th><td>no limit</td>' in page
    # Once, in the page body: not also in the page's title and heading.
    assert page.count('id="limits-heading"') == 1
    assert "Rate limits" not in page.split("<title>")[1].split("</title>")[0]


def _log_in(client: Client, url: str, password: str) -> Any:
    return client.post(url, {"username": "mod", "password": password}, REMOTE_ADDR="203.0.113.7")


@pytest.mark.parametrize("login_url", ["console:login", "admin:login"])
def test_thirty_wrong_passwords_lock_the_login_until_the_cool_off(login_url: str) -> None:
    UserFactory.create(username="mod", is_staff=True)
    client, url = Client(), reverse(login_url)
    statuses = {_log_in(client, url, f"guess {i}").status_code for i in range(30)}
    assert statuses == {200, 429}
    locked = _log_in(client, url, "correct horse battery staple")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by this one's guesses.
    other = client.post(url, {"username": "mod", "password": "correct horse battery staple"})
    assert other.status_code == 302
    client.logout()
    # After the cool-off the right password works again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _log_in(client, url, "correct horse battery staple").status_code == 302
    assert "_auth_user_id" in client.session


def test_the_dashboard_shows_moderators_why_the_last_run_failed() -> None:
    conversation = ConversationFactory.create()
    moderator = UserFactory.create()
    conversation.moderators.add(moderator)
    Snapshot.objects.create(
        conversation=conversation, status=SnapshotStatus.FAILED, error="ValueError: bad matrix"
    )

    html = _client(moderator).get(reverse("console:dashboard", args=[conversation.slug]))

    assert "failed: <code>ValueError: bad matrix</code>" in html.content.decode()
