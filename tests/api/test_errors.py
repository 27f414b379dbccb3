"""Every refusal has one JSON shape: {"error": {"code", "message", "field", ...}}."""

from typing import Any

import pytest
from rest_framework import exceptions
from rest_framework.test import APIClient

from deliberation.api.errors import exception_handler
from deliberation.errors import DuplicateStatement, InvalidInput, NotFound
from deliberation.models import Conversation
from tests.api.conftest import with_csrf

CONTEXT: dict[str, Any] = {}


def error_of(exc: Exception) -> tuple[int, dict[str, Any]]:
    response = exception_handler(exc, CONTEXT)
    assert response is not None
    return response.status_code, response.data["error"]


def test_domain_error_keeps_its_status_code_and_field() -> None:
    assert error_of(InvalidInput("Too long.", field="text")) == (
        400,
        {"code": "invalid", "message": "Too long.", "field": "text"},
    )
    assert error_of(NotFound("No such thing."))[0] == 404


def test_duplicate_statement_names_the_existing_one() -> None:
    status, error = error_of(DuplicateStatement("Already there.", existing_id=12))
    assert (status, error["code"], error["existing_id"], error["field"]) == (
        409,
        "duplicate_statement",
        12,
        "text",
    )


def test_validation_error_names_the_first_field_and_keeps_every_problem() -> None:
    detail = {"value": ["Not a vote."], "statement": ["Required."]}
    status, error = error_of(exceptions.ValidationError(detail))
    assert (status, error["code"], error["field"], error["message"]) == (
        400,
        "invalid",
        "value",
        "Not a vote.",
    )
    assert set(error["details"]) == {"value", "statement"}


def test_validation_error_outside_any_field_names_none() -> None:
    _, error = error_of(exceptions.ValidationError({"non_field_errors": ["Inconsistent."]}))
    assert (error["field"], error["message"]) == (None, "Inconsistent.")


def test_nested_validation_error_names_the_path() -> None:
    _, error = error_of(exceptions.ValidationError({"items": [{"text": ["Empty."]}]}))
    assert (error["field"], error["message"]) == ("items.text", "Empty.")


def test_other_drf_errors_carry_their_code_and_message() -> None:
    status, error = error_of(exceptions.NotAuthenticated())
    assert (status, error["code"], error["field"]) == (401, "not_authenticated", None)
    assert error["message"] == str(exceptions.NotAuthenticated.default_detail)


def test_errors_django_leaves_alone_are_left_alone() -> None:
    assert exception_handler(ValueError("bug"), CONTEXT) is None


@pytest.mark.django_db
def test_malformed_json_is_a_json_400(conversation: Conversation, api_client: APIClient) -> None:
    client = with_csrf(api_client, conversation)
    response = client.post(
        f"/api/v1/conversations/{conversation.slug}/votes/",
        data="{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
