import numpy as np
import pytest
from django.test import Client
from rest_framework.test import APIClient

from deliberation.models import Statement, StatementStatus, StatementTopic, Topic, TopicFit
from deliberation.selectors.report import report_build
from deliberation.services.report_export import snapshot_document
from tests.factories import StatementFactory
from tests.snapshot_data import Camps, clustered, two_camps

pytestmark = pytest.mark.django_db


def topic(camps: Camps, number: int, name: str, statements: list[Statement]) -> Topic:
    made = Topic.objects.create(
        conversation=camps.conversation,
        number=number,
        name=name,
        size=len(statements),
        centroid=np.zeros(4, dtype=np.float32).tobytes(),
        spread=0.0,
    )
    StatementTopic.objects.bulk_create(
        StatementTopic(statement=s, topic=made, by_fit=True) for s in statements
    )
    return made


@pytest.fixture
def camps_with_topics() -> Camps:
    """Two camps split on every statement but the last: topic 1 holds the split ones,
    topic 2 the one everybody agrees with, and a rejected statement sits in topic 1."""
    camps = two_camps()
    rejected = StatementFactory.create(
        conversation=camps.conversation, text="Rejected words", status=StatementStatus.REJECTED
    )
    topic(camps, 1, "split things", [*camps.statements[:-1], rejected])
    topic(camps, 2, "shared things", camps.statements[-1:])
    TopicFit.objects.create(conversation=camps.conversation)
    return camps


def test_each_topic_says_whether_the_groups_split_on_it(camps_with_topics: Camps) -> None:
    camps = camps_with_topics
    report = report_build(conversation=camps.conversation, snapshot=clustered(camps))
    split, shared = report.topics
    assert (split.number, shared.number) == (1, 2)
    assert split.split and split.polarization is not None and split.polarization > 0.8
    assert shared.split is False and shared.polarization is not None
    assert shared.polarization < 0.1
    # Every group agrees with the shared statement; on the split topic, half the time.
    assert all(g.pct >= 90 for g in shared.groups) and len(shared.groups) == 2
    assert all(40 <= g.pct <= 60 for g in split.groups)
    assert split.divisive and not shared.divisive
    assert [r.id for r in shared.consensus] == [camps.statements[-1].pk]


def test_a_rejected_statement_appears_on_no_topic_surface(
    camps_with_topics: Camps, api_client: APIClient, client: Client
) -> None:
    camps = camps_with_topics
    rejected = Statement.objects.get(text="Rejected words")
    snapshot = clustered(camps)
    report = report_build(conversation=camps.conversation, snapshot=snapshot)
    assert rejected.pk not in [r.id for t in report.topics for r in t.statements]
    assert report.topics[0].size == len(camps.statements) - 1
    body = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/topics/").json()
    assert [t["number"] for t in body] == [1, 2]
    assert rejected.pk not in body[0]["statements"] and len(body[0]["statements"]) == 7
    assert body[0]["name_source"] == "keywords"
    exported = snapshot_document(conversation=camps.conversation, snapshot=snapshot)
    assert exported["topics"] == body
    html = client.get(f"/report/{camps.conversation.slug}/").content.decode()
    assert 'id="topics"' in html and html.index('id="topics"') < html.index('id="groups"')
    assert "The groups split on this topic." in html and "Rejected words" not in html
    assert "class-based TF-IDF" in html  # the methodology says how topics are made
    section = html[html.index('id="topics"') : html.index('id="groups"')]
    # The topic's group agreement is a <meter>: no inline style for the CSP to refuse.
    assert section.count("<meter") == 4
