import pytest

from deliberation.errors import (
    ConversationClosed,
    DuplicateStatement,
    InvalidInput,
    PermissionDenied,
)
from deliberation.models import ModerationMode, Statement, StatementStatus
from deliberation.services.statements import statement_create
from tests.concurrency import meet_at, run_together
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory, UserFactory


@pytest.mark.django_db
class TestStatementCreate:
    def test_participant_statement_waits_for_approval_in_strict_moderation(self) -> None:
        participant = ParticipantFactory.create(conversation__moderation_mode=ModerationMode.STRICT)
        statement = statement_create(
            conversation=participant.conversation,
            text="  Fund the night buses  ",
            author_participant=participant,
        )
        assert (statement.text, statement.status) == ("Fund the night buses", "pending")
        assert statement.author_participant == participant

    def test_participant_statement_is_visible_at_once_in_open_moderation(self) -> None:
        participant = ParticipantFactory.create(conversation__moderation_mode=ModerationMode.OPEN)
        statement = statement_create(
            conversation=participant.conversation, text="Fund buses", author_participant=participant
        )
        assert statement.status == StatementStatus.ACCEPTED

    def test_moderator_statement_is_accepted_even_in_strict_moderation(self) -> None:
        conversation = ConversationFactory.create(moderation_mode=ModerationMode.STRICT)
        statement = statement_create(
            conversation=conversation, text="Fund buses", author_user=conversation.owner
        )
        assert statement.status == StatementStatus.ACCEPTED

    def test_an_importer_can_carry_its_own_moderation_decision(self) -> None:
        conversation = ConversationFactory.create()
        statement = statement_create(
            conversation=conversation, text="Old idea", status=StatementStatus.REJECTED
        )
        assert statement.status == StatementStatus.REJECTED

    def test_text_of_exactly_500_characters_is_accepted(self) -> None:
        conversation = ConversationFactory.create()
        statement = statement_create(conversation=conversation, text=" " + "x" * 500 + " ")
        assert len(statement.text) == 500

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "cannot be empty"),
            (" \t\n ", "cannot be empty"),
            ("x" * 501, r"at most 500 characters \(this one has 501\)"),
            (None, "must be text"),
            (42, "must be text"),
            (
                "\u200b\u200c\u200d\u2060\u200e\u200f\u202a\u202e\u2066\u2069\ufeff",
                "cannot be empty",
            ),
            (" \u200b\n\u200f ", "cannot be empty"),
            ("Bus\x00lanes", r"cannot contain control characters \(U\+0000 at character 4\)"),
            ("\x1cBus lanes", r"control characters \(U\+001C at character 1\)"),
            ("Bus\x85lanes", r"control characters \(U\+0085"),
            ("Bus \udc00", r"valid text: this one holds a lone surrogate \(U\+DC00\)"),
            ("e\u0301" * 501, r"at most 500 characters \(this one has 501\)"),
        ],
    )
    def test_bad_text_is_refused_and_writes_nothing(self, text: object, message: str) -> None:
        participant = ParticipantFactory.create()
        with pytest.raises(InvalidInput, match=message) as refusal:
            statement_create(
                conversation=participant.conversation, text=text, author_participant=participant
            )
        assert refusal.value.field == "text"
        assert not Statement.objects.exists()

    def test_text_is_stored_composed_and_its_length_counted_composed(self) -> None:
        conversation = ConversationFactory.create()
        statement = statement_create(conversation=conversation, text="Cafe\u0301 " * 100)
        assert statement.text == ("Café " * 100).strip()
        assert len(statement.text) == 499

    def test_format_characters_inside_visible_text_are_kept(self) -> None:
        conversation = ConversationFactory.create()
        # A right-to-left mark after Hebrew, zero-width joiners inside an emoji.
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
        text = f"\u05e9\u05dc\u05d5\u05dd\u200f and a family: {family}"
        assert statement_create(conversation=conversation, text=text).text == text

    def test_the_longest_text_that_grows_when_case_folded_fits_its_key(self) -> None:
        conversation = ConversationFactory.create()
        statement = statement_create(conversation=conversation, text="ΐ" * 500)
        statement.refresh_from_db()
        assert len(statement.text_key) == 1500

    def test_duplicate_ignoring_case_and_spacing_names_the_existing_statement(self) -> None:
        existing = StatementFactory.create(text="Fund the night buses")
        with pytest.raises(DuplicateStatement) as refusal:
            statement_create(conversation=existing.conversation, text="fund  the NIGHT buses ")
        assert refusal.value.existing_id == existing.pk
        assert refusal.value.status_code == 409
        assert Statement.objects.count() == 1

    def test_same_text_in_another_conversation_is_a_new_statement(self) -> None:
        StatementFactory.create(text="Fund the night buses")
        statement_create(conversation=ConversationFactory.create(), text="Fund the night buses")
        assert Statement.objects.count() == 2

    def test_closed_conversation_takes_no_statement(self) -> None:
        participant = ParticipantFactory.create(conversation__is_open=False)
        with pytest.raises(ConversationClosed):
            statement_create(
                conversation=participant.conversation, text="Late", author_participant=participant
            )
        with pytest.raises(ConversationClosed):
            statement_create(
                conversation=participant.conversation,
                text="Late",
                author_user=participant.conversation.owner,
            )
        assert not Statement.objects.exists()

    def test_participants_cannot_add_when_the_conversation_forbids_it(self) -> None:
        participant = ParticipantFactory.create(conversation__participants_can_add=False)
        with pytest.raises(PermissionDenied, match="cannot add statements"):
            statement_create(
                conversation=participant.conversation, text="Mine", author_participant=participant
            )
        assert not Statement.objects.exists()

    def test_moderators_still_add_when_participants_may_not(self) -> None:
        conversation = ConversationFactory.create(participants_can_add=False)
        statement_create(conversation=conversation, text="Seed", author_user=UserFactory.create())
        assert Statement.objects.count() == 1

    def test_participant_of_another_conversation_cannot_add(self) -> None:
        participant = ParticipantFactory.create()
        with pytest.raises(PermissionDenied):
            statement_create(
                conversation=ConversationFactory.create(),
                text="Elsewhere",
                author_participant=participant,
            )
        assert not Statement.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_identical_statements_leave_one_and_one_clean_conflict() -> None:
    conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
    first, second = (ParticipantFactory.create(conversation=conversation) for _ in range(2))

    # Both racers find no duplicate before either inserts: the unique constraint decides.
    with meet_at("deliberation.services.statements.statement_find_duplicate", parties=2):
        outcomes = run_together(
            lambda: statement_create(
                conversation=conversation, text="Fund buses", author_participant=first
            ),
            lambda: statement_create(
                conversation=conversation, text="fund  BUSES", author_participant=second
            ),
        )

    statement = Statement.objects.get()
    created = [outcome for outcome in outcomes if isinstance(outcome, Statement)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, DuplicateStatement)]
    assert [item.pk for item in created] == [statement.pk]
    assert [item.existing_id for item in refused] == [statement.pk]
