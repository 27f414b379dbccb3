"""The REST API under /api/v1/, through a client that enforces CSRF like a browser."""

from typing import Any

import pytest
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from deliberation.models import (
    Conversation,
    ModerationMode,
    Participant,
    RateLimitAction,
    RateLimitHit,
    Statement,
    StatementStatus,
    Visibility,
    Vote,
    VoteEvent,
)
from deliberation.services.votes import vote_cast
from tests.api.conftest import with_csrf
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name: str, conversation: Conversation) -> str:
    return reverse(f"v1:{name}", args=[conversation.slug])


def counts() -> tuple[int, int, int, int]:
    return (
        Participant.objects.count(),
        Statement.objects.count(),
        Vote.objects.count(),
        VoteEvent.objects.count(),
    )


def assert_error(response: Any, status: int, code: str, field: str | None) -> str:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    return str(error["message"])


def session_participant(client: APIClient, conversation: Conversation) -> Participant:
    return Participant.objects.get(
        conversation=conversation, session_key=client.cookies["sessionid"].value
    )


class TestConversations:
    def test_list_shows_only_public_conversations_paginated(self, api_client: APIClient) -> None:
        public = ConversationFactory.create(visibility=Visibility.PUBLIC)
        ConversationFactory.create(visibility=Visibility.UNLISTED)
        ConversationFactory.create(visibility=Visibility.PRIVATE)
        body = api_client.get(reverse("v1:conversation-list")).json()
        assert body["count"] == 1
        assert [item["slug"] for item in body["results"]] == [public.slug]
        assert body["results"][0]["topic"] == public.topic

    def test_list_pages_with_limit_and_offset(self, api_client: APIClient) -> None:
        ConversationFactory.create_batch(3)
        body = api_client.get(reverse("v1:conversation-list"), {"limit": 2, "offset": 2}).json()
        assert (body["count"], len(body["results"]), body["next"]) == (3, 1, None)

    @pytest.mark.parametrize("visibility", [Visibility.PUBLIC, Visibility.UNLISTED])
    def test_public_and_unlisted_conversations_open_by_link(
        self, api_client: APIClient, visibility: Visibility
    ) -> None:
        conversation = ConversationFactory.create(visibility=visibility)
        body = api_client.get(url("conversation-detail", conversation)).json()
        assert (body["slug"], body["visibility"]) == (conversation.slug, visibility)

    def test_private_conversation_looks_missing_to_others(self, api_client: APIClient) -> None:
        conversation = ConversationFactory.create(visibility=Visibility.PRIVATE)
        assert_error(
            api_client.get(url("conversation-detail", conversation)), 404, "not_found", None
        )
        api_client.force_authenticate(UserFactory.create())
        assert api_client.get(url("conversation-detail", conversation)).status_code == 404

    def test_private_conversation_opens_for_its_owner_and_staff(
        self, conversation: Conversation, owner_client: APIClient, api_client: APIClient
    ) -> None:
        Conversation.objects.filter(pk=conversation.pk).update(visibility=Visibility.PRIVATE)
        assert owner_client.get(url("conversation-detail", conversation)).status_code == 200
        api_client.force_authenticate(UserFactory.create(is_staff=True))
        assert api_client.get(url("conversation-detail", conversation)).status_code == 200

    def test_unknown_slug_is_a_json_404(self, api_client: APIClient) -> None:
        response = api_client.get("/api/v1/conversations/no-such-thing/statements/")
        assert "no-such-thing" in assert_error(response, 404, "not_found", None)


class TestStatementList:
    def test_lists_accepted_and_own_pending_statements_with_tallies(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        accepted = StatementFactory.create(conversation=conversation)
        StatementFactory.create(conversation=conversation, status=StatementStatus.REJECTED)
        StatementFactory.create(conversation=conversation, status=StatementStatus.PENDING)
        mine = participant_client.post(
            url("statement-list", conversation), {"text": "My own idea"}, format="json"
        ).json()
        for value in (1, 1, -1, 0):
            voter = ParticipantFactory.create(conversation=conversation)
            vote_cast(participant=voter, statement=accepted, value=value)

        body = participant_client.get(url("statement-list", conversation)).json()

        assert body["count"] == 2
        first, second = body["results"]
        assert (first["id"], first["agrees"], first["disagrees"], first["passes"]) == (
            accepted.pk,
            2,
            1,
            1,
        )
        assert (second["id"], second["status"], second["agrees"]) == (mine["id"], "pending", 0)

    def test_a_visitor_sees_only_accepted_statements(
        self, conversation: Conversation, api_client: APIClient
    ) -> None:
        accepted = StatementFactory.create(conversation=conversation)
        StatementFactory.create(conversation=conversation, status=StatementStatus.PENDING)
        body = api_client.get(url("statement-list", conversation)).json()
        assert [item["id"] for item in body["results"]] == [accepted.pk]
        assert not Participant.objects.exists()


class TestStatementCreate:
    def test_participant_statement_waits_for_approval_in_strict_moderation(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        response = participant_client.post(
            url("statement-list", conversation), {"text": "  Fund night buses "}, format="json"
        )
        assert response.status_code == 201
        assert (response.json()["text"], response.json()["status"]) == (
            "Fund night buses",
            "pending",
        )
        statement = Statement.objects.get()
        assert statement.author_participant == session_participant(participant_client, conversation)

    def test_participant_statement_is_accepted_in_open_moderation(
        self, api_client: APIClient
    ) -> None:
        conversation = ConversationFactory.create(moderation_mode=ModerationMode.OPEN)
        client = with_csrf(api_client, conversation)
        response = client.post(url("statement-list", conversation), {"text": "Buses"})
        assert (response.status_code, response.json()["status"]) == (201, "accepted")

    def test_owner_script_with_a_token_adds_an_accepted_seed_without_csrf(
        self, conversation: Conversation, owner_client: APIClient
    ) -> None:
        response = owner_client.post(
            url("statement-list", conversation), {"text": "Seed one"}, format="json"
        )
        assert response.status_code == 201
        assert (response.json()["status"], response.json()["is_seed"]) == ("accepted", True)
        assert Statement.objects.get().author_user == conversation.owner
        assert not Participant.objects.exists()

    @pytest.mark.parametrize(
        ("text", "needle"),
        [("", "cannot be empty"), ("   \n\t ", "cannot be empty"), ("x" * 501, "at most 500")],
    )
    def test_bad_text_is_a_400_and_writes_no_statement(
        self, conversation: Conversation, participant_client: APIClient, text: str, needle: str
    ) -> None:
        before = counts()
        response = participant_client.post(
            url("statement-list", conversation), {"text": text}, format="json"
        )
        assert needle in assert_error(response, 400, "invalid", "text")
        assert counts() == before

    def test_text_with_a_nul_character_is_a_400(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        response = participant_client.post(
            url("statement-list", conversation), {"text": "Fund\x00buses"}, format="json"
        )
        assert_error(response, 400, "invalid", "text")
        assert not Statement.objects.exists()

    def test_missing_text_is_a_400_naming_the_field(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        before = counts()
        response = participant_client.post(url("statement-list", conversation), {}, format="json")
        assert_error(response, 400, "invalid", "text")
        assert counts() == before

    def test_duplicate_is_a_409_naming_the_existing_statement(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        existing = StatementFactory.create(conversation=conversation, text="Fund night buses")
        response = participant_client.post(
            url("statement-list", conversation), {"text": "FUND  night buses"}, format="json"
        )
        assert_error(response, 409, "duplicate_statement", "text")
        assert response.json()["error"]["existing_id"] == existing.pk
        assert Statement.objects.count() == 1

    def test_closed_conversation_takes_no_statement(
        self, conversation: Conversation, participant_client: APIClient, owner_client: APIClient
    ) -> None:
        Conversation.objects.filter(pk=conversation.pk).update(is_open=False)
        for client in (participant_client, owner_client):
            response = client.post(url("statement-list", conversation), {"text": "Late"})
            assert_error(response, 403, "conversation_closed", None)
        assert not Statement.objects.exists()

    def test_participants_may_not_add_when_the_conversation_forbids_it(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        Conversation.objects.filter(pk=conversation.pk).update(participants_can_add=False)
        response = participant_client.post(url("statement-list", conversation), {"text": "Mine"})
        assert "cannot add" in assert_error(response, 403, "forbidden", None)
        assert not Statement.objects.exists()


class TestVotes:
    def test_cast_then_change_keeps_one_vote_and_logs_both(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        statement = StatementFactory.create(conversation=conversation)
        votes = url("vote-list", conversation)
        first = participant_client.post(
            votes, {"statement": statement.pk, "value": 1}, format="json"
        )
        second = participant_client.post(
            votes, {"statement": statement.pk, "value": -1, "reason": " too costly "}, format="json"
        )
        assert (first.status_code, second.status_code) == (201, 201)
        assert second.json() | {"updated_at": None} == {
            "statement": statement.pk,
            "value": -1,
            "reason": "too costly",
            "updated_at": None,
        }
        vote = Vote.objects.get()
        assert (vote.participant, vote.value) == (
            session_participant(participant_client, conversation),
            -1,
        )
        assert list(VoteEvent.objects.order_by("id").values_list("value", flat=True)) == [1, -1]

    def test_form_encoded_votes_work_too(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        statement = StatementFactory.create(conversation=conversation)
        response = participant_client.post(
            url("vote-list", conversation), {"statement": statement.pk, "value": "0"}
        )
        assert (response.status_code, response.json()["value"]) == (201, 0)

    def test_own_votes_list_only_mine_the_latest_first(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        older, newer = StatementFactory.create_batch(2, conversation=conversation)
        for statement in (older, newer):
            participant_client.post(
                url("vote-list", conversation), {"statement": statement.pk, "value": 1}
            )
        someone_else = ParticipantFactory.create(conversation=conversation)
        vote_cast(participant=someone_else, statement=older, value=-1)

        body = participant_client.get(url("vote-list", conversation)).json()

        assert body["count"] == 2
        assert [(item["statement"], item["value"]) for item in body["results"]] == [
            (newer.pk, 1),
            (older.pk, 1),
        ]

    def test_a_visitor_has_no_votes_and_gets_no_participant(
        self, conversation: Conversation, api_client: APIClient
    ) -> None:
        body = api_client.get(url("vote-list", conversation)).json()
        assert (body["count"], body["results"]) == (0, [])
        assert not Participant.objects.exists()

    @pytest.mark.parametrize("value", [2, -2, "agree", 1.5, True, None, ""])
    def test_value_outside_minus_one_to_one_is_a_400_and_writes_nothing(
        self, conversation: Conversation, participant_client: APIClient, value: object
    ) -> None:
        statement = StatementFactory.create(conversation=conversation)
        before = counts()
        response = participant_client.post(
            url("vote-list", conversation), {"statement": statement.pk, "value": value}, "json"
        )
        assert_error(response, 400, "invalid", "value")
        assert counts() == before

    @pytest.mark.parametrize("status", [StatementStatus.PENDING, StatementStatus.REJECTED])
    def test_vote_on_statement_not_accepted_is_a_400_and_writes_no_vote(
        self, conversation: Conversation, participant_client: APIClient, status: str
    ) -> None:
        statement = StatementFactory.create(conversation=conversation, status=status)
        response = participant_client.post(
            url("vote-list", conversation), {"statement": statement.pk, "value": 1}, "json"
        )
        assert "not open for voting" in assert_error(response, 400, "invalid", "statement")
        assert (Vote.objects.count(), VoteEvent.objects.count()) == (0, 0)

    @pytest.mark.parametrize("statement_id", ["unknown", "other conversation"])
    def test_vote_on_unknown_statement_is_a_404_and_writes_nothing(
        self, conversation: Conversation, participant_client: APIClient, statement_id: str
    ) -> None:
        elsewhere = StatementFactory.create()
        target = elsewhere.pk if statement_id == "other conversation" else elsewhere.pk + 1000
        before = counts()
        response = participant_client.post(
            url("vote-list", conversation), {"statement": target, "value": 1}, "json"
        )
        assert_error(response, 404, "not_found", "statement")
        assert counts() == before

    @pytest.mark.parametrize("statement_id", [0, -3, 2**63, "seven"])
    def test_statement_id_that_cannot_exist_is_a_400(
        self, conversation: Conversation, participant_client: APIClient, statement_id: object
    ) -> None:
        before = counts()
        response = participant_client.post(
            url("vote-list", conversation), {"statement": statement_id, "value": 1}, "json"
        )
        assert_error(response, 400, "invalid", "statement")
        assert counts() == before

    def test_votes_over_the_rate_limit_are_a_429_and_not_stored(
        self, conversation: Conversation, participant_client: APIClient, settings: Settings
    ) -> None:
        settings.AGORA_RATE_LIMITS = {RateLimitAction.VOTE: {"participant": 1}}
        first, second = StatementFactory.create_batch(2, conversation=conversation)
        votes = url("vote-list", conversation)
        assert (
            participant_client.post(votes, {"statement": first.pk, "value": 1}).status_code == 201
        )
        response = participant_client.post(votes, {"statement": second.pk, "value": 1})
        assert_error(response, 429, "rate_limited", None)
        assert list(Vote.objects.values_list("statement", flat=True)) == [first.pk]

    def test_closed_conversation_takes_no_vote(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        statement = StatementFactory.create(conversation=conversation)
        Conversation.objects.filter(pk=conversation.pk).update(is_open=False)
        response = participant_client.post(
            url("vote-list", conversation), {"statement": statement.pk, "value": 1}, "json"
        )
        assert_error(response, 403, "conversation_closed", None)
        assert (Vote.objects.count(), VoteEvent.objects.count()) == (0, 0)


class TestNextStatement:
    def test_draws_unvoted_statements_then_reports_done(
        self, conversation: Conversation, participant_client: APIClient
    ) -> None:
        statements = StatementFactory.create_batch(3, conversation=conversation)
        StatementFactory.create(conversation=conversation, status=StatementStatus.PENDING)
        seen: list[int] = []
        for voted in range(3):
            body = participant_client.get(url("statement-next", conversation)).json()
            assert body["done"] is False
            assert body["progress"] == {"voted": voted, "available": 3, "remaining": 3 - voted}
            seen.append(body["statement"]["id"])
            participant_client.post(
                url("vote-list", conversation), {"statement": seen[-1], "value": 0}
            )

        body = participant_client.get(url("statement-next", conversation)).json()

        assert sorted(seen) == sorted(statement.pk for statement in statements)
        assert body == {
            "statement": None,
            "done": True,
            "progress": {"voted": 3, "available": 3, "remaining": 0},
        }

    def test_asking_for_a_statement_makes_the_caller_a_participant(
        self, conversation: Conversation, api_client: APIClient
    ) -> None:
        StatementFactory.create(conversation=conversation)
        first = api_client.get(url("statement-next", conversation)).json()
        again = api_client.get(url("statement-next", conversation)).json()
        assert first["statement"]["id"] == again["statement"]["id"]
        assert Participant.objects.count() == 1

    def test_closed_conversation_has_nothing_to_vote_on(
        self, conversation: Conversation, api_client: APIClient
    ) -> None:
        StatementFactory.create(conversation=conversation)
        Conversation.objects.filter(pk=conversation.pk).update(is_open=False)
        response = api_client.get(url("statement-next", conversation))
        assert_error(response, 403, "conversation_closed", None)
        assert not Participant.objects.exists()

    def test_private_conversation_is_a_404(self, api_client: APIClient) -> None:
        conversation = ConversationFactory.create(visibility=Visibility.PRIVATE)
        assert_error(api_client.get(url("statement-next", conversation)), 404, "not_found", None)


def test_near_duplicate_statement_is_refused_until_confirmed(
    participant_client: APIClient, conversation: Conversation
) -> None:
    existing = StatementFactory.create(
        conversation=conversation, text="The city should build more protected bike lanes."
    )
    near = {"text": "The city should build more protected bike lanes!"}
    refused = participant_client.post(url("statement-list", conversation), near, format="json")
    assert_error(refused, 409, "near_duplicate_statement", "text")
    assert refused.json()["error"]["existing_id"] == existing.pk
    confirmed = participant_client.post(
        url("statement-list", conversation), {**near, "confirmed": True}, format="json"
    )
    assert confirmed.status_code == 201
    assert Statement.objects.filter(conversation=conversation).count() == 2


class TestRefusedFirstWrite:
    """Issue 2: a newcomer whose first write is refused is not left behind as a participant."""

    @pytest.mark.parametrize(
        ("write", "setup", "status", "code"),
        [
            ("vote", {"statement_status": StatementStatus.PENDING}, 400, "invalid"),
            ("vote", {"statement_status": StatementStatus.REJECTED}, 400, "invalid"),
            ("vote", {"is_open": False}, 403, "conversation_closed"),
            ("statement", {"duplicate": True}, 409, "duplicate_statement"),
            ("statement", {"is_open": False}, 403, "conversation_closed"),
            ("statement", {"participants_can_add": False}, 403, "forbidden"),
        ],
        ids=[
            "vote-pending",
            "vote-rejected",
            "vote-closed",
            "statement-duplicate",
            "statement-closed",
            "statement-participants-cannot-add",
        ],
    )
    def test_refused_first_write_leaves_no_participant(
        self,
        conversation: Conversation,
        participant_client: APIClient,
        write: str,
        setup: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        statement = StatementFactory.create(
            conversation=conversation,
            text="Fund night buses" if setup.get("duplicate") else "Plant more trees",
            status=setup.get("statement_status", StatementStatus.ACCEPTED),
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            is_open=setup.get("is_open", True),
            participants_can_add=setup.get("participants_can_add", True),
        )
        before = counts()
        if write == "vote":
            response = participant_client.post(
                url("vote-list", conversation), {"statement": statement.pk, "value": 1}, "json"
            )
        else:
            response = participant_client.post(
                url("statement-list", conversation), {"text": "fund  NIGHT buses"}, "json"
            )
        assert response.status_code == status
        assert response.json()["error"]["code"] == code
        assert counts() == before

    def test_refusal_of_a_participant_keeps_their_rate_limit_hit(
        self, conversation: Conversation, participant_client: APIClient, settings: Settings
    ) -> None:
        settings.AGORA_RATE_LIMITS = {RateLimitAction.VOTE: {"participant": 1}}
        first, second = StatementFactory.create_batch(2, conversation=conversation)
        votes = url("vote-list", conversation)
        participant_client.post(votes, {"statement": first.pk, "value": 1})
        response = participant_client.post(votes, {"statement": second.pk, "value": 1})
        assert_error(response, 429, "rate_limited", None)
        participant = session_participant(participant_client, conversation)
        assert RateLimitHit.objects.filter(participant=participant).count() == 1
