"""Who is taking part: finding or creating the participant behind a request."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction

from deliberation.errors import InvalidInput
from deliberation.models import Conversation, Participant


def participant_get_or_create(
    *,
    conversation: Conversation,
    session_key: str = "",
    user: AbstractBaseUser | AnonymousUser | None = None,
    xid: str | None = None,
) -> Participant:
    """The participant for this user, external id or session, created on first sight.

    A logged-in user is identified by their account, then an external id, then the
    session. Safe under concurrency: the unique constraints decide the race and the loser
    reads the winner's row.
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
    try:
        with transaction.atomic():
            return Participant.objects.create(conversation=conversation, **lookup)
    except IntegrityError:
        # Race: a concurrent request created the same participant first.
        return Participant.objects.get(conversation=conversation, **lookup)
