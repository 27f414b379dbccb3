"""Which statement a participant sees next (polis-math.md section 6).

Unvoted, accepted statements are drawn at random with weights from Polis's routing
priority. Tallies come from the live per-statement tallies (StatementTally, kept by the vote
table's triggers), so a brand-new statement is boosted at once and a draw costs the same at
50 thousand votes as at 2 million; the extremity part joins in once a clustering snapshot
has placed the statement.
"""

import copy
import random
from dataclasses import dataclass

import numpy as np

from clustering.stats import Tallies, priority
from deliberation.models import Participant, Statement, StatementTally, Vote
from deliberation.selectors.conversations import statements_accepted
from deliberation.selectors.groups import statement_extremity_latest


@dataclass(frozen=True)
class Progress:
    voted: int
    available: int

    @property
    def remaining(self) -> int:
        return max(self.available - self.voted, 0)


@dataclass(frozen=True)
class NextCard:
    """The statement to vote on next (None: everything is voted) and the progress bar."""

    statement: Statement | None
    progress: Progress


def _voted_ids(participant: Participant | None) -> set[int]:
    # Bounded by the statements: a participant votes on each at most once (vote_unique).
    if participant is None:
        return set()
    return set(Vote.objects.filter(participant=participant).values_list("statement_id", flat=True))


def participant_progress(*, conversation_id: int, participant: Participant | None) -> Progress:
    """Votes cast and statements open for voting; a visitor who is not yet a participant
    (``None``) has voted on nothing."""
    accepted = statements_accepted(conversation_id=conversation_id)
    return Progress(voted=len(_voted_ids(participant) & accepted.keys()), available=len(accepted))


def card_next(
    *,
    conversation_id: int,
    participant: Participant | None,
    rng: random.Random | None = None,
    extremity: dict[int, float] | None = None,
    requested: int | None = None,
) -> NextCard:
    """The next statement for this participant and their progress, from one read of their
    votes. ``requested`` (a statement id) is kept when they can still vote on it."""
    accepted = statements_accepted(conversation_id=conversation_id)
    voted = _voted_ids(participant) & accepted.keys()
    progress = Progress(voted=len(voted), available=len(accepted))
    if requested in accepted and requested not in voted:
        return NextCard(statement=copy.copy(accepted[requested]), progress=progress)
    candidates = [statement for pk, statement in accepted.items() if pk not in voted]
    if not candidates:
        return NextCard(statement=None, progress=progress)
    tallies = {
        pk: (agree, disagree, passes)
        for pk, agree, disagree, passes in StatementTally.objects.filter(
            conversation_id=conversation_id
        ).values_list("statement_id", "agree", "disagree", "passes")
    }
    if extremity is None:
        extremity = statement_extremity_latest(conversation_id=conversation_id)
    counts = np.array([tallies.get(s.pk, (0, 0, 0)) for s in candidates], dtype=np.float64)
    # The same priority function the clustering snapshot computes, fed live tallies.
    live = Tallies(agree=counts[:, 0], disagree=counts[:, 1], total=counts.sum(axis=1))
    weights = priority(
        live,
        np.array([extremity.get(statement.pk, 0.0) for statement in candidates]),
        np.array([statement.is_meta for statement in candidates]),
    )
    drawn = (rng or random.Random()).choices(candidates, weights=weights.tolist(), k=1)[0]
    # A copy: the cached statement is shared by this process's later requests.
    return NextCard(statement=copy.copy(drawn), progress=progress)


def statement_next_for_participant(
    *,
    conversation_id: int,
    participant: Participant | None,
    rng: random.Random | None = None,
    extremity: dict[int, float] | None = None,
) -> Statement | None:
    """Draw the next statement for this participant, or None when all are voted.

    A visitor who is not yet a participant (``None``) draws among every accepted statement,
    so reading a conversation creates no rows. ``extremity`` maps statement ids to their
    extremity; by default it is read from the latest snapshot, when one exists.
    """
    return card_next(
        conversation_id=conversation_id, participant=participant, rng=rng, extremity=extremity
    ).statement
