"""The participant behind an HTTP request, shared by the API and the web UI."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, overload

from django.db import transaction
from django.http import HttpRequest

from deliberation.errors import PermissionDenied
from deliberation.models import AccessMode, Conversation, Participant
from deliberation.selectors.conversations import conversation_can_read, conversation_members_only
from deliberation.services.participants import participant_get_or_create

MEMBERS_ONLY = {
    AccessMode.INVITE: "open the invite link you were sent",
    AccessMode.SIGNED: "open it from the link on the site that runs it",
    AccessMode.XID_LIST: "open the personal link your organisation gave you",
}


@overload
def request_participant(
    request: HttpRequest, conversation: Conversation, *, create: Literal[True]
) -> Participant: ...


@overload
def request_participant(
    request: HttpRequest, conversation: Conversation, *, create: bool
) -> Participant | None: ...


def request_participant(
    request: HttpRequest, conversation: Conversation, *, create: bool
) -> Participant | None:
    """The request's participant in this conversation.

    Anonymous people are identified by their session, which is started here on their first
    write so they keep the same identity across requests. With ``create=False`` (reads) no
    participant or session is created for a mere visitor. DRF's Request is an HttpRequest
    too, and carries the user a token authenticated.
    """
    user = request.user if request.user.is_authenticated else None
    if not create:
        lookup: dict[str, object] = (
            {"user": user} if user is not None else {"session_key": request.session.session_key}
        )
        if lookup.get("session_key") is None and user is None:
            return None
        return Participant.objects.filter(conversation=conversation, **lookup).first()
    _session_start(request)
    return participant_get_or_create(
        conversation=conversation,
        user=user,
        session_key=request.session.session_key or "",
    )


def request_read_require(request: HttpRequest, conversation: Conversation) -> Conversation:
    """The conversation, if this request may read it (conversation_can_read); else a 403.

    Every view that shows statements, groups or a report calls this once.
    """
    participant = (
        request_participant(request, conversation, create=False)
        if conversation_members_only(conversation=conversation)
        else None
    )
    if not conversation_can_read(
        conversation=conversation, user=request.user, participant=participant
    ):
        how = MEMBERS_ONLY[AccessMode(conversation.access_mode)]
        raise PermissionDenied(f"This conversation is for its members only: {how}.")
    return conversation


@contextmanager
def request_participant_writing(
    request: HttpRequest, conversation: Conversation
) -> Iterator[Participant]:
    """The request's participant, for a write made inside the ``with`` block.

    A newcomer becomes a participant only if their first write goes through: the
    participant is created in the block's transaction, so a refusal raised in the block
    rolls it back and bad input writes nothing. Someone already taking part writes outside
    any shared transaction, so the rate-limit hit a refusal records survives it.
    """
    participant = request_participant(request, conversation, create=False)
    if participant is not None:
        yield participant
        return
    # Started outside the transaction: the session middleware saves the session again
    # after the view, so its row must outlive a refusal.
    _session_start(request)
    with transaction.atomic():
        yield request_participant(request, conversation, create=True)


@contextmanager
def request_participant_acting(
    request: HttpRequest, conversation: Conversation, *, writes: bool
) -> Iterator[Participant | None]:
    """For views where only some actions write (the assistant: reading never makes a
    participant, adding a statement does): a read yields the participant or None, a write
    behaves as :func:`request_participant_writing`."""
    if not writes:
        yield request_participant(request, conversation, create=False)
        return
    with request_participant_writing(request, conversation) as participant:
        yield participant


def _session_start(request: HttpRequest) -> None:
    if not request.user.is_authenticated and request.session.session_key is None:
        request.session.save()
