"""Duplicate detection: how close a new statement is to existing ones, in four tiers.

Tiers: duplicate (near-certain: a participant is asked to vote on the existing one instead),
probable ("is yours one of these?"), related, none.

Similarity is the cosine of sentence embeddings (``embeddings.py``): the local model, or an
OpenAI-compatible endpoint when one is configured. Embeddings place "ban X" and "do not ban X"
close together, so every pair that would be a duplicate or probable duplicate gets a stance
check: the chat model's judgement when it answers, else the local rules below. A pair with
another stance is at most "related", and a pair the rules are unsure of at most "probable".

Thresholds are per source of vectors because each model has its own scale; they are named
settings (``AGORA_DUPLICATE_THRESHOLDS``) and the defaults are tuned with
``benchmarks/dedupe_eval.py`` on the tuning half of ``benchmarks/data/meaning_pairs.csv``
(the other half is the one reported).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from deliberation.assistant import prompts
from deliberation.assistant.embeddings import (
    ENDPOINT,
    LOCAL,
    LOCAL_MODEL,
    local_embedder,
    uses_endpoint,
)
from deliberation.assistant.provider import AssistantUnavailable, FloatMatrix, Provider
from deliberation.errors import InvalidInput
from deliberation.models import Conversation, Statement, StatementStatus
from deliberation.models.assistant import AIPurpose, DuplicateTier, Stance, StatementEmbedding

ENDPOINT_EMBEDDING_LIMITATION = (
    "The embeddings endpoint did not answer: similarity comes from the local model."
)
OFFLINE_STANCE_LIMITATION = (
    "The AI stance check is unavailable: opposite statements are recognised by local rules "
    "(negations, common antonyms, swapped comparisons and numbers) only."
)
# Who judged the stance: shown beside every duplicate label.
STANCE_BY_MODEL = "llm"
STANCE_BY_RULES = "rules"


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
    # all-MiniLM-L6-v2 int8 cosine, tuned on the tuning half of meaning_pairs.csv.
    LOCAL: Thresholds(duplicate=0.80, probable=0.50, related=0.35),
    # Set for OpenAI's text-embedding-3 models; recalibrate with dedupe_eval.py for others.
    ENDPOINT: Thresholds(duplicate=0.85, probable=0.72, related=0.5),
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
    """Where the vectors came from (``local`` or ``endpoint``)."""
    stance_by: str
    """Who judged the stance of the close pairs: the chat model or the local rules."""
    limitations: list[str]
    vector: FloatMatrix | None = None
    """The text's own embedding (model ``vector_model``), stored with the statement it
    becomes so that it is computed once."""
    vector_model: str = ""

    @property
    def tier(self) -> DuplicateTier:
        return self.matches[0].verdict.tier if self.matches else DuplicateTier.NONE

    @property
    def judged_by(self) -> str:
        """The ``DuplicateFlag.method`` label: vectors and stance judge, e.g. ``local+rules``."""
        return f"{self.method}+{self.stance_by}"

    def in_tier(self, tier: DuplicateTier) -> list[Match]:
        return [match for match in self.matches if match.verdict.tier == tier]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Offline stance rules. A statement is read as signed claims: every word of an antonym family
# (allow/ban, legal/illegal, increase/decrease, more/less, help/hurt...) stands for its
# family's root with a sign, and a negation ("not", "never", "no", "stop", "n't"...) flips
# the sign of the next such word in its clause or, when the clause has none, makes its next
# content word a negated claim ("not free": pay; "don't trust": trust with a minus). Two
# statements are opposite when they give a root both signs. A negated claim that the other
# statement does not mention leaves the rules unsure (the pair is then at most "probable"):
# they never call a pair "same" because negation counts match ("will not hurt" and "will
# hurt ..., and I don't think" both have one, about different things).
_NEGATORS = frozenset(
    {
        "not", "no", "never", "cannot", "nor", "neither", "none", "nothing", "nobody",
        "without", "stop", "ne", "pas", "jamais", "nunca", "nicht", "kein", "keine", "keinen",
        "nie", "niemand", "nadie",
    }
)  # fmt: skip
_CJK_NEGATORS = "不沒没無无非別别勿未"
# Words between a negation and what it negates ("not BE free", "don't HAVE TO pay"), and
# words that never tell two claims apart.
_FILLER = frozenset(
    {
        "be", "been", "being", "is", "are", "was", "were", "have", "has", "had", "to", "do",
        "does", "did", "a", "an", "the", "any", "longer", "need", "needs", "should", "must",
        "will", "would", "can", "ca", "wo", "could", "may", "might", "i", "we", "they", "it",
        "really", "very", "too", "even", "ever", "get", "allowed", "able", "one", "for",
        "of", "in", "on", "at", "by", "from", "with", "that", "this", "there", "their", "its",
        "our", "my", "your", "so", "much", "many", "all", "yet", "just",
    }
)  # fmt: skip
_CLAUSE_END = frozenset({"and", "but", "or", "because", "while", "although", "if", "than"})
_NEGATION_REACH = 5
# (root, positive words, negative words); a word belongs to one family.
_FAMILIES = (
    (
        "allow",
        "allow permit legal legalise legalize accept approve encourage support agree favour "
        "favor welcome permitted",
        "ban prohibit illegal forbid outlaw reject block discourage oppose disagree against "
        "prohibited forbidden refuse",
    ),
    (
        "more",
        "more increase raise rise up higher expand add grow extend boost aumentar augmenter "
        "erhöhen mehr",
        "less fewer decrease reduce cut lower down fall shrink remove drop slash decline "
        "reducir bajar baisser diminuer senken weniger",
    ),
    (
        "good",
        "good better best help benefit improve success successful effective safe fair "
        "responsible strengthen positive helpful beneficial",
        "bad worse worst hurt harm damage failure fail ineffective unsafe unfair irresponsible "
        "weaken negative harmful dangerous",
    ),
    ("pay", "pay charge charged fee fees paid pagar payer zahlen", "free gratis gratuit kostenlos"),
    ("true", "true right correct", "false wrong incorrect"),
)
# "X is cheaper THAN Y", "X should act BEFORE Y": which side is which carries the claim.
_PIVOTS = ("than", "before")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+(?:[.,]\d+)?|[.,;:!?]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _stem(word: str) -> str:
    """A crude suffix strip, the same for both texts: "banned" and "ban", "raising" and
    "raise" meet; it need not give real roots."""
    for suffix in ("ions", "ion", "ing", "ed", "es", "s", "e"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


_POLARITY = {
    _stem(word): (root, sign)
    for root, positive, negative in _FAMILIES
    for sign, words in ((1, positive), (-1, negative))
    for word in words.split()
}


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for token in _WORD.findall(text.lower().replace("\u2019", "'")):
        if any("\u3400" <= char <= "\u9fff" for char in token):
            # A run of Chinese characters is one \w token: each character is a word here.
            tokens.extend(token)
        elif token.endswith("n't"):
            tokens.extend([token[:-3], "not"])
        else:
            tokens.append(token)
    return tokens


def _is_negator(token: str) -> bool:
    return token in _NEGATORS or (len(token) == 1 and token in _CJK_NEGATORS)


def _is_word(token: str) -> bool:
    return token.isalnum() and token not in _CLAUSE_END


@dataclass(frozen=True)
class _Claims:
    signs: dict[str, set[int]]
    """Root (antonym family, or a negated word's stem) to the signs the text gives it."""
    negated_words: set[str]
    words: set[str]
    tokens: list[str]


def _claims(text: str) -> _Claims:
    tokens = _tokens(text)
    flipped: set[int] = set()
    negated_words: set[str] = set()
    for i, token in enumerate(tokens):
        if not _is_negator(token):
            continue
        content: int | None = None
        for j in range(i + 1, min(i + 1 + _NEGATION_REACH, len(tokens))):
            if not _is_word(tokens[j]):
                break
            if _stem(tokens[j]) in _POLARITY:
                flipped.add(j)
                content = None
                break
            if content is None and tokens[j] not in _FILLER and not _is_negator(tokens[j]):
                content = j
        if content is not None:
            negated_words.add(_stem(tokens[content]))
    signs: dict[str, set[int]] = {word: {-1} for word in negated_words}
    for i, token in enumerate(tokens):
        polar = _POLARITY.get(_stem(token))
        if polar is not None:
            root, sign = polar
            signs.setdefault(root, set()).add(-sign if i in flipped else sign)
    words = {_stem(token) for token in tokens if _is_word(token)}
    return _Claims(signs=signs, negated_words=negated_words, words=words, tokens=tokens)


def _sides(claims: _Claims, pivot: str) -> tuple[set[str], set[str]]:
    """What is compared: the content words before the pivot, and the words right after it
    (up to the next filler word: "than planes FOR short trips")."""
    at = claims.tokens.index(pivot)

    def content(token: str) -> bool:
        return _is_word(token) and token not in _FILLER and _stem(token) not in _POLARITY

    left = {_stem(t) for t in claims.tokens[:at] if content(t)}
    right: set[str] = set()
    for token in claims.tokens[at + 1 :]:
        if not content(token):
            if right:
                break
            continue
        right.add(_stem(token))
    return left, right


def _swapped(a: _Claims, b: _Claims) -> bool:
    """Whether both compare the same two things the other way round ("trams are cheaper
    than buses" and "buses are cheaper than trams")."""
    for pivot in _PIVOTS:
        if pivot in a.tokens and pivot in b.tokens:
            left_a, right_a = _sides(a, pivot)
            left_b, right_b = _sides(b, pivot)
            if left_a & right_b and right_a & left_b:
                return True
    return False


@dataclass(frozen=True)
class StanceRuling:
    stance: Stance
    sure: bool
    """False when a negation in one text has nothing to answer it in the other."""


def local_stance_ruling(a: str, b: str) -> StanceRuling:
    """The local rules' stance for a pair; they err towards "not the same", which costs a
    missed duplicate rather than hiding a real disagreement."""
    claims_a, claims_b = _claims(a), _claims(b)
    unsure = False
    for root in claims_a.signs.keys() | claims_b.signs.keys():
        signs_a = claims_a.signs.get(root)
        signs_b = claims_b.signs.get(root)
        if signs_a is None or signs_b is None:
            # A negated word the other text states plainly: "not free" / "free".
            one, other = (claims_a, claims_b) if signs_b is None else (claims_b, claims_a)
            if root in one.negated_words:
                if root in other.words:
                    return StanceRuling(Stance.OPPOSITE, sure=True)
                unsure = True
            continue
        if len(signs_a) == 1 and len(signs_b) == 1 and signs_a != signs_b:
            return StanceRuling(Stance.OPPOSITE, sure=True)
        if signs_a != signs_b:
            unsure = True
    if _swapped(claims_a, claims_b):
        return StanceRuling(Stance.OPPOSITE, sure=True)
    if set(_NUMBER.findall(a)) != set(_NUMBER.findall(b)):
        return StanceRuling(Stance.DIFFERENT, sure=True)
    return StanceRuling(Stance.SAME, sure=not unsure)


def local_stance(a: str, b: str) -> Stance:
    return local_stance_ruling(a, b).stance


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
) -> tuple[list[PairVerdict], str, list[str]]:
    """Tier every pair by its score, then check the stance of the likely duplicates.

    Returns the verdicts, who judged the stance (``llm`` or ``rules``) and the limitations.
    """
    thresholds = duplicate_thresholds(method)
    tiers = [thresholds.tier(score) for score in scores]
    close = [
        i
        for i, tier in enumerate(tiers)
        if tier in (DuplicateTier.DUPLICATE, DuplicateTier.PROBABLE)
    ]
    stances = [Stance.UNCHECKED] * len(pairs)
    limitations: list[str] = []
    stance_by = STANCE_BY_RULES
    if close:
        close_pairs = [pairs[i] for i in close]
        try:
            if not provider.online:
                raise AssistantUnavailable(OFFLINE_STANCE_LIMITATION)
            rulings = [
                StanceRuling(stance, sure=True)
                for stance in _llm_stances(provider, close_pairs, conversation, statement_ids)
            ]
            stance_by = STANCE_BY_MODEL
        except AssistantUnavailable:
            limitations.append(OFFLINE_STANCE_LIMITATION)
            rulings = [local_stance_ruling(a, b) for a, b in close_pairs]
        for i, ruling in zip(close, rulings, strict=True):
            stances[i] = ruling.stance
            if ruling.stance != Stance.SAME:
                tiers[i] = DuplicateTier.RELATED
            elif not ruling.sure:
                tiers[i] = DuplicateTier.PROBABLE
    verdicts = [
        PairVerdict(score=float(score), tier=tier, stance=stance)
        for score, tier, stance in zip(scores, tiers, stances, strict=True)
    ]
    return verdicts, stance_by, limitations


Embed = Callable[[list[str], list[int]], FloatMatrix]


def _vector_source(provider: Provider, conversation: Conversation | None) -> tuple[str, str, Embed]:
    """(method, model name, embedding function) of the configured vectors."""
    if uses_endpoint(provider):

        def endpoint(texts: list[str], ids: list[int]) -> FloatMatrix:
            return provider.embed(texts=texts, conversation=conversation, statement_ids=ids)

        return ENDPOINT, provider.embedding_model, endpoint
    return LOCAL, LOCAL_MODEL, lambda texts, ids: local_embedder().embed(texts)


def _local_source() -> tuple[str, str, Embed]:
    return LOCAL, LOCAL_MODEL, lambda texts, ids: local_embedder().embed(texts)


def statement_vectors_store(
    *, statements: Sequence[Statement], model: str, vectors: FloatMatrix
) -> None:
    """Keep the statements' vectors by ``model``, so each is computed once."""
    # Race: two requests embedding the same statement at once both insert; ON CONFLICT
    # DO UPDATE keeps one row (both vectors are of the same text). It also replaces the
    # vector of a statement whose text was edited since it was embedded.
    StatementEmbedding.objects.bulk_create(
        [
            StatementEmbedding(
                statement=statement,
                model=model,
                text_hash=text_hash(statement.text),
                vector=np.asarray(vector, dtype=np.float32).tobytes(),
            )
            for statement, vector in zip(statements, vectors, strict=True)
        ],
        update_conflicts=True,
        unique_fields=["statement", "model"],
        update_fields=["text_hash", "vector"],
    )


def _statement_vectors(statements: Sequence[Statement], model: str, embed: Embed) -> FloatMatrix:
    """The statements' vectors, from the store where the text is unchanged."""
    hashes = {statement.pk: text_hash(statement.text) for statement in statements}
    cached = {
        row.statement_id: np.frombuffer(bytes(row.vector), dtype=np.float32)
        for row in StatementEmbedding.objects.filter(statement__in=hashes, model=model)
        if row.text_hash == hashes[row.statement_id]
    }
    missing = [statement for statement in statements if statement.pk not in cached]
    if missing:
        vectors = embed([s.text for s in missing], [s.pk for s in missing])
        statement_vectors_store(statements=missing, model=model, vectors=vectors)
        cached.update({s.pk: vector for s, vector in zip(missing, vectors, strict=True)})
    if not statements:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack([cached[statement.pk] for statement in statements])


def local_statement_vectors(statements: Sequence[Statement]) -> FloatMatrix:
    """The local model's vectors of the statements (stored, computed once each)."""
    _, model, embed = _local_source()
    return _statement_vectors(statements, model, embed)


@dataclass(frozen=True)
class Similarity:
    matrix: FloatMatrix
    """Cosine of each text (rows) with each statement (columns)."""
    queries: FloatMatrix
    method: str
    model: str
    limitations: list[str]


def similarity_matrix(
    *,
    provider: Provider,
    texts: Sequence[str],
    statements: Sequence[Statement],
    conversation: Conversation | None,
) -> Similarity:
    """How close each text is to each statement in meaning. Texts and statements are always
    embedded by the same model: an endpoint failing halfway sends both to the local one."""
    method, model, embed = _vector_source(provider, conversation)
    limitations: list[str] = []
    try:
        matrix = _statement_vectors(statements, model, embed)
        queries = embed(list(texts), []) if texts else np.zeros((0, 0), dtype=np.float32)
    except AssistantUnavailable:
        if method == LOCAL:
            raise
        method, model, embed = _local_source()
        limitations.append(ENDPOINT_EMBEDDING_LIMITATION)
        matrix = _statement_vectors(statements, model, embed)
        queries = embed(list(texts), []) if texts else np.zeros((0, 0), dtype=np.float32)
    if not len(texts) or not statements:
        scores = np.zeros((len(texts), len(statements)), dtype=np.float32)
    else:
        scores = (queries @ matrix.T).astype(np.float32)
    return Similarity(
        matrix=scores, queries=queries, method=method, model=model, limitations=limitations
    )


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
    similarity = similarity_matrix(
        provider=provider, texts=[text], statements=statements, conversation=conversation
    )
    scores = similarity.matrix[0]
    related = duplicate_thresholds(similarity.method).related
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= related][:limit]
    chosen = [statements[i] for i in order]
    verdicts, stance_by, stance_limits = judge_pairs(
        pairs=[(statement.text, text) for statement in chosen],
        scores=[float(scores[i]) for i in order],
        method=similarity.method,
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
    return DuplicateCheck(
        matches=matches,
        method=similarity.method,
        stance_by=stance_by,
        limitations=similarity.limitations + stance_limits,
        vector=similarity.queries[0] if len(similarity.queries) else None,
        vector_model=similarity.model,
    )


def pair_verdicts(
    *, provider: Provider, pairs: Sequence[tuple[str, str]]
) -> tuple[list[PairVerdict], str, list[str]]:
    """Classify free-standing pairs of texts (a labelled set), with the same tiers."""
    method, _, embed = _vector_source(provider, None)
    if not pairs:
        return [], method, []
    texts = sorted({text for pair in pairs for text in pair})
    index = {text: i for i, text in enumerate(texts)}
    limitations: list[str] = []
    try:
        vectors = embed(texts, [])
    except AssistantUnavailable:
        if method == LOCAL:
            raise
        method, _, embed = _local_source()
        limitations.append(ENDPOINT_EMBEDDING_LIMITATION)
        vectors = embed(texts, [])
    scores = [float(vectors[index[a]] @ vectors[index[b]]) for a, b in pairs]
    verdicts, _, stance_limits = judge_pairs(
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
