"""Is a statement already in the conversation? Tiers: duplicate, probable, related, none.

Similarity is the cosine of embeddings (cached per statement) when a model is configured, else
of character n-gram TF-IDF vectors. Neither knows that "ban X" and "do not ban X" disagree, so
every pair that would be a duplicate or probable duplicate gets a stance check: the chat
model's judgement when it answers, else a local rule (negation parity, differing numbers).
A pair with another stance is at most "related".

Thresholds are per method because the two scores live on different scales; they are named
settings (``AGORA_DUPLICATE_THRESHOLDS``) and the defaults are calibrated with
``benchmarks/dedupe_eval.py`` on ``data/dedupe_pairs.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from sklearn.feature_extraction.text import TfidfVectorizer

from deliberation.assistant import prompts
from deliberation.assistant.provider import (
    AssistantUnavailable,
    FloatMatrix,
    Provider,
)
from deliberation.errors import InvalidInput
from deliberation.models import Conversation, Statement, StatementStatus
from deliberation.models.assistant import AIPurpose, DuplicateTier, Stance, StatementEmbedding

EMBEDDING = "embedding"
OFFLINE = "offline"

OFFLINE_SIMILARITY_LIMITATION = (
    "AI duplicate detection is unavailable: similar statements are found by shared wording "
    "only, so rephrased duplicates may be missed."
)
OFFLINE_STANCE_LIMITATION = (
    "The AI stance check is unavailable: opposite statements are recognised only by "
    "negation words and numbers."
)


@dataclass(frozen=True)
class Thresholds:
    duplicate: float
    probable: float
    related: float

    def tier(self, score: float) -> DuplicateTier:
        if score >= self.duplicate:
            return DuplicateTier.DUPLICATE
        if score >= self.probable:
            return DuplicateTier.PROBABLE
        if score >= self.related:
            return DuplicateTier.RELATED
        return DuplicateTier.NONE


DEFAULT_THRESHOLDS = {
    # Character n-gram TF-IDF cosine (dedupe_eval.py: duplicate precision 1.00 on the set).
    OFFLINE: Thresholds(duplicate=0.75, probable=0.5, related=0.25),
    # Embedding cosine, set for OpenAI's text-embedding-3 models; recalibrate for others.
    EMBEDDING: Thresholds(duplicate=0.85, probable=0.72, related=0.5),
}


def duplicate_thresholds(method: str) -> Thresholds:
    override = getattr(settings, "AGORA_DUPLICATE_THRESHOLDS", {}).get(method)
    return Thresholds(**override) if override else DEFAULT_THRESHOLDS[method]


@dataclass(frozen=True)
class PairVerdict:
    score: float
    tier: DuplicateTier
    stance: Stance


@dataclass(frozen=True)
class Match:
    statement: Statement
    verdict: PairVerdict


@dataclass(frozen=True)
class DuplicateCheck:
    """The statements a text resembles, most similar first, and how that was found."""

    matches: list[Match]
    method: str
    limitations: list[str]

    @property
    def tier(self) -> DuplicateTier:
        return self.matches[0].verdict.tier if self.matches else DuplicateTier.NONE

    def in_tier(self, tier: DuplicateTier) -> list[Match]:
        return [match for match in self.matches if match.verdict.tier == tier]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def tfidf_similarity(
    queries: Sequence[str], candidates: Sequence[str], ngrams: tuple[int, int] = (2, 4)
) -> FloatMatrix:
    """Cosine of character n-gram (2-4 unless told) TF-IDF vectors, fitted on both lists.

    Character n-grams within words match inflections ("ban"/"banned") and work for languages
    written without spaces, such as the Chinese of the vTaiwan conversation.
    """
    if not queries or not candidates:
        return np.zeros((len(queries), len(candidates)), dtype=np.float32)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True)
    vectorizer.fit([*queries, *candidates])
    product = vectorizer.transform(queries) @ vectorizer.transform(candidates).T
    return np.asarray(product.toarray(), dtype=np.float32)


# Grammatical negations count as one kind ("never" rewords "not"); "without" and "stop" negate
# too but not interchangeably with them.
_NEGATION_WORDS = frozenset(
    {"not", "no", "never", "cannot", "nor", "neither", "none", "nothing", "nobody"}
)
_LEXICAL_NEGATORS = frozenset({"without", "stop"})
_CJK_NEGATORS = "不沒没無无非別别勿未"
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _negations(text: str) -> Counter[str]:
    lowered = text.lower().replace("\u2019", "'")
    found: Counter[str] = Counter()
    for word in _TOKEN.findall(lowered):
        if word in _NEGATION_WORDS or word.endswith("n't"):
            found["not"] += 1
        elif word in _LEXICAL_NEGATORS:
            found[word] += 1
    found["not"] += sum(lowered.count(char) for char in _CJK_NEGATORS)
    return +found


def local_stance(a: str, b: str) -> Stance:
    """A rule of thumb for when no model can judge: statements whose negations differ
    ("ban X" and "do not ban X") are taken as opposite, and claims about different numbers
    ("$20" and "$25", "under 30" and "over 55") as different. It errs towards "not the same",
    which costs a missed duplicate rather than hiding a real disagreement."""
    if _negations(a) != _negations(b):
        return Stance.OPPOSITE
    if set(_NUMBER.findall(a)) != set(_NUMBER.findall(b)):
        return Stance.DIFFERENT
    return Stance.SAME


def _llm_stances(
    provider: Provider,
    pairs: list[tuple[str, str]],
    conversation: Conversation | None,
    statement_ids: Sequence[int],
) -> list[Stance]:
    answer = provider.chat_json(
        purpose=AIPurpose.STANCE,
        prompt_version=prompts.STANCE_VERSION,
        messages=prompts.stance_messages(pairs),
        schema_name="stance",
        schema=prompts.STANCE_SCHEMA,
        conversation=conversation,
        statement_ids=statement_ids,
    )
    by_pair = {item["pair"]: Stance(item["relation"]) for item in answer.data["pairs"]}
    if set(by_pair) != set(range(len(pairs))):
        raise AssistantUnavailable(OFFLINE_STANCE_LIMITATION)
    return [by_pair[i] for i in range(len(pairs))]


def judge_pairs(
    *,
    pairs: Sequence[tuple[str, str]],
    scores: Sequence[float],
    method: str,
    provider: Provider,
    conversation: Conversation | None,
    statement_ids: Sequence[int] = (),
) -> tuple[list[PairVerdict], list[str]]:
    """Tier every pair by its score, then check the stance of the likely duplicates."""
    thresholds = duplicate_thresholds(method)
    tiers = [thresholds.tier(score) for score in scores]
    close = [
        i
        for i, tier in enumerate(tiers)
        if tier in (DuplicateTier.DUPLICATE, DuplicateTier.PROBABLE)
    ]
    stances = [Stance.UNCHECKED] * len(pairs)
    limitations: list[str] = []
    if close:
        close_pairs = [pairs[i] for i in close]
        try:
            if not provider.online:
                raise AssistantUnavailable(OFFLINE_STANCE_LIMITATION)
            checked = _llm_stances(provider, close_pairs, conversation, statement_ids)
        except AssistantUnavailable:
            limitations.append(OFFLINE_STANCE_LIMITATION)
            checked = [local_stance(a, b) for a, b in close_pairs]
        for i, stance in zip(close, checked, strict=True):
            stances[i] = stance
            if stance != Stance.SAME:
                tiers[i] = DuplicateTier.RELATED
    verdicts = [
        PairVerdict(score=float(score), tier=tier, stance=stance)
        for score, tier, stance in zip(scores, tiers, stances, strict=True)
    ]
    return verdicts, limitations


def statement_vectors(
    *, provider: Provider, statements: Sequence[Statement], conversation: Conversation | None
) -> FloatMatrix:
    """The statements' embeddings, from the cache where the text is unchanged."""
    model = provider.embedding_model
    hashes = {statement.pk: text_hash(statement.text) for statement in statements}
    cached = {
        row.statement_id: np.frombuffer(bytes(row.vector), dtype=np.float32)
        for row in StatementEmbedding.objects.filter(statement__in=hashes, model=model)
        if row.text_hash == hashes[row.statement_id]
    }
    missing = [statement for statement in statements if statement.pk not in cached]
    if missing:
        vectors = provider.embed(
            texts=[statement.text for statement in missing],
            conversation=conversation,
            statement_ids=[statement.pk for statement in missing],
        )
        # Race: two requests embedding the same statement at once both insert; ON CONFLICT
        # DO UPDATE keeps one row (both vectors are of the same text). It also replaces the
        # vector of a statement whose text was edited since it was embedded.
        StatementEmbedding.objects.bulk_create(
            [
                StatementEmbedding(
                    statement=statement,
                    model=model,
                    text_hash=hashes[statement.pk],
                    vector=vector.astype(np.float32).tobytes(),
                )
                for statement, vector in zip(missing, vectors, strict=True)
            ],
            update_conflicts=True,
            unique_fields=["statement", "model"],
            update_fields=["text_hash", "vector"],
        )
        cached.update(
            {statement.pk: vector for statement, vector in zip(missing, vectors, strict=True)}
        )
    if not statements:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack([cached[statement.pk] for statement in statements])


def similarity_matrix(
    *,
    provider: Provider,
    texts: Sequence[str],
    statements: Sequence[Statement],
    conversation: Conversation,
) -> tuple[FloatMatrix, str, list[str]]:
    """Similarity of each text (rows) to each statement, the method used and what was limited."""
    if provider.online and statements and texts:
        try:
            matrix = statement_vectors(
                provider=provider, statements=statements, conversation=conversation
            )
            queries = provider.embed(texts=list(texts), conversation=conversation)
            return queries @ matrix.T, EMBEDDING, []
        except AssistantUnavailable:
            pass
    scores = tfidf_similarity(list(texts), [statement.text for statement in statements])
    return scores, OFFLINE, [OFFLINE_SIMILARITY_LIMITATION]


def duplicate_check(
    *,
    provider: Provider,
    conversation: Conversation,
    text: str,
    include_pending: bool = False,
    limit: int = 5,
    exclude_ids: Sequence[int] = (),
) -> DuplicateCheck:
    """The conversation's statements that ``text`` resembles (tier above none), best first.

    Participants are compared with accepted statements only (pending ones are not theirs
    to see); the moderation flags also look at pending ones.
    """
    statuses = [StatementStatus.ACCEPTED]
    if include_pending:
        statuses.append(StatementStatus.PENDING)
    statements = list(
        Statement.objects.filter(conversation=conversation, status__in=statuses)
        .exclude(pk__in=exclude_ids)
        .order_by("id")
    )
    matrix, method, limitations = similarity_matrix(
        provider=provider, texts=[text], statements=statements, conversation=conversation
    )
    scores = matrix[0]
    related = duplicate_thresholds(method).related
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= related][:limit]
    chosen = [statements[i] for i in order]
    verdicts, stance_limits = judge_pairs(
        pairs=[(statement.text, text) for statement in chosen],
        scores=[float(scores[i]) for i in order],
        method=method,
        provider=provider,
        conversation=conversation,
        statement_ids=[statement.pk for statement in chosen],
    )
    matches = [
        Match(statement=statement, verdict=verdict)
        for statement, verdict in zip(chosen, verdicts, strict=True)
    ]
    # A stance-checked near-duplicate that turned out to disagree drops to "related": put
    # real duplicates first so the participant is shown the one to vote on.
    rank = list(DuplicateTier)
    matches.sort(key=lambda match: (rank.index(match.verdict.tier), -match.verdict.score))
    return DuplicateCheck(matches=matches, method=method, limitations=limitations + stance_limits)


def pair_verdicts(
    *, provider: Provider, pairs: Sequence[tuple[str, str]]
) -> tuple[list[PairVerdict], str, list[str]]:
    """Classify free-standing pairs of texts (a labelled set), with the same tiers."""
    if not pairs:
        return [], EMBEDDING if provider.online else OFFLINE, []
    texts = sorted({text for pair in pairs for text in pair})
    index = {text: i for i, text in enumerate(texts)}
    method, limitations = OFFLINE, [OFFLINE_SIMILARITY_LIMITATION]
    if provider.online:
        try:
            vectors = provider.embed(texts=texts, conversation=None)
            scores = [float(vectors[index[a]] @ vectors[index[b]]) for a, b in pairs]
            method, limitations = EMBEDDING, []
        except AssistantUnavailable:
            pass
    if method == OFFLINE:
        # One TF-IDF fit over every text in the set, so the weights reflect the whole corpus
        # as they do within a conversation.
        matrix = tfidf_similarity(texts, texts)
        scores = [float(matrix[index[a], index[b]]) for a, b in pairs]
    verdicts, stance_limits = judge_pairs(
        pairs=pairs, scores=scores, method=method, provider=provider, conversation=None
    )
    return verdicts, method, limitations + stance_limits


def read_pairs_csv(path: Path) -> list[tuple[str, str]]:
    """The ``a,b`` pairs of a CSV file (other columns, such as labels, are ignored)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"a", "b"} - set(reader.fieldnames or [])
            if missing:
                names = ", ".join(sorted(missing))
                raise InvalidInput(f"{path}: the header needs columns a and b (missing: {names}).")
            pairs = []
            for line, row in enumerate(reader, start=2):
                a, b = (row.get("a") or "").strip(), (row.get("b") or "").strip()
                if not a or not b:
                    raise InvalidInput(f"{path}, line {line}: both a and b need a statement.")
                pairs.append((a, b))
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text.") from None
    return pairs
