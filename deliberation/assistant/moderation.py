"""Advisory moderation flags for a participant's statement: off-topic, abusive, spam.

The flags point moderators at what to read first; they never accept or reject anything. The
chat model judges all three when it answers (the statement goes to it as delimited data).
Offline, or when the model fails, simple documented heuristics stand in, labelled as such:

- spam: a link (also spelled out, "example dot com"), a character repeated 5+ times in a
  row, shouting (mostly capital letters, or a run of capitalised words and "!!!"), sales
  language ("buy", "cheap", "discount", "order now"...), or an author posting the same
  claim again (2+ earlier statements of theirs at the duplicate check's "probable"
  similarity of the local embedding model or more);
- off-topic: the statement's best embedding similarity (the local model's) to the topic
  and description and the accepted statements is far below what those statements score
  among themselves: under 0.6 x the 10th percentile of the accepted statements'
  leave-one-out best similarity. The bar is relative so that it adapts to how varied a
  conversation is. It needs 20 accepted statements; with fewer it does not judge. Measured
  on the biodiversity Polis conversation (its first 40 accepted statements as the
  conversation; tests/assistant/test_moderation.py): it flags under 5% of the held-out
  statements and at least 90% of vTaiwan's Chinese ones; English statements of another
  conversation on a neighbouring theme (Seattle's wage) mostly pass. The model is
  English-trained, so the flag's confidence stays low;
- abusive: not judged. Abuse depends on context, irony and reclaimed words that a word list
  gets wrong both ways (and in one language only), and a wrong "abusive" label can silence a
  minority view; offline the screening says that abuse was not checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deliberation.assistant import prompts
from deliberation.assistant.duplicates import duplicate_thresholds, local_statement_vectors
from deliberation.assistant.embeddings import LOCAL, local_embedder
from deliberation.assistant.ledger import ai_call_mark_gate_failed
from deliberation.assistant.provider import AssistantUnavailable, FloatMatrix, Provider
from deliberation.models import Statement, StatementStatus
from deliberation.models.assistant import AICall, AIPurpose, FlagSource, ModerationFlagKind

ABUSE_NOT_JUDGED = "Abuse was not checked: judging it needs the AI model."
TOO_LITTLE_TOPIC = (
    "Off-topic was not checked: the heuristic needs at least "
    "{n} accepted statements to know what the conversation is about."
)
HEURISTIC_NOTE = "Flags from local rules and the local embedding model (no chat model ran)."

REASON_MAX_LENGTH = 300
# A flag the model is less sure of than this is not raised: it would only add noise.
MIN_CONFIDENCE = 0.3
TOPIC_MIN_REFERENCES = 20
# The newest accepted statements stand for the conversation: the bar compares every pair of
# them, which would grow with the square of a large conversation.
TOPIC_MAX_REFERENCES = 200
TOPIC_QUANTILE = 0.1
TOPIC_FACTOR = 0.6
# The model sees this many accepted statements to learn the topic, and of the author's own.
PROMPT_ACCEPTED = 20
PROMPT_AUTHOR_OWN = 5
# The author's earlier statements the repeated-pattern check compares with.
AUTHOR_RECENT = 100

_TLD = r"(?:com|net|org|io|ru|cn|info|biz|xyz|ly|shop|store|co)"
_LINK = re.compile(rf"https?://|www\.|\b[\w-]+\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*{_TLD}\b", re.I)
_SALES = re.compile(
    r"\b(?:buy|cheap|discount|sale|order now|free shipping|best price|deal|offer|promo|"
    r"click here|limited time|earn \$?\d+|visit (?:us|our))\b",
    re.I,
)
_SHOUTED_WORDS = re.compile(r"\b[A-Z]{2,}\b(?:\s+\b[A-Z]{2,}\b){1,}")
_REPEATED_CHAR = re.compile(r"(\S)\1{4,}")
_SHOUT_MIN_LETTERS = 12
_SHOUT_SHARE = 0.8
_AUTHOR_REPEATS = 2


@dataclass(frozen=True)
class FlagVerdict:
    kind: ModerationFlagKind
    reason: str
    confidence: float


@dataclass(frozen=True)
class ScreeningResult:
    flags: list[FlagVerdict]
    source: FlagSource
    limitations: list[str]
    call: AICall | None


def _combined(signals: Sequence[tuple[str, float]]) -> tuple[str, float]:
    """Independent signals add up: 1 - the product of each one's miss."""
    miss = 1.0
    for _, confidence in signals:
        miss *= 1 - confidence
    return "; ".join(reason for reason, _ in signals), round(min(1 - miss, 0.95), 2)


def spam_signals(text: str, author_texts: Sequence[str]) -> list[tuple[str, float]]:
    signals = []
    if _LINK.search(text):
        signals.append(("contains a link", 0.5))
    if _REPEATED_CHAR.search(text):
        signals.append(("a character repeated many times", 0.4))
    cased = [char for char in text if char.isalpha() and char.lower() != char.upper()]
    shouting = sum(char.isupper() for char in cased) >= _SHOUT_SHARE * len(cased)
    if (len(cased) >= _SHOUT_MIN_LETTERS and shouting) or (
        _SHOUTED_WORDS.search(text) and "!!" in text
    ):
        signals.append(("written in capital letters", 0.3))
    sales = sorted({match.lower() for match in _SALES.findall(text)})
    if sales:
        signals.append((f"sales language ({', '.join(sales)})", 0.4))
    if author_texts:
        similar = local_embedder().embed([text]) @ local_embedder().embed(author_texts).T
        repeats = int((similar[0] >= duplicate_thresholds(LOCAL).probable).sum())
        if repeats >= _AUTHOR_REPEATS:
            signals.append((f"the author posted {repeats} very similar statements before", 0.6))
    return signals


def off_topic_score(text: str, topic: str, accepted: FloatMatrix) -> tuple[float, float] | None:
    """The statement's best similarity in meaning to the conversation (the topic and the
    accepted statements' vectors), and the bar below which it is off-topic; None when there
    are too few accepted statements to set the bar."""
    if len(accepted) < TOPIC_MIN_REFERENCES:
        return None
    query, topic_vector = local_embedder().embed([text, topic])
    references = np.vstack([topic_vector, accepted])
    among = accepted @ references.T
    # Leave one out: an accepted statement's own row would match itself perfectly.
    among[np.arange(len(accepted)), np.arange(1, len(accepted) + 1)] = -1
    bar = TOPIC_FACTOR * float(np.quantile(among.max(axis=1), TOPIC_QUANTILE))
    score = float((references @ query).max())
    return score, bar


def heuristic_flags(
    *,
    text: str,
    topic: str,
    accepted: Sequence[str],
    author_texts: Sequence[str],
    accepted_vectors: FloatMatrix | None = None,
) -> tuple[list[FlagVerdict], list[str]]:
    """``accepted_vectors``: the stored local vectors of ``accepted``, when the caller has
    them; else they are computed here."""
    flags = []
    limitations = [HEURISTIC_NOTE, ABUSE_NOT_JUDGED]
    signals = spam_signals(text, author_texts)
    if signals:
        reason, confidence = _combined(signals)
        flags.append(FlagVerdict(ModerationFlagKind.SPAM, reason.capitalize(), confidence))
    topical = None
    if len(accepted) >= TOPIC_MIN_REFERENCES:
        if accepted_vectors is None:
            accepted_vectors = local_embedder().embed(accepted)
        topical = off_topic_score(text, topic, accepted_vectors)
    if topical is None:
        limitations.append(TOO_LITTLE_TOPIC.format(n=TOPIC_MIN_REFERENCES))
    else:
        score, bar = topical
        if score < bar:
            confidence = round(0.3 + 0.3 * (1 - score / bar), 2)
            flags.append(
                FlagVerdict(
                    ModerationFlagKind.OFF_TOPIC,
                    f"Far in meaning from the topic and the accepted statements "
                    f"(similarity {score:.3f}, bar {bar:.3f})",
                    confidence,
                )
            )
    return flags, limitations


def _llm_flags(
    provider: Provider, statement: Statement, accepted: list[str], author_texts: list[str]
) -> tuple[list[FlagVerdict], AICall]:
    conversation = statement.conversation
    payload = {
        "topic": conversation.topic,
        "description": conversation.description,
        "accepted_statements": accepted[-PROMPT_ACCEPTED:],
        "authors_earlier_statements": author_texts[-PROMPT_AUTHOR_OWN:],
        "new_statement": statement.text,
    }
    answer = provider.chat_json(
        purpose=AIPurpose.MODERATION_FLAGS,
        prompt_version=prompts.MODERATION_VERSION,
        messages=prompts.moderation_messages(payload),
        schema_name="moderation_flags",
        schema=prompts.MODERATION_SCHEMA,
        conversation=conversation,
        statement_ids=[statement.pk],
    )
    out_of_range = [
        kind for kind in ModerationFlagKind if not 0 <= answer.data[kind.value]["confidence"] <= 1
    ]
    if out_of_range:
        # Valid JSON, but not a probability: refuse it like the summaries' gate does, so the
        # cache never serves it again.
        ai_call_mark_gate_failed(
            call=answer.call,
            reasons=[f"{kind.value}: confidence outside 0..1" for kind in out_of_range],
        )
        raise AssistantUnavailable("The AI model's moderation flags were not usable.")
    flags = [
        FlagVerdict(
            kind,
            str(verdict["reason"]).strip()[:REASON_MAX_LENGTH],
            round(float(verdict["confidence"]), 2),
        )
        for kind in ModerationFlagKind
        if (verdict := answer.data[kind.value])["applies"]
        and verdict["confidence"] >= MIN_CONFIDENCE
    ]
    return flags, answer.call


def screen_statement(*, provider: Provider, statement: Statement) -> ScreeningResult:
    """The flags of one statement: the model's, else the heuristics' with what they skip."""
    newest_first = (
        Statement.objects.filter(
            conversation_id=statement.conversation_id, status=StatementStatus.ACCEPTED
        )
        .exclude(pk=statement.pk)
        .order_by("-id")
    )
    accepted_statements = list(newest_first[:TOPIC_MAX_REFERENCES])[::-1]
    accepted = [item.text for item in accepted_statements]
    author_texts = (
        list(
            Statement.objects.filter(
                author_participant_id=statement.author_participant_id, id__lt=statement.pk
            )
            .order_by("-id")
            .values_list("text", flat=True)[:AUTHOR_RECENT]
        )[::-1]
        if statement.author_participant_id is not None
        else []
    )
    limitations: list[str] = []
    try:
        flags, call = _llm_flags(provider, statement, accepted, author_texts)
        return ScreeningResult(flags=flags, source=FlagSource.LLM, limitations=[], call=call)
    except AssistantUnavailable as unavailable:
        limitations.append(unavailable.limitation)
    conversation = statement.conversation
    flags, skipped = heuristic_flags(
        text=statement.text,
        topic=f"{conversation.topic}\n{conversation.description}",
        accepted=accepted,
        accepted_vectors=local_statement_vectors(accepted_statements)
        if len(accepted_statements) >= TOPIC_MIN_REFERENCES
        else None,
        author_texts=author_texts,
    )
    return ScreeningResult(
        flags=flags, source=FlagSource.HEURISTIC, limitations=limitations + skipped, call=None
    )
