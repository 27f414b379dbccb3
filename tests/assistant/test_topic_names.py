import json
from typing import Any

import numpy as np
import pytest

from deliberation.models import AICall, AIOutcome, AIPurpose, Topic, TopicNameSource
from deliberation.services.topics import topics_recompute
from tests.fake_openai import FakeOpenAI
from tests.services.test_topics import seeded, themed  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

NAMES = {
    "bus": ("Public transport", "Statements about buses, trains and commuting in the city."),
    "rent": ("Housing and rent", "Statements about rents, affordable homes and tenants."),
    "doctor": ("Health care", "Statements about doctors, hospitals and waiting for care."),
    "school": ("Schools and education", "Statements about schools, teachers and pupils."),
    "police": ("Crime and policing", "Statements about police, crime and feeling safe."),
    # The environment topic gets a name its statements do not support.
    "tree": ("Pet adoption rules", "Statements about adopting cats and dogs from shelters."),
}


def name_by_statements(body: dict[str, Any]) -> dict[str, Any]:
    content = body["messages"][1]["content"]
    data = json.loads(content[content.index("<data>") + 6 : content.index("</data>")])
    answers = []
    for topic in data["topics"]:
        text = " ".join(topic["statements"]).lower()
        word = max(NAMES, key=lambda w: text.count(w))
        name, description = NAMES[word]
        answers.append({"number": topic["number"], "name": name, "description": description})
    return {"topics": answers}


def test_model_names_are_used_only_where_the_statements_support_them(
    fake_openai: FakeOpenAI,
    themed: list[tuple[str, str, np.ndarray]],  # noqa: F811
) -> None:
    fake_openai.chat_default = name_by_statements
    conversation = seeded(themed)
    topics_recompute(conversation_id=conversation.pk)
    topics = {t.name: t for t in Topic.objects.filter(conversation=conversation, parent=None)}
    for name in ("Public transport", "Housing and rent", "Crime and policing"):
        assert topics[name].name_source == TopicNameSource.MODEL
        assert topics[name].description.startswith("Statements about")
    assert "Pet adoption rules" not in topics
    keyword_named = [t for t in topics.values() if t.name_source == TopicNameSource.KEYWORDS]
    assert len(keyword_named) == 1 and keyword_named[0].description == ""
    calls = AICall.objects.filter(conversation=conversation, purpose=AIPurpose.TOPIC_NAMES)
    # Refused once, retried with the reasons, refused again: both calls ledgered as such.
    assert calls.count() == 2
    assert all(c.outcome == AIOutcome.GATE_FAILED for c in calls)
    assert "Pet adoption rules" in calls[0].detail


def test_a_name_longer_than_six_words_or_two_sentences_is_refused(
    fake_openai: FakeOpenAI,
    themed: list[tuple[str, str, np.ndarray]],  # noqa: F811
) -> None:
    def wordy(body: dict[str, Any]) -> dict[str, Any]:
        answer = name_by_statements(body)
        for item in answer["topics"]:
            item["description"] = item["description"] + " It matters. A lot."
        return answer

    fake_openai.chat_default = wordy
    conversation = seeded(themed)
    topics_recompute(conversation_id=conversation.pk)
    assert set(
        Topic.objects.filter(conversation=conversation).values_list("name_source", flat=True)
    ) == {TopicNameSource.KEYWORDS}


def test_offline_topics_are_named_by_their_keywords_and_the_ledger_says_offline(
    offline: None,
    themed: list[tuple[str, str, np.ndarray]],  # noqa: F811
) -> None:
    conversation = seeded(themed)
    topics_recompute(conversation_id=conversation.pk)
    assert set(
        Topic.objects.filter(conversation=conversation).values_list("name_source", flat=True)
    ) == {TopicNameSource.KEYWORDS}
    call = AICall.objects.get(conversation=conversation, purpose=AIPurpose.TOPIC_NAMES)
    assert call.outcome == AIOutcome.OFFLINE
