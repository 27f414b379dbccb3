import sys
import unicodedata

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation.models import Participant, Statement, normalize_statement_text
from deliberation.models.conversations import STATEMENT_KEY_GROWTH
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Ban cars downtown", "ban cars downtown"),
        ("  Ban   CARS\tdowntown \n", "ban cars downtown"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("", ""),
        ("Cafe\u0301", "café"),
        ("ﬃ", "ffi"),
    ],
)
def test_normalize_statement_text_ignores_case_and_spacing(text: str, key: str) -> None:
    assert normalize_statement_text(text) == key


@pytest.mark.django_db(False)
def test_no_character_folds_to_more_than_the_key_column_allows() -> None:
    # Statement texts are composed (NFC) before their length is checked, and case folding
    # maps each character on its own: so the longest key of an n-character text is n times
    # the longest fold of one composed character.
    longest = max(
        len(character.casefold())
        for character in map(chr, range(sys.maxunicode + 1))
        if not "\ud800" <= character <= "\udfff"
        and unicodedata.normalize("NFC", character) == character
    )
    assert longest == STATEMENT_KEY_GROWTH


def test_normalize_statement_text_keeps_words_and_punctuation_apart() -> None:
    assert normalize_statement_text("Ban cars.") != normalize_statement_text("Ban cars")
    assert normalize_statement_text("bancars") != normalize_statement_text("ban cars")


def test_saving_a_statement_stores_its_text_key() -> None:
    statement = StatementFactory.create(text="  More   Bike lanes ")
    assert Statement.objects.get(pk=statement.pk).text_key == "more bike lanes"


def test_same_text_differing_in_case_and_spacing_is_refused_in_one_conversation() -> None:
    first = StatementFactory.create(text="More bike lanes")
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementFactory.create(conversation=first.conversation, text="  more  BIKE lanes")
    assert Statement.objects.count() == 1


def test_same_text_is_allowed_in_two_conversations() -> None:
    StatementFactory.create(text="More bike lanes")
    StatementFactory.create(text="More bike lanes")
    assert Statement.objects.filter(text="More bike lanes").count() == 2


def test_empty_statement_text_is_refused_by_the_database() -> None:
    conversation = ConversationFactory.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        Statement.objects.create(conversation=conversation, text="", created_at=timezone.now())


def test_external_id_is_unique_per_conversation_only() -> None:
    first = StatementFactory.create(external_id="7")
    StatementFactory.create(external_id="7")
    StatementFactory.create(conversation=first.conversation, external_id=None)
    StatementFactory.create(conversation=first.conversation, external_id=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementFactory.create(conversation=first.conversation, external_id="7")


def test_xid_is_unique_per_conversation() -> None:
    participant = ParticipantFactory.create(xid="voter-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ParticipantFactory.create(conversation=participant.conversation, xid="voter-1")
    assert Participant.objects.filter(xid="voter-1").count() == 1


def test_same_xid_is_allowed_in_two_conversations_and_many_have_none() -> None:
    participant = ParticipantFactory.create(xid="voter-1")
    ParticipantFactory.create(xid="voter-1")
    ParticipantFactory.create(conversation=participant.conversation, xid=None)
    ParticipantFactory.create(conversation=participant.conversation, xid=None)
    assert Participant.objects.filter(conversation=participant.conversation).count() == 3


def test_session_is_unique_per_conversation_but_empty_sessions_are_not() -> None:
    participant = ParticipantFactory.create(session_key="abc")
    ParticipantFactory.create(conversation=participant.conversation, session_key="", xid="1")
    ParticipantFactory.create(conversation=participant.conversation, session_key="", xid="2")
    with pytest.raises(IntegrityError), transaction.atomic():
        ParticipantFactory.create(conversation=participant.conversation, session_key="abc")
