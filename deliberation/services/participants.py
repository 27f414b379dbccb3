"""Who is taking part: finding or creating the participant behind a request, and binding
it to a browser through a signed link or a verified email address."""

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation.errors import Conflict, InvalidInput, PermissionDenied
from deliberation.models import (
    AuditAction,
    Conversation,
    EmailLink,
    Participant,
    ParticipantRequirement,
    RateLimitAction,
)
from deliberation.services.access import (
    access_check_join,
    email_hash,
    invite_token_read,
    xid_link_check,
)
from deliberation.services.moderation import audit_record
from deliberation.services.ratelimits import ratelimit_check, ratelimit_refuse

EMAIL_LINK_MAX_AGE = timedelta(hours=24)
EMAIL_MAX_LENGTH = 254
EMAIL_LINKS_PER_RECIPIENT = 3
EMAIL_LINKS_PER_RECIPIENT_WINDOW = timedelta(hours=1)


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
    signature: str,
    session_key: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Participant:
    """Admit someone arriving from their organisation's signed link to their external id.

    The participant is found or created by the external id and then bound to this browser
    session, so the pages they open next know them without the id in the address. Opening
    the valid link on a second device moves the participant there, and the audit log says
    so. A participant imported from Polis is nobody's to claim.
    """
    xid = xid.strip()
    if not xid:
        raise InvalidInput("The link carries no external id.", field="xid")
    xid_link_check(conversation=conversation, xid=xid, signature=signature)
    if Participant.objects.filter(conversation=conversation, xid=xid, imported=True).exists():
        raise PermissionDenied(
            "This external id belongs to a participant imported from Polis: "
            "nobody can take part under it.",
            field="xid",
        )
    participant = participant_get_or_create(conversation=conversation, xid=xid, user=user)
    anonymous = user is None or not user.is_authenticated
    if anonymous and session_key:
        _participant_move(participant=participant, session_key=session_key, proof="signed link")
    return participant


def _participant_move(*, participant: Participant, session_key: str, proof: str) -> None:
    """Bind the participant to this browser session; audited when it leaves another one."""
    previous = participant.session_key
    if previous == session_key:
        return
    try:
        with transaction.atomic():
            Participant.objects.filter(pk=participant.pk).update(session_key=session_key)
            if previous:
                audit_record(
                    actor=None,
                    conversation=participant.conversation,
                    action=AuditAction.PARTICIPANT_MOVED,
                    target_type="participant",
                    target_id=participant.pk,
                    before={"xid": participant.xid, "device": "previous browser"},
                    after={"xid": participant.xid, "device": "new browser", "proof": proof},
                )
    except IntegrityError:
        # participant_unique_session: this browser already takes part under another id.
        raise Conflict(
            "This browser already takes part in this conversation as someone else."
        ) from None
    participant.session_key = session_key


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_link_send(
    *, conversation: Conversation, email: str, url_for: Callable[[str], str]
) -> None:
    """Mail a one-time link that proves the address, for a conversation that requires one.

    ``url_for`` turns the token into the absolute address of the verification page.
    """
    if conversation.participant_requirement != ParticipantRequirement.EMAIL:
        raise InvalidInput("This conversation does not ask for an email address.")
    email = email.strip()
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            "That is not an email address: check it and try again.", field="email"
        ) from None
    ratelimit_check(action=RateLimitAction.EMAIL, conversation=conversation)
    recipient = email_hash(conversation=conversation, email=email)
    # Per recipient, whoever asks: one person's inbox is not flooded from many addresses.
    # (Two requests at once may both pass: the cap is against flooding, not exact.)
    recent = EmailLink.objects.filter(
        conversation=conversation,
        email_hash=recipient,
        created_at__gte=timezone.now() - EMAIL_LINKS_PER_RECIPIENT_WINDOW,
    )
    if recent.count() >= EMAIL_LINKS_PER_RECIPIENT:
        ratelimit_refuse(
            f"{EMAIL_LINKS_PER_RECIPIENT} links have already been sent to this address in "
            "the last hour: use one of them, or try again later.",
            retry_after=int(EMAIL_LINKS_PER_RECIPIENT_WINDOW.total_seconds()),
        )
    token = secrets.token_urlsafe(32)
    EmailLink.objects.create(
        conversation=conversation, email_hash=recipient, token_hash=_token_hash(token)
    )
    hours = int(EMAIL_LINK_MAX_AGE.total_seconds() // 3600)
    send_mail(
        subject=f"Take part in: {conversation.topic}"[:150],
        message=(
            f"Open this link to confirm your address and take part in "
            f"\u201c{conversation.topic}\u201d:\n\n{url_for(token)}\n\n"
            f"It works once, for {hours} hours. If you did not ask for it, ignore this email."
        ),
        from_email=None,
        recipient_list=[email],
    )


def email_link_conversation(*, token: str) -> Conversation:
    """The conversation a verification link leads to, or a clear error (nothing is used)."""
    return _email_link_get(token=token).conversation


def _email_link_get(*, token: str) -> EmailLink:
    link = (
        EmailLink.objects.select_related("conversation")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if link is None or link.created_at < timezone.now() - EMAIL_LINK_MAX_AGE:
        raise InvalidInput("This email link is not valid or has expired: ask for a new one.")
    if link.used_at is not None:
        raise InvalidInput("This email link has already been used: ask for a new one.")
    return link


def participant_verify_email(
    *,
    token: str,
    session_key: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Participant:
    """Use a one-time email link: the participant holding that address now, in this browser.

    The address's participant moves to this browser (audited) if it took part elsewhere;
    else this browser's participant takes the address; else a participant is created, if
    the access mode admits one.
    """
    link = _email_link_get(token=token)
    conversation = link.conversation
    logged_in = user is not None and user.is_authenticated
    lookup: dict[str, object] = {"user": user} if logged_in else {"session_key": session_key}
    if not logged_in and not session_key:
        raise InvalidInput("Your browser refused the cookie that keeps you signed in.")
    with transaction.atomic():
        # Race: the same link opened twice at once (a mail scanner and its reader); the
        # conditional UPDATE lets exactly one of them use it.
        if not EmailLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        ):
            raise InvalidInput("This email link has already been used: ask for a new one.")
        holder = Participant.objects.filter(
            conversation=conversation, email_hash=link.email_hash
        ).first()
        current = Participant.objects.filter(conversation=conversation, **lookup).first()
        if holder is not None and current is not None and holder.pk != current.pk:
            raise Conflict("This browser already takes part in this conversation as someone else.")
        if holder is not None:
            if logged_in:
                raise Conflict("This address already takes part from another account.")
            _participant_move(participant=holder, session_key=session_key, proof="email link")
            return holder
        if current is not None:
            if current.email_hash is not None:
                raise Conflict("You already take part here under another email address.")
            current.email_hash = link.email_hash
            current.save(update_fields=["email_hash"])
            return current
        access_check_join(conversation=conversation, user=user, xid=None, invited=False)
        try:
            with transaction.atomic():
                return Participant.objects.create(
                    conversation=conversation, email_hash=link.email_hash, **lookup
                )
        except IntegrityError:
            # Race: this address or this browser joined in another request meanwhile.
            raise Conflict("You joined from another window meanwhile: reload the page.") from None
