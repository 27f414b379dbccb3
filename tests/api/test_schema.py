"""The OpenAPI schema and its docs (deliberation/api/schema.py, deliberation/api/urls.py)."""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory


def test_schema_validates_without_a_single_warning(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    operations = [
        operation.get("operationId")
        for path in schema["paths"].values()
        for operation in path.values()
    ]
    assert None not in operations
    assert len(set(operations)) == len(operations)
    assert set(operations) >= {
        "conversations_list",
        "conversations_retrieve",
        "statements_list",
        "statements_create",
        "statements_next",
        "votes_list",
        "votes_cast",
    }
    assert set(schema["components"]["securitySchemes"]) == {"cookieAuth", "tokenAuth"}


def test_every_write_documents_its_json_errors(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    statements = paths["/api/v1/conversations/{slug}/statements/"]["post"]["responses"]
    votes = paths["/api/v1/conversations/{slug}/votes/"]["post"]["responses"]
    assert {"201", "400", "403", "404", "409"} <= set(statements)
    assert {"201", "400", "403", "404"} <= set(votes)
    error = statements["409"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_schema_and_docs_are_served(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/conversations/" in schema.content
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


@pytest.mark.django_db
def test_drf_create_token_issues_a_token_for_a_moderator_script() -> None:
    user = UserFactory.create(username="moderator")
    out = StringIO()
    call_command("drf_create_token", "moderator", stdout=out)
    assert Token.objects.get(user=user).key in out.getvalue()
