"""Topic names and descriptions by the model, checked against each topic's statements.

The model sees, per topic, the statements nearest its centre (as data, never instructions)
and answers a short name and a one-sentence description. A topic's answer is used only if it
passes the check: a name of at most NAME_MAX_WORDS words, one sentence of description, and,
in meaning (the local model), name and description together at least as close to the
topic's centre as its own members are (its spread) and closer to it than to any other topic.
A refused answer is retried once with the reasons; what still fails keeps its keyword name.
Every call is in the ledger; a refused one is marked there with its reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from deliberation.assistant import prompts
from deliberation.assistant.embeddings import local_embedder
from deliberation.assistant.ledger import ai_call_mark_gate_failed
from deliberation.assistant.provider import AssistantUnavailable, Provider
from deliberation.models import AICall, AIPurpose, Conversation

TOPIC_NAMES_VERSION = "topic-names-v1"
NAME_MAX_WORDS = 6
NAME_MAX_CHARS = 60
DESCRIPTION_MAX_CHARS = 240
STATEMENTS_PER_TOPIC = 8

TOPIC_NAMES_SYSTEM = (
    "You name the topics of a public deliberation. For each topic you get its number and "
    "some of its statements. Answer, for every topic, a short neutral name (at most "
    f"{NAME_MAX_WORDS} words) and one neutral sentence saying what its statements are about. "
    "Take no side and invent nothing the statements do not say. Answer in JSON. "
    + prompts.DATA_RULE
)
TOPIC_NAMES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topics": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "number": {"type": "integer"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
                "required": ["number", "name", "description"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["topics"],
    "additionalProperties": False,
}
_SENTENCE_END = re.compile(r"[.!?](\s|$)")


@dataclass(frozen=True)
class TopicInput:
    number: int
    statements: list[tuple[int, str]]
    """(statement id, text), nearest the centre first."""
    centroid: np.ndarray
    spread: float


@dataclass(frozen=True)
class TopicName:
    name: str
    description: str
    call: AICall


def topic_names_problems(
    answer: dict[str, Any], topics: list[TopicInput]
) -> tuple[dict[int, tuple[str, str]], list[str]]:
    """The answers that pass the check, by topic number, and why the others failed."""
    by_number = {t.number: t for t in topics}
    centres = np.vstack([t.centroid for t in topics])
    numbers = [t.number for t in topics]
    passed: dict[int, tuple[str, str]] = {}
    problems: list[str] = []
    given = {int(item["number"]): item for item in answer.get("topics", [])}
    for number in sorted(set(by_number) - set(given)):
        problems.append(f"Topic {number} has no name.")
    candidates = []
    for number, item in sorted(given.items()):
        name = " ".join(str(item["name"]).split())
        description = " ".join(str(item["description"]).split())
        if number not in by_number:
            problems.append(f"There is no topic {number}.")
        elif not name or len(name.split()) > NAME_MAX_WORDS or len(name) > NAME_MAX_CHARS:
            problems.append(
                f"Topic {number}: the name must be 1 to {NAME_MAX_WORDS} words "
                f"and at most {NAME_MAX_CHARS} characters."
            )
        elif (
            not description
            or len(description) > DESCRIPTION_MAX_CHARS
            or len(_SENTENCE_END.findall(description)) > 1
        ):
            problems.append(
                f"Topic {number}: the description must be one sentence of at most "
                f"{DESCRIPTION_MAX_CHARS} characters."
            )
        else:
            candidates.append((number, name, description))
    if candidates:
        vectors = local_embedder().embed([f"{name}. {text}" for _, name, text in candidates])
        for (number, name, description), vector in zip(candidates, vectors, strict=True):
            sims = centres @ vector
            own = float(sims[numbers.index(number)])
            nearest = numbers[int(np.argmax(sims))]
            if own < by_number[number].spread or nearest != number:
                problems.append(
                    f"Topic {number}: \u201c{name}\u201d is not what its statements are about "
                    f"(closer to topic {nearest}, or less similar than its own statements)."
                )
            else:
                passed[number] = (name, description)
    return passed, problems


def topic_names_generate(
    *, conversation: Conversation, topics: list[TopicInput], provider: Provider
) -> dict[int, TopicName]:
    """Checked model names for the topics that earned one; {} offline (ledgered as such)."""
    if not topics:
        return {}
    payload = {
        "conversation": conversation.topic,
        "topics": [
            {
                "number": t.number,
                "statements": [text for _, text in t.statements[:STATEMENTS_PER_TOPIC]],
            }
            for t in topics
        ],
    }
    statement_ids = sorted(sid for t in topics for sid, _ in t.statements[:STATEMENTS_PER_TOPIC])
    messages: list[Any] = [
        {"role": "system", "content": TOPIC_NAMES_SYSTEM},
        {"role": "user", "content": "Name these topics:\n" + prompts.as_data(payload)},
    ]
    named: dict[int, TopicName] = {}
    for _ in range(2):
        try:
            answer = provider.chat_json(
                purpose=AIPurpose.TOPIC_NAMES,
                prompt_version=TOPIC_NAMES_VERSION,
                messages=messages,
                schema_name="topic_names",
                schema=TOPIC_NAMES_SCHEMA,
                conversation=conversation,
                statement_ids=statement_ids,
            )
        except AssistantUnavailable:
            break
        passed, problems = topic_names_problems(answer.data, topics)
        for number, (name, description) in passed.items():
            named.setdefault(number, TopicName(name, description, answer.call))
        if not problems:
            break
        ai_call_mark_gate_failed(call=answer.call, reasons=problems)
        messages = [
            *messages,
            {"role": "assistant", "content": answer.call.output},
            prompts.gate_feedback(problems),
        ]
    return named
