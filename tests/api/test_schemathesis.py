"""The API against its own OpenAPI schema, by schemathesis: every operation, generated
requests (valid and not), anonymously and with a DRF token, on unknown slugs and on a real
conversation. Zero server errors and no response outside the schema (an undocumented
status, a body not matching, a wrong content type).

Examples are bounded so the whole file takes well under a minute, and hypothesis's example
database is off so no run depends on an earlier one. (The schema is loaded at import, not
through schemathesis's fixture loader, which pytest 9 broke.)
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import negative_data_rejection

from deliberation.models import Conversation, ModerationMode
from tests.factories import ConversationFactory, StatementFactory

pytestmark = pytest.mark.django_db

SLUG = "fuzzed"
MAX_EXAMPLES = 6


def api_schema(**parameters: str) -> schemathesis.BaseSchema:
    config: dict[str, Any] = {
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "parameters": parameters,
    }
    return schemathesis.openapi.from_wsgi(
        "/api/schema/", get_wsgi_application(), config=schemathesis.Config.from_dict(config)
    )


any_slug = api_schema()
real_slug = api_schema(**{"path.slug": SLUG})
# DRF coerces what it can ("1" for 1, "true" for true), so some requests the schema calls
# invalid are accepted; that leniency is DRF's documented behaviour, not a broken promise.
# Every other check runs: no 5xx, only documented statuses, bodies and content types as the
# schema says, and every request the schema calls valid accepted (or refused for a state it
# documents: 403, 404, 409, 429).
LENIENT: list[schemathesis.CheckFunction] = [negative_data_rejection]
# Derandomized: the same examples every run, so a run never fails by chance.
fuzzing = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _keep_the_test_transaction() -> Iterator[None]:
    # Requests go through the real WSGI handler, which closes the database connection when
    # a request ends, and with it the test's transaction; Django's test client unhooks this
    # the same way.
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzzed_conversation() -> Conversation:
    conversation = ConversationFactory.create(slug=SLUG, moderation_mode=ModerationMode.OPEN)
    StatementFactory.create_batch(3, conversation=conversation)
    return conversation


@pytest.fixture
def token_header(fuzzed_conversation: Conversation) -> dict[str, str]:
    assert fuzzed_conversation.owner is not None
    token = Token.objects.create(user=fuzzed_conversation.owner)
    return {"Authorization": f"Token {token.key}"}


@schemathesis.pytest.parametrize(any_slug=any_slug, real_slug=real_slug)
@fuzzing
def test_anonymous_requests_get_answers_the_schema_describes(
    case: schemathesis.Case, fuzzed_conversation: Conversation
) -> None:
    case.call_and_validate(excluded_checks=LENIENT)


@schemathesis.pytest.parametrize(any_slug=any_slug, real_slug=real_slug)
@fuzzing
def test_token_requests_get_answers_the_schema_describes(
    case: schemathesis.Case, token_header: dict[str, str]
) -> None:
    case.call_and_validate(headers=token_header, excluded_checks=LENIENT)
