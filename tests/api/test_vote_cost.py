"""What one vote costs the database: the participant loop at scale is bounded by it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import Conversation, Vote
from tests.api.conftest import with_csrf
from tests.factories import ParticipantFactory, StatementFactory

pytestmark = pytest.mark.django_db

# Find the participant, upsert the vote (its trigger moves the tally), log the event, then
# for the next card read the participant's votes and the tallies. The session, the
# conversation, its statements, the latest snapshot and the rate-limit counters come from
# the cache.
VOTE_QUERIES = 5


def test_a_vote_and_its_next_card_cost_a_bounded_handful_of_queries(
    api_client: APIClient, conversation: Conversation
) -> None:
    statements = StatementFactory.create_batch(30, conversation=conversation)
    for other in ParticipantFactory.create_batch(20, conversation=conversation):
        for statement in statements[:10]:
            Vote.objects.create(
                conversation=conversation,
                participant=other,
                statement=statement,
                value=1,
                updated_at=other.created_at,
            )
    client = with_csrf(api_client, conversation)
    base = reverse("v1:statement-next", args=[conversation.slug])
    card = client.get(base).json()["statement"]
    votes = reverse("v1:vote-list", args=[conversation.slug])
    client.post(votes, {"statement": card["id"], "value": 1}, format="json")  # warms the caches

    seen = {card["id"]}
    for _ in range(3):
        card = client.get(base).json()["statement"]
        with CaptureQueriesContext(connection) as queries:
            answer = client.post(votes, {"statement": card["id"], "value": -1}, format="json")
        assert answer.status_code == 201, answer.content
        # Savepoints are the test's own transaction; in production the vote's is the outer one.
        sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
        assert len(sql) <= VOTE_QUERIES, sql
        seen.add(card["id"])
        following = answer.json()["next"]
        assert following["statement"]["id"] not in seen
        assert following["progress"] == {
            "voted": len(seen),
            "available": 30,
            "remaining": 30 - len(seen),
        }
