"""Setting a conversation up: its settings, seed statements, who may take part, moderators.

Settings are checked as a whole before anything is written, and every change is audited
with the fields it changed, before and after.
"""

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from deliberation.errors import AgoraError, Conflict, InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    AccessMode,
    AllowedXid,
    AuditAction,
    Conversation,
    ModerationMode,
    ParticipantRequirement,
    ReportVisibility,
    Statement,
    Visibility,
)
from deliberation.models.conversations import link_salt_new
from deliberation.services.access import access_parse_xids, xid_secret
from deliberation.services.moderation import audit_record, moderation_authorize
from deliberation.services.statements import statement_create

TOPIC_MAX_LENGTH = 300
DESCRIPTION_MAX_LENGTH = 5000
SEEDS_MAX = 200


@dataclass(frozen=True)
class ConversationSettings:
    topic: str
    description: str = ""
    moderation_mode: str = ModerationMode.STRICT
    participants_can_add: bool = True
    is_open: bool = True
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    show_groups: bool = True
    visibility: str = Visibility.PUBLIC
    report_visibility: str = ReportVisibility.PUBLIC
    access_mode: str = AccessMode.ANYONE


def _choice(value: str, choices: type[Any], field: str, what: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise InvalidInput(f"{what} must be one of {allowed}, not {value!r}.", field=field)
    return value


def conversation_settings_clean(settings: ConversationSettings) -> ConversationSettings:
    """The settings with text trimmed, or a clear error naming the first thing wrong."""
    topic = settings.topic.strip()
    if not topic:
        raise InvalidInput("The topic cannot be empty.", field="topic")
    if len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidInput(
            f"The topic can be at most {TOPIC_MAX_LENGTH} characters.", field="topic"
        )
    description = settings.description.strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise InvalidInput(
            f"The description can be at most {DESCRIPTION_MAX_LENGTH} characters.",
            field="description",
        )
    if (
        settings.opens_at is not None
        and settings.closes_at is not None
        and settings.closes_at <= settings.opens_at
    ):
        raise InvalidInput("The conversation must close after it opens.", field="closes_at")
    _choice(settings.moderation_mode, ModerationMode, "moderation_mode", "Moderation")
    _choice(settings.visibility, Visibility, "visibility", "Visibility")
    _choice(settings.report_visibility, ReportVisibility, "report_visibility", "Report")
    _choice(settings.access_mode, AccessMode, "access_mode", "Access")
    return ConversationSettings(**{**asdict(settings), "topic": topic, "description": description})


def _settings_of(conversation: Conversation) -> dict[str, Any]:
    return {
        field: getattr(conversation, field) for field in ConversationSettings.__dataclass_fields__
    }


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _seed_lines(text: str) -> list[tuple[int, str]]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) > SEEDS_MAX:
        raise InvalidInput(f"Paste at most {SEEDS_MAX} seed statements at once.", field="seeds")
    return lines


def _seed(*, moderator: User, conversation: Conversation, text: str) -> list[Statement]:
    """Add one seed statement per non-blank line; call inside a transaction.

    Each line goes through statement_create, so seeds obey the same rules (length,
    duplicates, including a line repeating an earlier one) as any other statement.
    """
    created = []
    for number, line in _seed_lines(text):
        try:
            statement = statement_create(
                conversation=conversation, text=line, author_user=moderator, is_seed=True
            )
        except AgoraError as error:
            raise InvalidInput(
                f"Seed statement on line {number}: {error.message} Nothing was added.",
                field="seeds",
            ) from error
        audit_record(
            actor=moderator,
            conversation=conversation,
            action=AuditAction.STATEMENT_SEEDED,
            target_type="statement",
            target_id=statement.pk,
            before=None,
            after={"text": statement.text},
        )
        created.append(statement)
    return created


def conversation_create(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    settings: ConversationSettings,
    seeds: str = "",
) -> Conversation:
    """Create a conversation owned by the actor, with its seed statements, or nothing at all.

    Staff and users granted ``deliberation.add_conversation`` may create conversations.
    """
    if actor is None or not actor.is_authenticated or not isinstance(actor, User):
        raise PermissionDenied("Log in to create a conversation.")
    if not (actor.is_staff or actor.has_perm("deliberation.add_conversation")):
        raise PermissionDenied("You may not create conversations; ask an administrator.")
    cleaned = conversation_settings_clean(settings)
    _seed_lines(seeds)
    base = slugify(cleaned.topic)[:80].strip("-") or "conversation"
    slug = base
    for _ in range(5):
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    slug=slug, owner=actor, **asdict(cleaned)
                )
                audit_record(
                    actor=actor,
                    conversation=conversation,
                    action=AuditAction.CONVERSATION_CREATED,
                    target_type="conversation",
                    target_id=conversation.pk,
                    before=None,
                    after=_json({"slug": slug, **asdict(cleaned)}),
                )
                _seed(moderator=actor, conversation=conversation, text=seeds)
                return conversation
        except IntegrityError:
            # Race (or a plain clash): another conversation holds this slug, possibly
            # created a moment ago; the unique constraint decides, we try another suffix.
            if not Conversation.objects.filter(slug=slug).exists():
                raise
            slug = f"{base}-{secrets.token_hex(3)}"
    raise Conflict("Could not find a free address for this conversation; change its topic.")


def conversation_update(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    conversation: Conversation,
    settings: ConversationSettings,
) -> Conversation:
    """Change a conversation's settings; the audit entry holds the changed fields only."""
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    cleaned = asdict(conversation_settings_clean(settings))
    with transaction.atomic():
        # Race: two moderators saving settings at once; the lock makes each audit entry's
        # "before" the state the other one left.
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        current = _settings_of(locked)
        changed = [field for field, value in cleaned.items() if current[field] != value]
        if not changed:
            return locked
        for field in changed:
            setattr(locked, field, cleaned[field])
        locked.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=moderator,
            conversation=locked,
            action=AuditAction.CONVERSATION_UPDATED,
            target_type="conversation",
            target_id=locked.pk,
            before=_json({field: current[field] for field in changed}),
            after=_json({field: cleaned[field] for field in changed}),
        )
    return locked


def conversation_seed(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation, seeds: str
) -> list[Statement]:
    """Add seed statements pasted one per line: all of them, or none with the bad line named."""
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    if not _seed_lines(seeds):
        raise InvalidInput("Paste at least one statement, one per line.", field="seeds")
    with transaction.atomic():
        return _seed(moderator=moderator, conversation=conversation, text=seeds)


def conversation_xids_replace(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation, xids: str
) -> list[str]:
    """Replace the list of external ids allowed to take part. A malformed list changes nothing.

    Participants already in keep their place: the list gates who may join.
    """
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    parsed = access_parse_xids(xids)
    with transaction.atomic():
        # Race: two moderators uploading lists at once; the conversation lock serialises
        # the delete-and-insert so the result is one list or the other, never a mix.
        Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
        old = set(
            AllowedXid.objects.filter(conversation=conversation).values_list("xid", flat=True)
        )
        AllowedXid.objects.filter(conversation=conversation).exclude(xid__in=parsed).delete()
        AllowedXid.objects.bulk_create(
            [AllowedXid(conversation=conversation, xid=xid) for xid in parsed if xid not in old]
        )
        audit_record(
            actor=moderator,
            conversation=conversation,
            action=AuditAction.ACCESS_CHANGED,
            target_type="conversation",
            target_id=conversation.pk,
            before={"xids": len(old)},
            after={
                "xids": len(parsed),
                "added": len(set(parsed) - old),
                "removed": len(old - set(parsed)),
            },
        )
    return parsed


def conversation_invite_reset(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation
) -> Conversation:
    """Revoke every invite link handed out so far; a new one replaces them."""
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    with transaction.atomic():
        # Race: two resets at once each bump the version; F() makes both count.
        Conversation.objects.filter(pk=conversation.pk).update(
            invite_version=F("invite_version") + 1
        )
        conversation.refresh_from_db(fields=["invite_version"])
        audit_record(
            actor=moderator,
            conversation=conversation,
            action=AuditAction.INVITE_LINK_RESET,
            target_type="conversation",
            target_id=conversation.pk,
            before={"invite_version": conversation.invite_version - 1},
            after={"invite_version": conversation.invite_version},
        )
    return conversation


def conversation_access_set(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    conversation: Conversation,
    members_only: bool,
    participant_requirement: str,
) -> Conversation:
    """Set who may read a member-only conversation and what each participant must prove."""
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    _choice(participant_requirement, ParticipantRequirement, "participant_requirement", "Proof")
    wanted = {"members_only": members_only, "participant_requirement": participant_requirement}
    with transaction.atomic():
        # Race: two moderators saving at once; the lock makes each entry's "before" true.
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        before = {field: getattr(locked, field) for field in wanted}
        if before == wanted:
            return locked
        for field, value in wanted.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*wanted, "updated_at"])
        audit_record(
            actor=moderator,
            conversation=locked,
            action=AuditAction.ACCESS_CHANGED,
            target_type="conversation",
            target_id=locked.pk,
            before=before,
            after=wanted,
        )
    return locked


def conversation_xid_secret_rotate(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation
) -> str:
    """A new secret for signing external-id links, returned to be shown once.

    Every link signed with the old one stops working, console-made personal links included.
    """
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    with transaction.atomic():
        # Race: two rotations at once; the lock orders them, the last one's secret holds.
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        locked.xid_salt = link_salt_new()
        locked.xid_secret_rotated_at = timezone.now()
        locked.save(update_fields=["xid_salt", "xid_secret_rotated_at", "updated_at"])
        audit_record(
            actor=moderator,
            conversation=locked,
            action=AuditAction.XID_SECRET_ROTATED,
            target_type="conversation",
            target_id=locked.pk,
            before=None,
            after={"rotated_at": locked.xid_secret_rotated_at.isoformat()},
        )
    conversation.xid_salt = locked.xid_salt
    conversation.xid_secret_rotated_at = locked.xid_secret_rotated_at
    return xid_secret(conversation=locked)


def _owner_authorize(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation
) -> User:
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    if not (moderator.is_staff or conversation.owner_id == moderator.pk):
        raise PermissionDenied("Only the conversation's owner chooses its moderators.")
    return moderator


def conversation_moderator_set(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    conversation: Conversation,
    username: str,
    moderates: bool,
) -> User:
    """Add or remove a moderator by username (owner and staff only)."""
    owner = _owner_authorize(actor=actor, conversation=conversation)
    user = User.objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise NotFound(f"No active user called {username.strip()!r}.", field="username")
    with transaction.atomic():
        before = conversation.moderators.filter(pk=user.pk).exists()
        if moderates:
            conversation.moderators.add(user)
        else:
            conversation.moderators.remove(user)
        audit_record(
            actor=owner,
            conversation=conversation,
            action=AuditAction.MODERATOR_ADDED if moderates else AuditAction.MODERATOR_REMOVED,
            target_type="user",
            target_id=user.pk,
            before={"username": user.username, "moderator": before},
            after={"username": user.username, "moderator": moderates},
        )
    return user
