"""What moderators see: their conversations, the queue, participants, abuse signals, the log."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from deliberation.errors import NotFound
from deliberation.models import (
    AuditLogEntry,
    Conversation,
    Participant,
    RateLimitHit,
    Statement,
    StatementStatus,
    Vote,
    VoteEvent,
)
from deliberation.models.assistant import DuplicateFlag, DuplicateTier, ModerationFlag
from deliberation.selectors.conversations import conversation_can_moderate

DUPLICATE_THRESHOLD = 0.55


def conversation_list_for_moderator(
    *, user: AbstractBaseUser | AnonymousUser
) -> QuerySet[Conversation]:
    """The conversations this user runs: all of them for staff."""
    if not user.is_authenticated:
        return Conversation.objects.none()
    conversations = Conversation.objects.all()
    if not getattr(user, "is_staff", False):
        conversations = conversations.filter(Q(owner=user) | Q(moderators=user)).distinct()
    return conversations.order_by("-created_at")


def conversation_get_for_moderator(
    *, slug: str, user: AbstractBaseUser | AnonymousUser
) -> Conversation:
    """A conversation this user runs; any other looks exactly like a missing one."""
    conversation = Conversation.objects.filter(slug=slug).select_related("owner").first()
    if conversation is None or not conversation_can_moderate(conversation=conversation, user=user):
        raise NotFound(f"No conversation called {slug!r} that you moderate.")
    return conversation


QUEUE_KINDS = ("seed", "meta", "participant")
# The assistant's flags the queue filters by; "duplicate" means near-certain or probable.
QUEUE_FLAGS = {
    "any": "Any AI flag",
    "duplicate": "Duplicate",
    "off_topic": "Off-topic",
    "abusive": "Abusive",
    "spam": "Spam",
}


def statement_queue(
    *,
    conversation: Conversation,
    status: str = StatementStatus.PENDING,
    kind: str = "",
    text: str = "",
    flag: str = "",
) -> QuerySet[Statement]:
    """The moderation queue: statements by status ("" for all), kind, text and the
    assistant's flags (``QUEUE_FLAGS``), with those flags, oldest first.

    Pending statements come oldest first (first come, first decided); others newest first.
    """
    statements = Statement.objects.filter(conversation=conversation)
    if status:
        statements = statements.filter(status=status)
    if kind == "seed":
        statements = statements.filter(is_seed=True)
    elif kind == "meta":
        statements = statements.filter(is_meta=True)
    elif kind == "participant":
        statements = statements.filter(author_participant__isnull=False)
    if text.strip():
        statements = statements.filter(text__icontains=text.strip())
    if flag:
        duplicate = Exists(
            DuplicateFlag.objects.filter(
                statement=OuterRef("pk"), tier__in=[DuplicateTier.DUPLICATE, DuplicateTier.PROBABLE]
            )
        )
        flagged = ModerationFlag.objects.filter(statement=OuterRef("pk"))
        if flag == "any":
            statements = statements.filter(duplicate | Exists(flagged))
        elif flag == "duplicate":
            statements = statements.filter(duplicate)
        else:
            statements = statements.filter(Exists(flagged.filter(kind=flag)))
    order = ["created_at", "id"] if status == StatementStatus.PENDING else ["-created_at", "-id"]
    return (
        statements.annotate(
            n_votes=Count("votes"),
            n_agree=Count("votes", filter=Q(votes__value=1)),
            n_disagree=Count("votes", filter=Q(votes__value=-1)),
        )
        .order_by(*order)
        # The assistant's flags, shown on each row of the page.
        .prefetch_related("duplicate_flags", "moderation_flags", "moderation_screening")
    )


def statement_get_for_moderator(*, conversation: Conversation, statement_id: int) -> Statement:
    statement = Statement.objects.filter(conversation=conversation, pk=statement_id).first()
    if statement is None:
        raise NotFound(f"No statement {statement_id} in this conversation.")
    return statement


@dataclass(frozen=True)
class Resemblance:
    statement_id: int
    text: str
    status: str
    similarity: float


def _trigrams(text_key: str) -> frozenset[str]:
    padded = f"  {text_key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def statement_resemblances(
    *, conversation: Conversation, statements: Sequence[Statement], limit: int = 3
) -> dict[int, list[Resemblance]]:
    """For each given statement, the others of its conversation whose text resembles it.

    Similarity is the Jaccard index of character trigrams of the normalised text: it catches
    resubmissions with a word or a typo changed, not paraphrases (the assistant's embedding
    flags cover those).
    """
    if not statements:
        return {}
    others = list(
        Statement.objects.filter(conversation=conversation).values_list(
            "pk", "text", "text_key", "status"
        )
    )
    grams = {pk: _trigrams(key) for pk, _, key, _ in others}
    found: dict[int, list[Resemblance]] = {}
    for statement in statements:
        mine = grams.get(statement.pk) or _trigrams(statement.text_key)
        matches = []
        for pk, text, _, status in others:
            if pk == statement.pk:
                continue
            theirs = grams[pk]
            similarity = len(mine & theirs) / len(mine | theirs)
            if similarity >= DUPLICATE_THRESHOLD:
                matches.append(Resemblance(pk, text, status, round(similarity, 2)))
        if matches:
            matches.sort(key=lambda match: -match.similarity)
            found[statement.pk] = matches[:limit]
    return found


def participant_list_for_moderator(
    *, conversation: Conversation, excluded: bool | None = None
) -> QuerySet[Participant]:
    """Participants with their activity, most active first."""
    participants = Participant.objects.filter(conversation=conversation)
    if excluded is not None:
        participants = participants.filter(excluded=excluded)
    return (
        participants.select_related("user")
        .annotate(
            n_votes=Count("votes", distinct=True),
            n_statements=Count("statements", distinct=True),
        )
        .order_by("-n_votes", "id")
    )


def participant_get_for_moderator(
    *, conversation: Conversation, participant_id: int
) -> Participant:
    participant = Participant.objects.filter(conversation=conversation, pk=participant_id).first()
    if participant is None:
        raise NotFound(f"No participant {participant_id} in this conversation.")
    return participant


def rate_limit_hits(*, conversation: Conversation) -> QuerySet[RateLimitHit]:
    return RateLimitHit.objects.filter(conversation=conversation).select_related("participant")


@dataclass(frozen=True)
class VoteBurst:
    """Participants who arrived close together and voted (nearly) the same way."""

    participant_ids: list[int]
    first_seen: datetime
    last_seen: datetime
    shared_statements: int
    similarity: float


def vote_bursts(
    *,
    conversation: Conversation,
    since: datetime | None = None,
    window: timedelta = timedelta(minutes=10),
    min_size: int = 3,
    min_votes: int = 5,
    min_similarity: float = 0.9,
    max_participants: int = 3000,
) -> list[VoteBurst]:
    """Groups of participants, new since ``since``, whose vote vectors nearly coincide.

    Two participants are linked when they joined within ``window`` of each other, each voted
    at least ``min_votes`` times, and they cast the same value on at least ``min_similarity``
    of the statements either of them voted on. Linked groups of ``min_size`` or more are a
    sign of one person or script behind several accounts. Only the newest
    ``max_participants`` are compared, which keeps the pairwise comparison bounded.
    """
    since = since or timezone.now() - timedelta(days=1)
    newcomers = list(
        Participant.objects.filter(conversation=conversation, created_at__gte=since)
        .annotate(n_votes=Count("votes"))
        .filter(n_votes__gte=min_votes)
        .order_by("-created_at")
        .values_list("pk", "created_at")[:max_participants]
    )
    if len(newcomers) < min_size:
        return []
    ids = [pk for pk, _ in newcomers]
    row = {pk: i for i, pk in enumerate(ids)}
    votes = list(
        Vote.objects.filter(participant_id__in=ids).values_list(
            "participant_id", "statement_id", "value"
        )
    )
    column = {pk: j for j, pk in enumerate(sorted({s for _, s, _ in votes}))}
    n, m = len(ids), len(column)
    by_value = {value: np.zeros((n, m), dtype=np.float32) for value in (-1, 0, 1)}
    for participant_id, statement_id, value in votes:
        by_value[value][row[participant_id], column[statement_id]] = 1.0
    voted = by_value[-1] + by_value[0] + by_value[1]
    same = sum(matrix @ matrix.T for matrix in by_value.values())
    counts = voted.sum(axis=1)
    union = counts[:, None] + counts[None, :] - voted @ voted.T
    similarity = np.divide(same, union, out=np.zeros_like(same), where=union > 0)
    seconds = np.array([created.timestamp() for _, created in newcomers])
    close = np.abs(seconds[:, None] - seconds[None, :]) <= window.total_seconds()
    linked = (similarity >= min_similarity) & close
    np.fill_diagonal(linked, False)

    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    bursts = []
    for members in groups.values():
        if len(members) < min_size:
            continue
        block = similarity[np.ix_(members, members)]
        pairs = block[np.triu_indices(len(members), k=1)]
        shared = (voted[members].min(axis=0) > 0).sum()
        times = [newcomers[i][1] for i in members]
        bursts.append(
            VoteBurst(
                participant_ids=sorted(ids[i] for i in members),
                first_seen=min(times),
                last_seen=max(times),
                shared_statements=int(shared),
                similarity=round(float(pairs.mean()), 3),
            )
        )
    bursts.sort(key=lambda burst: (-len(burst.participant_ids), burst.first_seen))
    return bursts


def audit_log(*, conversation: Conversation, action: str = "") -> QuerySet[AuditLogEntry]:
    entries = AuditLogEntry.objects.filter(conversation=conversation)
    if action:
        entries = entries.filter(action=action)
    return entries.order_by("-created_at", "-id")


def audit_counts_by_action(*, conversation: Conversation) -> dict[str, int]:
    """How many times each moderator action was taken, for the report's methodology section.

    For example ``{"statement_rejected": 23, "participant_excluded": 2}``.
    """
    rows = (
        AuditLogEntry.objects.filter(conversation=conversation)
        .values_list("action")
        .annotate(n=Count("id"))
        .order_by("action")
    )
    return dict(rows)


def statement_history(*, statement: Statement) -> QuerySet[AuditLogEntry]:
    """Everything moderators did to one statement, oldest first: its original text included."""
    return AuditLogEntry.objects.filter(
        conversation_id=statement.conversation_id, target_type="statement", target_id=statement.pk
    ).order_by("created_at", "id")


@dataclass(frozen=True)
class ActivitySeries:
    """Cumulative totals at the end of each time bucket."""

    bucket: str
    times: list[datetime]
    participants: list[int]
    votes: list[int]
    statements: list[int]


def conversation_activity(*, conversation: Conversation) -> ActivitySeries:
    """Participants, votes and statements over time, by hour for a young conversation and
    by day once it spans more than three days."""
    sources: list[QuerySet] = [
        Participant.objects.filter(conversation=conversation),
        VoteEvent.objects.filter(conversation=conversation),
        Statement.objects.filter(conversation=conversation),
    ]
    firsts = [t for t in (qs.aggregate(t=Min("created_at"))["t"] for qs in sources) if t]
    span = timezone.now() - min(firsts) if firsts else timedelta(0)
    bucket, trunc = ("hour", TruncHour) if span <= timedelta(days=3) else ("day", TruncDay)

    series: list[dict[datetime, int]] = [
        dict(
            qs.annotate(t=trunc("created_at"))
            .values_list("t")
            .annotate(n=Count("id"))
            .values_list("t", "n")
        )
        for qs in sources
    ]
    times = sorted(set().union(*series))
    totals: list[list[int]] = [[], [], []]
    for counts, running in zip(series, totals, strict=True):
        total = 0
        for t in times:
            total += counts.get(t, 0)
            running.append(total)
    return ActivitySeries(bucket, times, *totals)
