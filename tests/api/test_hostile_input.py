"""Inputs an attacker or a fuzzer sends: each gets a JSON 4xx, never a 500 or an HTML page."""

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import Conversation, ModerationMode, Statement
from tests.factories import ConversationFactory, StatementFactory

pytestmark = pytest.mark.django_db

TOO_BIG = 2**63
HUGE = 2**64 + 1


def statements_url(conversation: Conversation) -> str:
    return reverse("v1:statement-list", args=[conversation.slug])


def error_of(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body["error"]) >= {"code", "message", "field"}
    return dict(body["error"])


@pytest.fixture
def open_conversation() -> Conversation:
    return ConversationFactory.create(moderation_mode=ModerationMode.OPEN)


@pytest.mark.parametrize(
    "name",
    ["v1:conversation-list", "v1:statement-list", "v1:vote-list", "v1:snapshot-list"],
)
@pytest.mark.parametrize("query", [{"limit": TOO_BIG}, {"offset": HUGE}, {"limit": -1}])
def test_pagination_beyond_any_integer_is_refused_as_json(
    api_client: APIClient, open_conversation: Conversation, name: str, query: dict[str, int]
) -> None:
    args = [] if name == "v1:conversation-list" else [open_conversation.slug]
    response = api_client.get(reverse(name, args=args), query)
    assert response.status_code == 400
    assert error_of(response)["field"] == next(iter(query))


def test_pagination_within_bounds_still_pages(
    api_client: APIClient, open_conversation: Conversation
) -> None:
    StatementFactory.create_batch(3, conversation=open_conversation)
    response = api_client.get(statements_url(open_conversation), {"limit": 2, "offset": 1})
    assert response.status_code == 200
    assert (response.json()["count"], len(response.json()["results"])) == (3, 2)


@pytest.mark.parametrize(
    ("text", "twin"),
    [
        ("ß" * 500, "ẞ" * 500),  # casefolds to "ss"
        ("ﬃ" * 300, "ﬃ" * 300),  # to "ffi"
        ("ΐ" * 500, "\u03b9\u0308\u0301" * 500),  # to 3 code points; the twin is decomposed
    ],
    ids=["sharp-s", "ffi", "iota"],
)
def test_text_that_grows_when_case_folded_is_added_once(
    participant_client: APIClient, conversation: Conversation, text: str, twin: str
) -> None:
    response = participant_client.post(statements_url(conversation), {"text": text}, format="json")
    assert response.status_code == 201, response.content[:300]
    again = participant_client.post(statements_url(conversation), {"text": twin}, format="json")
    assert again.status_code == 409
    assert error_of(again)["code"] == "duplicate_statement"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\u200b\u200e\u200f\u202e\u2066\u2069\ufeff", "A statement cannot be empty."),
        (" \u200b \u200b ", "A statement cannot be empty."),
        ("Nul\x00byte", "character"),
        ("Bell\x07", "control character"),
        ("Lone \ud800 surrogate", "U+D800"),
    ],
    ids=["format-only", "spaced-zero-width", "nul", "bell", "surrogate"],
)
def test_invisible_or_control_text_is_refused(
    participant_client: APIClient, conversation: Conversation, text: str, message: str
) -> None:
    response = participant_client.post(
        statements_url(conversation),
        json.dumps({"text": text}),  # keeps a lone surrogate as its \ud800 escape
        content_type="application/json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert message in error["message"] and error["field"] == "text"
    assert not Statement.objects.exists()


def test_decomposed_text_is_stored_composed_and_counted_composed(
    participant_client: APIClient, conversation: Conversation
) -> None:
    # 250 "é" written as e + combining acute: 500 code points, 250 once composed.
    decomposed = "e\u0301" * 250
    response = participant_client.post(
        statements_url(conversation), {"text": decomposed}, format="json"
    )
    assert response.status_code == 201
    assert Statement.objects.get().text == "é" * 250


def test_newlines_and_tabs_stay_allowed(
    participant_client: APIClient, conversation: Conversation
) -> None:
    text = "Two lines:\n\tplant trees,\r\n\tfund buses."
    response = participant_client.post(statements_url(conversation), {"text": text}, format="json")
    assert response.status_code == 201


def test_deeply_nested_json_is_refused_before_parsing(
    participant_client: APIClient, conversation: Conversation
) -> None:
    body = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = participant_client.post(
        statements_url(conversation), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested" in error_of(response)["message"]


def test_ordinary_nesting_inside_strings_is_not_counted(
    participant_client: APIClient, conversation: Conversation
) -> None:
    text = '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ brackets \\" {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{'
    response = participant_client.post(statements_url(conversation), {"text": text}, format="json")
    assert response.status_code == 201


def test_body_over_the_limit_is_a_json_413(
    participant_client: APIClient, conversation: Conversation, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"text": "x" * 2000})
    response = participant_client.post(
        statements_url(conversation), body, content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_form_encoded_body_over_the_limit_is_a_json_413(
    participant_client: APIClient, conversation: Conversation, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = participant_client.post(statements_url(conversation), {"text": "x" * 2000})
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations/bad%20slug!/",
        "/api/v1/conversations/no-such-conversation/",
        "/api/v1/nothing-here/",
        "/api/nothing-here",
        "/api/v1/conversations/x/statements/next/extra/",
    ],
)
def test_unknown_api_urls_are_json_404s(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_unknown_pages_outside_the_api_keep_html_404s() -> None:
    response = Client().get("/no-such-page/here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_a_json_405(owner_client: APIClient, conversation: Conversation) -> None:
    response = owner_client.delete(reverse("v1:conversation-detail", args=[conversation.slug]))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_server_error_under_the_api_is_json(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("deliberation.api.views.conversation_get", explode)
    client = Client(raise_request_exception=False)
    response = client.get(reverse("v1:conversation-detail", args=[conversation.slug]))
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error" and "boom" not in error["message"]


def test_chat_submit_of_text_that_grows_when_case_folded_is_added(
    participant_client: APIClient, conversation: Conversation
) -> None:
    url = reverse("v1:assistant-chat", args=[conversation.slug])
    response = participant_client.post(
        url, {"intent": "submit", "text": "ß" * 500, "confirmed": True}, format="json"
    )
    assert response.status_code == 200, response.content[:300]
    assert Statement.objects.get().text == "ß" * 500
