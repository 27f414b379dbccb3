"""Who may take part in a conversation, and when: access modes, signed links, rate limits
(counted in :mod:`deliberation.services.ratelimits`).

Every participant write (a vote, a statement) passes :func:`access_check_write`, and every
new participant passes :func:`access_check_join`, so the rules live here and nowhere else.

Links that admit someone (invite links, external-id links) are HMAC-SHA256 signatures under
a per-conversation key derived from ``settings.AGORA_LINK_SECRET`` and a random salt kept in
the conversation's row. The key is derived, not stored: verifying an HMAC needs the key
itself (a hash of it would not do), and deriving it means a copy of the database alone,
or of the settings alone (the development SECRET_KEY is public), signs nothing.
"""

import hashlib
import hmac
import re
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from deliberation.errors import ConversationClosed, InvalidInput, PermissionDenied
from deliberation.models import (
    AccessMode,
    AllowedXid,
    Conversation,
    Participant,
    ParticipantRequirement,
    RateLimitAction,
)
from deliberation.models.moderation import XID_MAX_LENGTH
from deliberation.selectors.conversations import (
    WriteState,
    conversation_can_moderate,
    conversation_write_state,
)
from deliberation.services.ratelimits import ratelimit_check

# <conversation id>.<invite version>.<hex HMAC>; the digits are bounded so no id overflows.
_INVITE_TOKEN = re.compile(r"(\d{1,18})\.(\d{1,9})\.([0-9a-f]{64})")
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
    _requirement_check(conversation=conversation, participant=participant)
    ratelimit_check(action=action, conversation=conversation, participant=participant)


def _requirement_check(*, conversation: Conversation, participant: Participant) -> None:
    """Refuse the participant a write until they meet the conversation's requirement.

    Checked at every write, not only on joining: participants who joined before a
    moderator turned the requirement on must meet it too. Moderators always may write.
    """
    requirement = conversation.participant_requirement
    if requirement == ParticipantRequirement.EMAIL and participant.email_hash is None:
        message = (
            "This conversation asks each participant to verify an email address first: "
            "ask for a link below and open it."
        )
    elif requirement == ParticipantRequirement.ACCOUNT and participant.user_id is None:
        message = "This conversation takes part from user accounts only: log in first."
    else:
        return
    if conversation_can_moderate(conversation=conversation, user=participant.user):
        return
    raise PermissionDenied(message)


def access_check_join(
    *,
    conversation: Conversation,
    user: AbstractBaseUser | AnonymousUser | None,
    xid: str | None,
    invited: bool,
) -> None:
    """Refuse a new participant the conversation's access mode keeps out.

    ``xid`` must already have passed :func:`xid_link_check`. Its moderators always get in,
    so they can try the conversation as participants see it.
    """
    mode = conversation.access_mode
    if conversation_can_moderate(conversation=conversation, user=user):
        return
    account_needed = mode == AccessMode.LOGGED_IN or (
        conversation.participant_requirement == ParticipantRequirement.ACCOUNT
    )
    if account_needed and (user is None or not user.is_authenticated):
        raise PermissionDenied("Log in to take part in this conversation.")
    if mode == AccessMode.INVITE:
        if not invited:
            raise PermissionDenied(
                "This conversation is by invitation: open the invite link you were sent."
            )
    elif mode == AccessMode.SIGNED and not xid:
        raise PermissionDenied(
            "This conversation is open to the members of the site that runs it: "
            "open it from the link on that site."
        )
    elif mode == AccessMode.XID_LIST and (
        not xid or not AllowedXid.objects.filter(conversation=conversation, xid=xid).exists()
    ):
        raise PermissionDenied(
            "This conversation is open to listed members only: "
            "open it from the link your organisation gave you."
        )


def _link_key(*, conversation: Conversation, purpose: str, salt: str) -> bytes:
    message = f"agora-link:{purpose}:{conversation.pk}:{salt}".encode()
    return hmac.new(settings.AGORA_LINK_SECRET.encode(), message, hashlib.sha256).digest()


def _hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def invite_token_make(*, conversation: Conversation) -> str:
    """The token of the conversation's current invite link."""
    return _invite_token(conversation=conversation, version=conversation.invite_version)


def _invite_token(*, conversation: Conversation, version: int) -> str:
    key = _link_key(conversation=conversation, purpose="invite", salt=conversation.link_salt)
    return f"{conversation.pk}.{version}.{_hmac_hex(key, f'{conversation.pk}.{version}')}"


def invite_token_read(*, token: str) -> Conversation:
    """The conversation an invite token admits to, or a clear error.

    The signature is checked before the version, so only a genuine old link hears that it
    was replaced; a token moved to another conversation or version fails its signature.
    """
    invalid = InvalidInput("This invite link is not valid: check that you copied all of it.")
    parsed = _INVITE_TOKEN.fullmatch(token)
    if parsed is None:
        raise invalid
    conversation = Conversation.objects.filter(pk=int(parsed[1])).first()
    version = int(parsed[2])
    if conversation is None or not hmac.compare_digest(
        token, _invite_token(conversation=conversation, version=version)
    ):
        raise invalid
    if conversation.invite_version != version:
        raise InvalidInput(
            "This invite link has been replaced by a newer one: "
            "ask the conversation's moderators for the current link."
        )
    return conversation


def xid_secret(*, conversation: Conversation) -> str:
    """The secret an organisation signs its members' external ids with, in hex.

    The console shows it once, when it is made; rotating it (a new ``xid_salt``) voids
    every link signed so far, personal links included.
    """
    return _link_key(conversation=conversation, purpose="xid", salt=conversation.xid_salt).hex()


def xid_signature(*, conversation: Conversation, xid: str) -> str:
    """``sig`` of an external-id link: HMAC-SHA256(secret, "<slug>:<xid>") in hex."""
    secret = xid_secret(conversation=conversation).encode()
    return _hmac_hex(secret, f"{conversation.slug}:{xid}")


def xid_link_check(*, conversation: Conversation, xid: str, signature: str) -> None:
    """Refuse an external id the conversation does not take, or one its site did not sign.

    Only signed and id-list conversations take external ids: anywhere else an id in the
    address would let a guess stand for a person.
    """
    if conversation.access_mode not in (AccessMode.SIGNED, AccessMode.XID_LIST):
        raise InvalidInput(
            "This conversation does not take external ids: open it at its own address.",
            field="xid",
        )
    if not signature:
        raise PermissionDenied(
            "This link carries an external id but is not signed: open the personal link "
            "your organisation gave you, not a hand-written address.",
            field="sig",
        )
    expected = xid_signature(conversation=conversation, xid=xid)
    if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        raise PermissionDenied(
            "This link's signature does not match its external id: it was changed, or it "
            "was signed with a secret that has since been replaced. Ask your organisation "
            "for a new link.",
            field="sig",
        )


def email_hash(*, conversation: Conversation, email: str) -> str:
    """The keyed hash a participant carries for a verified address: one participant per
    address without keeping the address, and no way to match one person across
    conversations. Lower-cased, so case does not make a second participant."""
    key = _link_key(conversation=conversation, purpose="email", salt=conversation.link_salt)
    return _hmac_hex(key, email.strip().lower())


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
