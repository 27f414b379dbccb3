"""Who may take part in a conversation, and when: access modes, invite links, rate limits
(counted in :mod:`deliberation.services.ratelimits`).

Every participant write (a vote, a statement) passes :func:`access_check_write`, and every
new participant passes :func:`access_check_join`, so the rules live here and nowhere else.
"""

import re
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.utils import timezone

from deliberation.errors import ConversationClosed, InvalidInput, PermissionDenied
from deliberation.models import (
    AccessMode,
    AllowedXid,
    Conversation,
    Participant,
    RateLimitAction,
)
from deliberation.models.moderation import XID_MAX_LENGTH
from deliberation.selectors.conversations import (
    WriteState,
    conversation_can_moderate,
    conversation_write_state,
)
from deliberation.services.ratelimits import ratelimit_check

INVITE_SALT = "agora.invite"
_XID = re.compile(r"[\w.@:+#/-]+")
_NOUNS = {RateLimitAction.VOTE: "votes", RateLimitAction.STATEMENT: "statements"}


def access_check_write(
    *,
    conversation: Conversation,
    participant: Participant | None,
    action: RateLimitAction,
    now: datetime | None = None,
) -> None:
    """Refuse a write the conversation does not take now, or one over the rate limit.

    ``participant`` is None for a moderator's write: moderators may prepare a conversation
    (seed it) before it opens, but nobody writes once it has closed.
    """
    now = now or timezone.now()
    noun = _NOUNS[action]
    state = conversation_write_state(conversation=conversation, now=now)
    if state is WriteState.CLOSED:
        raise ConversationClosed(f"This conversation is closed: it takes no new {noun}.")
    if participant is None:
        return
    if state is WriteState.NOT_YET_OPEN:
        assert conversation.opens_at is not None
        raise ConversationClosed(
            f"This conversation opens on {conversation.opens_at:%Y-%m-%d at %H:%M} UTC: "
            f"it takes no {noun} before then."
        )
    ratelimit_check(action=action, conversation=conversation, participant=participant)


def access_check_join(
    *,
    conversation: Conversation,
    user: AbstractBaseUser | AnonymousUser | None,
    xid: str | None,
    invited: bool,
) -> None:
    """Refuse a new participant the conversation's access mode keeps out.

    Its moderators always get in, so they can try the conversation as participants see it.
    """
    mode = conversation.access_mode
    if mode == AccessMode.ANYONE or conversation_can_moderate(conversation=conversation, user=user):
        return
    if mode == AccessMode.LOGGED_IN:
        if user is None or not user.is_authenticated:
            raise PermissionDenied("Log in to take part in this conversation.")
    elif mode == AccessMode.INVITE:
        if not invited:
            raise PermissionDenied(
                "This conversation is by invitation: open the invite link you were sent."
            )
    elif mode == AccessMode.XID_LIST and (
        not xid or not AllowedXid.objects.filter(conversation=conversation, xid=xid).exists()
    ):
        raise PermissionDenied(
            "This conversation is open to listed members only: "
            "open it from the link your organisation gave you."
        )


def invite_token_make(*, conversation: Conversation) -> str:
    """The signed token of the conversation's current invite link."""
    return signing.dumps({"c": conversation.pk, "v": conversation.invite_version}, salt=INVITE_SALT)


def invite_token_read(*, token: str) -> Conversation:
    """The conversation an invite token admits to, or a clear error."""
    try:
        payload = signing.loads(token, salt=INVITE_SALT)
        conversation_id, version = int(payload["c"]), int(payload["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidInput(
            "This invite link is not valid: check that you copied all of it."
        ) from None
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or conversation.invite_version != version:
        raise InvalidInput(
            "This invite link has been replaced by a newer one: "
            "ask the conversation's moderators for the current link."
        )
    return conversation


def access_parse_xids(text: str) -> list[str]:
    """The external ids of a list pasted or uploaded one per line, in order, without repeats.

    Blank lines are skipped; a line that is not an id (spaces, commas, over-long) is refused
    with its number, so a spreadsheet pasted in the wrong shape is caught before any change.
    """
    xids: dict[str, None] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if len(line) > XID_MAX_LENGTH or not _XID.fullmatch(line):
            shown = line if len(line) <= 40 else line[:40] + "…"
            raise InvalidInput(
                f"Line {number} ({shown!r}) is not an external id: put one id per line, "
                f"at most {XID_MAX_LENGTH} characters, with no spaces, commas or quotes.",
                field="xids",
            )
        xids[line] = None
    if not xids:
        raise InvalidInput("The list of external ids is empty.", field="xids")
    return list(xids)
