import hashlib
import hmac
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone
from pytest_django.fixtures import Settings

from deliberation.errors import (
    Conflict,
    ConversationClosed,
    InvalidInput,
    PermissionDenied,
    RateLimited,
)
from deliberation.models import (
    AccessMode,
    AllowedXid,
    AuditAction,
    AuditLogEntry,
    Conversation,
    Participant,
    ParticipantRequirement,
    RateLimitAction,
    RateLimitHit,
    StatementStatus,
    Vote,
)
from deliberation.services.access import (
    access_parse_xids,
    invite_token_make,
    invite_token_read,
    xid_secret,
    xid_signature,
)
from deliberation.services.conversation_setup import conversation_xid_secret_rotate
from deliberation.services.participants import (
    participant_get_or_create,
    participant_join_invited,
    participant_join_with_xid,
)
from deliberation.services.statements import statement_create
from deliberation.services.votes import vote_cast
from tests.factories import (
    ConversationFactory,
    ParticipantFactory,
    StatementFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


# --- when a conversation takes writes -------------------------------------------------


def test_vote_before_opening_time_is_refused_with_the_opening_time() -> None:
    opens = timezone.now() + timedelta(days=1)
    statement = StatementFactory.create(conversation__opens_at=opens)
    participant = ParticipantFactory.create(conversation=statement.conversation)
    with pytest.raises(ConversationClosed, match=f"opens on {opens:%Y-%m-%d}"):
        vote_cast(participant=participant, statement=statement, value=1)
    assert not Vote.objects.exists()


def test_vote_after_closing_time_is_refused_even_with_the_manual_switch_open() -> None:
    statement = StatementFactory.create(
        conversation__opens_at=timezone.now() - timedelta(days=2),
        conversation__closes_at=timezone.now() - timedelta(seconds=1),
    )
    participant = ParticipantFactory.create(conversation=statement.conversation)
    with pytest.raises(ConversationClosed, match="closed"):
        vote_cast(participant=participant, statement=statement, value=1)


def test_vote_inside_the_window_is_taken() -> None:
    statement = StatementFactory.create(
        conversation__opens_at=timezone.now() - timedelta(hours=1),
        conversation__closes_at=timezone.now() + timedelta(hours=1),
    )
    participant = ParticipantFactory.create(conversation=statement.conversation)
    assert vote_cast(participant=participant, statement=statement, value=1).value == 1


def test_moderator_can_seed_before_opening_but_participant_cannot_add() -> None:
    conversation = ConversationFactory.create(opens_at=timezone.now() + timedelta(hours=3))
    seed = statement_create(
        conversation=conversation, text="Seeded early.", author_user=conversation.owner
    )
    assert seed.status == StatementStatus.ACCEPTED
    participant = ParticipantFactory.create(conversation=conversation)
    with pytest.raises(ConversationClosed):
        statement_create(
            conversation=conversation, text="Too early.", author_participant=participant
        )


def test_nobody_adds_statements_after_closing() -> None:
    conversation = ConversationFactory.create(closes_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ConversationClosed):
        statement_create(conversation=conversation, text="Late.", author_user=conversation.owner)


# --- rate limits ----------------------------------------------------------------------


def test_votes_over_the_limit_are_refused_and_counted_in_one_row(
    settings: Settings,
) -> None:
    settings.AGORA_RATE_LIMITS = {RateLimitAction.VOTE: {"participant": 3}}
    conversation = ConversationFactory.create()
    statements = StatementFactory.create_batch(6, conversation=conversation)
    participant = ParticipantFactory.create(conversation=conversation)
    for statement in statements[:3]:
        vote_cast(participant=participant, statement=statement, value=1)
    for statement in statements[3:]:
        with pytest.raises(RateLimited, match="Too many votes"):
            vote_cast(participant=participant, statement=statement, value=1)
    assert Vote.objects.filter(participant=participant).count() == 3
    hit = RateLimitHit.objects.get()
    assert (hit.participant_id, hit.action, hit.hits) == (
        participant.pk,
        RateLimitAction.VOTE,
        3,
    )


def test_rate_limit_is_per_participant(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {RateLimitAction.STATEMENT: {"participant": 1}}
    conversation = ConversationFactory.create()
    first, second = ParticipantFactory.create_batch(2, conversation=conversation)
    statement_create(conversation=conversation, text="One.", author_participant=first)
    statement_create(conversation=conversation, text="Two.", author_participant=second)
    with pytest.raises(RateLimited, match="Too many statements"):
        statement_create(conversation=conversation, text="Three.", author_participant=first)
    assert RateLimitHit.objects.get().participant_id == first.pk


# --- access modes ---------------------------------------------------------------------


def test_anyone_mode_admits_an_anonymous_session() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.ANYONE)
    participant = participant_get_or_create(conversation=conversation, session_key="s" * 32)
    assert participant.conversation_id == conversation.pk


def test_logged_in_mode_refuses_anonymous_and_admits_a_user() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.LOGGED_IN)
    with pytest.raises(PermissionDenied, match="Log in"):
        participant_get_or_create(
            conversation=conversation, session_key="s" * 32, user=AnonymousUser()
        )
    user = UserFactory.create()
    assert participant_get_or_create(conversation=conversation, user=user).user == user


def test_invite_mode_refuses_without_the_link_and_admits_with_it() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    with pytest.raises(PermissionDenied, match="invite link"):
        participant_get_or_create(conversation=conversation, session_key="a" * 32)
    token = invite_token_make(conversation=conversation)
    participant = participant_join_invited(token=token, session_key="a" * 32)
    assert participant.conversation_id == conversation.pk
    # Later requests from that browser find the participant by its session.
    assert participant_get_or_create(conversation=conversation, session_key="a" * 32) == participant


def test_reset_invite_link_no_longer_admits() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    token = invite_token_make(conversation=conversation)
    conversation.invite_version += 1
    conversation.save()
    with pytest.raises(InvalidInput, match="replaced by a newer one"):
        invite_token_read(token=token)
    assert not Participant.objects.exists()


def test_tampered_invite_token_is_refused() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    token = invite_token_make(conversation=conversation)
    with pytest.raises(InvalidInput, match="not valid"):
        participant_join_invited(token=token[:-2] + "xx", session_key="b" * 32)
    assert not Participant.objects.exists()


def _join(conversation: Conversation, xid: str, session_key: str) -> Participant:
    """Join through the personal link the console makes for this id."""
    return participant_join_with_xid(
        conversation=conversation,
        xid=xid,
        signature=xid_signature(conversation=conversation, xid=xid),
        session_key=session_key,
    )


def test_xid_list_mode_admits_listed_ids_only_and_binds_the_session() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="member-7")
    with pytest.raises(PermissionDenied, match="listed members"):
        _join(conversation, "member-8", "c" * 32)
    participant = _join(conversation, "member-7", "c" * 32)
    assert (participant.xid, participant.session_key) == ("member-7", "c" * 32)
    assert participant_get_or_create(conversation=conversation, session_key="c" * 32) == participant
    with pytest.raises(PermissionDenied):
        participant_get_or_create(conversation=conversation, session_key="d" * 32)


def test_xid_link_opened_on_a_second_device_moves_the_participant_there_audited() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.create(conversation=conversation, xid="member-7")
    first = _join(conversation, "member-7", "1")
    assert not AuditLogEntry.objects.filter(action=AuditAction.PARTICIPANT_MOVED).exists()
    second = _join(conversation, "member-7", "2")
    assert first.pk == second.pk
    assert Participant.objects.get().session_key == "2"
    entry = AuditLogEntry.objects.get(action=AuditAction.PARTICIPANT_MOVED)
    assert (entry.target_id, entry.actor_username) == (first.pk, "participant")
    assert entry.after == {"xid": "member-7", "device": "new browser", "proof": "signed link"}


def test_xid_link_in_a_browser_already_taking_part_as_someone_else_is_a_conflict() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    AllowedXid.objects.bulk_create(
        [AllowedXid(conversation=conversation, xid=xid) for xid in ("m-1", "m-2")]
    )
    _join(conversation, "m-1", "same")
    with pytest.raises(Conflict, match="as someone else"):
        _join(conversation, "m-2", "same")


def test_signed_mode_admits_any_id_its_site_signed_and_nothing_unsigned() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.SIGNED)
    with pytest.raises(PermissionDenied, match="not signed"):
        participant_join_with_xid(
            conversation=conversation, xid="u-1", signature="", session_key="a"
        )
    with pytest.raises(PermissionDenied, match="does not match"):
        participant_join_with_xid(
            conversation=conversation,
            xid="u-2",
            signature=xid_signature(conversation=conversation, xid="u-1"),
            session_key="a",
        )
    assert _join(conversation, "u-1", "a").xid == "u-1"
    with pytest.raises(PermissionDenied, match="members of the site"):
        participant_get_or_create(conversation=conversation, session_key="b")


@pytest.mark.parametrize("mode", [AccessMode.ANYONE, AccessMode.INVITE, AccessMode.LOGGED_IN])
def test_conversations_without_external_id_access_take_no_xid(mode: AccessMode) -> None:
    conversation = ConversationFactory.create(access_mode=mode)
    with pytest.raises(InvalidInput, match="does not take external ids"):
        _join(conversation, "5", "a")
    assert not Participant.objects.exists()


def test_imported_participant_is_never_claimed_even_by_a_genuine_signature() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.SIGNED)
    imported = ParticipantFactory.create(
        conversation=conversation, session_key="", xid="5", imported=True
    )
    with pytest.raises(PermissionDenied, match="imported from Polis"):
        _join(conversation, "5", "a")
    imported.refresh_from_db()
    assert imported.session_key == ""


def test_rotating_the_secret_voids_links_signed_with_the_old_one() -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.SIGNED)
    old = xid_signature(conversation=conversation, xid="u-1")
    secret = conversation_xid_secret_rotate(actor=conversation.owner, conversation=conversation)
    assert secret == xid_secret(conversation=conversation)
    with pytest.raises(PermissionDenied, match="does not match"):
        participant_join_with_xid(
            conversation=conversation, xid="u-1", signature=old, session_key="a"
        )
    # What the organisation's server computes with the new secret, as the console shows it.
    sig = hmac.new(secret.encode(), f"{conversation.slug}:u-1".encode(), hashlib.sha256)
    participant_join_with_xid(
        conversation=conversation, xid="u-1", signature=sig.hexdigest(), session_key="a"
    )
    assert AuditLogEntry.objects.filter(action=AuditAction.XID_SECRET_ROTATED).count() == 1


def test_invite_token_of_another_conversation_does_not_open_this_one() -> None:
    mine = ConversationFactory.create(access_mode=AccessMode.INVITE)
    other = ConversationFactory.create(access_mode=AccessMode.INVITE)
    _, version, mac = invite_token_make(conversation=other).split(".")
    with pytest.raises(InvalidInput, match="not valid"):
        invite_token_read(token=f"{mine.pk}.{version}.{mac}")
    assert invite_token_read(token=invite_token_make(conversation=mine)) == mine


def test_invite_tokens_do_not_depend_on_secret_key_alone(settings: Settings) -> None:
    conversation = ConversationFactory.create(access_mode=AccessMode.INVITE)
    token = invite_token_make(conversation=conversation)
    settings.AGORA_LINK_SECRET = "another link secret"
    with pytest.raises(InvalidInput, match="not valid"):
        invite_token_read(token=token)
    settings.AGORA_LINK_SECRET = settings.SECRET_KEY
    conversation.link_salt = "0" * 64
    conversation.save()
    with pytest.raises(InvalidInput, match="not valid"):
        invite_token_read(token=token)


# --- what each participant must prove -------------------------------------------------


def test_email_requirement_refuses_writes_until_the_participant_verified() -> None:
    statement = StatementFactory.create(
        conversation__participant_requirement=ParticipantRequirement.EMAIL
    )
    participant = ParticipantFactory.create(conversation=statement.conversation)
    with pytest.raises(PermissionDenied, match="verify an email address"):
        vote_cast(participant=participant, statement=statement, value=1)
    participant.email_hash = "f" * 64
    participant.save()
    vote_cast(participant=participant, statement=statement, value=1)
    assert Vote.objects.count() == 1


def test_account_requirement_refuses_anonymous_joins_and_writes() -> None:
    statement = StatementFactory.create(
        conversation__participant_requirement=ParticipantRequirement.ACCOUNT
    )
    conversation = statement.conversation
    with pytest.raises(PermissionDenied, match="Log in"):
        participant_get_or_create(conversation=conversation, session_key="a" * 32)
    earlier = ParticipantFactory.create(conversation=conversation)
    with pytest.raises(PermissionDenied, match="user accounts only"):
        vote_cast(participant=earlier, statement=statement, value=1)
    user = UserFactory.create()
    joined = participant_get_or_create(conversation=conversation, user=user)
    vote_cast(participant=joined, statement=statement, value=1)


def test_moderator_takes_part_whatever_the_access_mode() -> None:
    moderator = UserFactory.create()
    conversation = ConversationFactory.create(access_mode=AccessMode.XID_LIST)
    conversation.moderators.add(moderator)
    assert participant_get_or_create(conversation=conversation, user=moderator).user == moderator


# --- external id lists ----------------------------------------------------------------


def test_xid_list_is_parsed_one_per_line_without_blanks_or_repeats() -> None:
    assert access_parse_xids(" a-1 \n\nb@example.org\na-1\r\n") == ["a-1", "b@example.org"]


@pytest.mark.parametrize(
    ("text", "line"),
    [("ok\nnot ok\n", 2), ("a,b", 1), ("x\ny\n" + "z" * 201, 3), ('"quoted"', 1)],
)
def test_malformed_xid_list_names_the_bad_line(text: str, line: int) -> None:
    with pytest.raises(InvalidInput, match=f"Line {line} "):
        access_parse_xids(text)


def test_empty_xid_list_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        access_parse_xids("\n  \n")
