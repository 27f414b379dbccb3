from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission

from deliberation.errors import InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    AccessMode,
    AllowedXid,
    AuditAction,
    AuditLogEntry,
    Conversation,
    Statement,
    StatementStatus,
)
from deliberation.services.conversation_setup import (
    ConversationSettings,
    conversation_create,
    conversation_invite_reset,
    conversation_moderator_set,
    conversation_seed,
    conversation_update,
    conversation_xids_replace,
)
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = ConversationSettings(topic="  How should we fund the library?  ", description="Budget.")
OPENS = datetime(2030, 1, 1, 9, tzinfo=UTC)
CLOSES = datetime(2030, 1, 31, 18, tzinfo=UTC)


def test_staff_creates_a_conversation_with_seeds_all_accepted_and_logged() -> None:
    staff = UserFactory.create(is_staff=True)
    conversation = conversation_create(
        actor=staff,
        settings=replace(SETTINGS, opens_at=OPENS, closes_at=CLOSES),
        seeds="Open on Sundays.\n\n  Buy more e-books.  \n",
    )
    assert (conversation.topic, conversation.slug) == (
        "How should we fund the library?",
        "how-should-we-fund-the-library",
    )
    assert conversation.owner == staff
    seeds = list(Statement.objects.order_by("id").values_list("text", "is_seed", "status"))
    assert seeds == [
        ("Open on Sundays.", True, StatementStatus.ACCEPTED),
        ("Buy more e-books.", True, StatementStatus.ACCEPTED),
    ]
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.CONVERSATION_CREATED] + [AuditAction.STATEMENT_SEEDED] * 2
    created = AuditLogEntry.objects.get(action=AuditAction.CONVERSATION_CREATED)
    assert created.after["opens_at"] == OPENS.isoformat()  # type: ignore[index]


def test_a_user_with_the_add_permission_may_create_and_others_may_not() -> None:
    user = UserFactory.create()
    with pytest.raises(PermissionDenied, match="ask an administrator"):
        conversation_create(actor=user, settings=SETTINGS)
    user.user_permissions.add(Permission.objects.get(codename="add_conversation"))
    user = type(user).objects.get(pk=user.pk)  # permissions are cached per instance
    assert conversation_create(actor=user, settings=SETTINGS).owner == user


def test_same_topic_twice_gets_a_distinct_address() -> None:
    staff = UserFactory.create(is_staff=True)
    first = conversation_create(actor=staff, settings=SETTINGS)
    second = conversation_create(actor=staff, settings=SETTINGS)
    assert second.slug.startswith(first.slug + "-")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (replace(SETTINGS, topic="   "), "topic cannot be empty"),
        (replace(SETTINGS, opens_at=CLOSES, closes_at=OPENS), "close after it opens"),
        (replace(SETTINGS, opens_at=OPENS, closes_at=OPENS), "close after it opens"),
        (replace(SETTINGS, access_mode="everyone"), "Access must be one of"),
        (replace(SETTINGS, moderation_mode="lax"), "Moderation must be one of"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    settings: ConversationSettings, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        conversation_create(actor=UserFactory.create(is_staff=True), settings=settings)
    assert not Conversation.objects.exists()


def test_a_bad_seed_line_creates_nothing_and_names_the_line() -> None:
    with pytest.raises(InvalidInput, match="line 3: This statement is already"):
        conversation_create(
            actor=UserFactory.create(is_staff=True),
            settings=SETTINGS,
            seeds="Open on Sundays.\nBuy e-books.\nopen on  SUNDAYS.\n",
        )
    assert not Conversation.objects.exists()
    assert not Statement.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_seeding_later_is_all_or_nothing() -> None:
    conversation = ConversationFactory.create()
    with pytest.raises(InvalidInput, match="line 2: A statement can be at most 500"):
        conversation_seed(
            actor=conversation.owner, conversation=conversation, seeds="Fine.\n" + "x" * 501
        )
    assert not Statement.objects.exists()
    added = conversation_seed(actor=conversation.owner, conversation=conversation, seeds="A.\nB.")
    assert [s.text for s in added] == ["A.", "B."]


def test_update_logs_only_the_changed_fields() -> None:
    conversation = ConversationFactory.create(topic="Old topic")
    settings = ConversationSettings(
        topic="New topic",
        description=conversation.description,
        closes_at=CLOSES,
    )
    conversation_update(actor=conversation.owner, conversation=conversation, settings=settings)
    entry = AuditLogEntry.objects.get()
    assert entry.before == {"topic": "Old topic", "closes_at": None}
    assert entry.after == {"topic": "New topic", "closes_at": CLOSES.isoformat()}
    # Saving the same settings again is not an action.
    conversation_update(actor=conversation.owner, conversation=conversation, settings=settings)
    assert AuditLogEntry.objects.count() == 1


def test_update_refuses_closing_before_opening_and_changes_nothing() -> None:
    conversation = ConversationFactory.create(topic="Kept")
    with pytest.raises(InvalidInput, match="close after it opens"):
        conversation_update(
            actor=conversation.owner,
            conversation=conversation,
            settings=ConversationSettings(topic="Changed", opens_at=CLOSES, closes_at=OPENS),
        )
    conversation.refresh_from_db()
    assert (conversation.topic, conversation.opens_at) == ("Kept", None)


def test_moderator_of_another_conversation_cannot_change_settings_or_access() -> None:
    conversation = ConversationFactory.create()
    outsider = ConversationFactory.create().owner
    with pytest.raises(PermissionDenied):
        conversation_update(actor=outsider, conversation=conversation, settings=SETTINGS)
    with pytest.raises(PermissionDenied):
        conversation_xids_replace(actor=outsider, conversation=conversation, xids="a\nb")
    with pytest.raises(PermissionDenied):
        conversation_invite_reset(actor=outsider, conversation=conversation)
    with pytest.raises(PermissionDenied):
        conversation_seed(actor=outsider, conversation=conversation, seeds="Sneaky.")
    assert not AuditLogEntry.objects.exists()


def test_xid_list_upload_replaces_the_list() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    conversation_xids_replace(actor=conversation.owner, conversation=conversation, xids="a\nb\nc")
    conversation_xids_replace(actor=conversation.owner, conversation=conversation, xids="c\nd")
    assert sorted(AllowedXid.objects.values_list("xid", flat=True)) == ["c", "d"]
    assert AuditLogEntry.objects.order_by("id").last().after == {  # type: ignore[union-attr]
        "xids": 2,
        "added": 1,
        "removed": 2,
    }


def test_malformed_xid_list_keeps_the_old_list() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    conversation_xids_replace(actor=conversation.owner, conversation=conversation, xids="a\nb")
    with pytest.raises(InvalidInput, match="Line 2"):
        conversation_xids_replace(
            actor=conversation.owner, conversation=conversation, xids="c\nd e\n"
        )
    assert sorted(AllowedXid.objects.values_list("xid", flat=True)) == ["a", "b"]


def test_invite_reset_bumps_the_version() -> None:
    conversation = ConversationFactory.create()
    conversation_invite_reset(actor=conversation.owner, conversation=conversation)
    conversation.refresh_from_db()
    assert conversation.invite_version == 2


def test_only_the_owner_chooses_moderators() -> None:
    conversation = ConversationFactory.create()
    helper = UserFactory.create(username="helper")
    conversation_moderator_set(
        actor=conversation.owner, conversation=conversation, username="helper", moderates=True
    )
    assert list(conversation.moderators.all()) == [helper]
    with pytest.raises(PermissionDenied, match="owner"):
        conversation_moderator_set(
            actor=helper, conversation=conversation, username="helper", moderates=False
        )
    with pytest.raises(NotFound, match="nobody"):
        conversation_moderator_set(
            actor=conversation.owner, conversation=conversation, username="nobody", moderates=True
        )
