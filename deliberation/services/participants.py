"""Who is taking part: finding or creating the participant behind a request."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction

from deliberation.errors import Conflict, InvalidInput
from deliberation.models import Conversation, Participant, RateLimitAction
from deliberation.services.access import access_check_join, invite_token_read
from deliberation.services.ratelimits import ratelimit_check


def participant_get_or_create(
    *,
    conversation: Conversation,
    session_key: str = "",
    user: AbstractBaseUser | AnonymousUser | None = None,
    xid: str | None = None,
    invited: bool = False,
) -> Participant:
    """The participant for this user, external id or session, created on first sight.

    A logged-in user is identified by their account, then an external id, then the
    session. A new participant must pass the conversation's access mode (``invited``: the
    request came through a valid invite link). Safe under concurrency: the unique
    constraints decide the race and the loser reads the winner's row.
    """
    lookup: dict[str, object]
    if user is not None and user.is_authenticated:
        lookup = {"user": user}
    elif xid:
        lookup = {"xid": xid}
    elif session_key:
        lookup = {"session_key": session_key}
    else:
        raise InvalidInput("A participant needs a session, an account or an external id.")
    found = Participant.objects.filter(conversation=conversation, **lookup).first()
    if found is not None:
        return found
    access_check_join(conversation=conversation, user=user, xid=xid, invited=invited)
    ratelimit_check(action=RateLimitAction.JOIN, conversation=conversation)
    try:
        with transaction.atomic():
            return Participant.objects.create(conversation=conversation, **lookup)
    except IntegrityError:
        # Race: a concurrent request created the same participant first.
        return Participant.objects.get(conversation=conversation, **lookup)


def participant_join_invited(
    *,
    token: str,
    session_key: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Participant:
    """Admit the holder of an invite link to its conversation."""
    conversation = invite_token_read(token=token)
    return participant_get_or_create(
        conversation=conversation, session_key=session_key, user=user, invited=True
    )


def participant_join_with_xid(
    *,
    conversation: Conversation,
    xid: str,
    session_key: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Participant:
    """Admit someone arriving from their organisation's link, which carries their external id.

    The participant is found or created by the external id and then bound to this browser
    session, so the pages they open next know them without the id in the address. Opening
    the link on a second device moves the participant there.
    """
    xid = xid.strip()
    if not xid:
        raise InvalidInput("The link carries no external id.", field="xid")
    participant = participant_get_or_create(conversation=conversation, xid=xid, user=user)
    anonymous = user is None or not user.is_authenticated
    if anonymous and session_key and participant.session_key != session_key:
        try:
            with transaction.atomic():
                Participant.objects.filter(pk=participant.pk).update(session_key=session_key)
        except IntegrityError:
            # participant_unique_session: this browser already takes part under another id.
            raise Conflict(
                "This browser already takes part in this conversation as someone else."
            ) from None
        participant.session_key = session_key
    return participant
