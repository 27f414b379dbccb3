"""The participant behind an HTTP request, shared by the API and the web UI."""

from typing import Literal, overload

from django.http import HttpRequest

from deliberation.models import Conversation, Participant
from deliberation.services.participants import participant_get_or_create


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
    if user is None and request.session.session_key is None:
        request.session.save()
    return participant_get_or_create(
        conversation=conversation,
        user=user,
        session_key=request.session.session_key or "",
    )
