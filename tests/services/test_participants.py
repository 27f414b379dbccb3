import pytest

from deliberation.errors import InvalidInput
from deliberation.models import Participant
from deliberation.services.participants import participant_get_or_create
from tests.concurrency import meet_at, run_together
from tests.factories import ConversationFactory, UserFactory


@pytest.mark.django_db
class TestParticipantGetOrCreate:
    def test_one_session_is_one_participant_per_conversation(self) -> None:
        conversation = ConversationFactory.create()
        first = participant_get_or_create(conversation=conversation, session_key="s1")
        again = participant_get_or_create(conversation=conversation, session_key="s1")
        elsewhere = participant_get_or_create(
            conversation=ConversationFactory.create(), session_key="s1"
        )
        assert first.pk == again.pk != elsewhere.pk
        assert first.session_key == "s1"

    def test_a_logged_in_user_is_found_by_account_whatever_the_session(self) -> None:
        conversation = ConversationFactory.create()
        user = UserFactory.create()
        first = participant_get_or_create(conversation=conversation, user=user, session_key="a")
        again = participant_get_or_create(conversation=conversation, user=user, session_key="b")
        assert first.pk == again.pk
        assert first.user == user

    def test_an_external_id_finds_its_participant(self) -> None:
        conversation = ConversationFactory.create()
        first = participant_get_or_create(conversation=conversation, xid="member-7")
        again = participant_get_or_create(conversation=conversation, xid="member-7")
        assert first.pk == again.pk
        assert first.xid == "member-7"

    def test_without_session_account_or_external_id_nobody_is_created(self) -> None:
        with pytest.raises(InvalidInput):
            participant_get_or_create(conversation=ConversationFactory.create())
        assert not Participant.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_requests_from_one_session_leave_one_participant() -> None:
    conversation = ConversationFactory.create()

    # Both racers find no participant before either inserts: the constraint decides.
    with meet_at("deliberation.services.participants.access_check_join", parties=2):
        first, second = run_together(
            lambda: participant_get_or_create(conversation=conversation, session_key="s1"),
            lambda: participant_get_or_create(conversation=conversation, session_key="s1"),
        )

    participant = Participant.objects.get()
    assert first.pk == second.pk == participant.pk
