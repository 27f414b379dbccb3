"""Finding conversations and the statements a participant can see."""

import enum
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from deliberation.errors import NotFound
from deliberation.models import (
    MEMBER_ACCESS_MODES,
    Conversation,
    Participant,
    Statement,
    StatementStatus,
    Visibility,
)


def conversation_list_public() -> QuerySet[Conversation]:
    """Conversations listed on the home page and in the API's list: public ones, less those
    only members may read (their topic alone can say more than its organisers want)."""
    return Conversation.objects.filter(visibility=Visibility.PUBLIC).exclude(
        access_mode__in=MEMBER_ACCESS_MODES, members_only=True
    )


def conversation_can_moderate(
    *, conversation: Conversation, user: AbstractBaseUser | AnonymousUser | None
) -> bool:
    """Whether this user may see and run a conversation whatever its visibility: staff, its
    owner and its moderators."""
    if user is None or not user.is_authenticated:
        return False
    if getattr(user, "is_staff", False) or conversation.owner_id == user.pk:
        return True
    return conversation.moderators.filter(pk=user.pk).exists()


def conversation_members_only(*, conversation: Conversation) -> bool:
    """Whether only members read this conversation: invite, signed or id-list access with
    ``members_only`` (the default) on."""
    return conversation.access_mode in MEMBER_ACCESS_MODES and conversation.members_only


def conversation_can_read(
    *,
    conversation: Conversation,
    user: AbstractBaseUser | AnonymousUser | None,
    participant: Participant | None,
) -> bool:
    """Whether this person may read the conversation's statements, groups and report: the
    one place that decides it (visibility aside: conversation_get hides private ones).

    A members-only conversation is read by its participants (those its access mode let
    in) and its moderators; anyone else learns no more than its topic.
    """
    if not conversation_members_only(conversation=conversation):
        return True
    if participant is not None and participant.conversation_id == conversation.pk:
        return True
    return conversation_can_moderate(conversation=conversation, user=user)


class WriteState(enum.Enum):
    NOT_YET_OPEN = "not_yet_open"
    OPEN = "open"
    CLOSED = "closed"


def conversation_write_state(
    *, conversation: Conversation, now: datetime | None = None
) -> WriteState:
    """Whether the conversation takes writes now: the one place that decides it.

    The moderator's manual ``is_open`` switch and the scheduled ``opens_at`` / ``closes_at``
    window must all agree for it to be open.
    """
    now = now or timezone.now()
    if not conversation.is_open or (
        conversation.closes_at is not None and now >= conversation.closes_at
    ):
        return WriteState.CLOSED
    if conversation.opens_at is not None and now < conversation.opens_at:
        return WriteState.NOT_YET_OPEN
    return WriteState.OPEN


def conversation_get(
    *, slug: str, user: AbstractBaseUser | AnonymousUser | None = None
) -> Conversation:
    """The conversation behind a link: public and unlisted ones for anyone, private ones
    for its moderators. A private conversation looks exactly like a missing one to others."""
    conversation = Conversation.objects.filter(slug=slug).first()
    if conversation is None or (
        conversation.visibility == Visibility.PRIVATE
        and not conversation_can_moderate(conversation=conversation, user=user)
    ):
        raise NotFound(f"No conversation called {slug!r}.")
    return conversation


def statement_list_visible(
    *, conversation: Conversation, participant: Participant | None = None
) -> QuerySet[Statement]:
    """Accepted statements, plus the participant's own pending ones."""
    visible = Statement.objects.filter(conversation=conversation, status=StatementStatus.ACCEPTED)
    if participant is not None:
        own_pending = Statement.objects.filter(
            conversation=conversation,
            author_participant=participant,
            status=StatementStatus.PENDING,
        )
        visible = visible | own_pending
    return visible.order_by("created_at", "id")


def statement_get_in_conversation(*, conversation: Conversation, statement_id: object) -> Statement:
    """A statement of this conversation by database id, or NotFound."""
    try:
        pk = int(str(statement_id))
    except ValueError:
        raise NotFound(
            f"No statement {statement_id!r} in this conversation.", field="statement"
        ) from None
    statement = Statement.objects.filter(conversation=conversation, pk=pk).first()
    if statement is None:
        raise NotFound(f"No statement {statement_id!r} in this conversation.", field="statement")
    return statement
