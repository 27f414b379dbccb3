"""Which statement a participant sees next (polis-math.md section 6).

Unvoted, accepted statements are drawn at random with weights from Polis's routing
priority. Tallies come from the live vote table, so a brand-new statement is boosted at
once; the extremity part joins in once a clustering snapshot has placed the statement.
"""

import random
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Q

from clustering.stats import Tallies, priority
from deliberation.models import Participant, Statement, StatementStatus, Vote
from deliberation.selectors.groups import statement_extremity_latest


@dataclass(frozen=True)
class Progress:
    voted: int
    available: int

    @property
    def remaining(self) -> int:
        return max(self.available - self.voted, 0)


def participant_progress(*, conversation_id: int, participant: Participant | None) -> Progress:
    """Votes cast and statements open for voting; a visitor who is not yet a participant
    (``None``) has voted on nothing."""
    accepted = Statement.objects.filter(
        conversation_id=conversation_id, status=StatementStatus.ACCEPTED
    )
    voted = (
        0
        if participant is None
        else Vote.objects.filter(participant=participant, statement__in=accepted).count()
    )
    return Progress(voted=voted, available=accepted.count())


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
    unvoted = Statement.objects.filter(
        conversation_id=conversation_id, status=StatementStatus.ACCEPTED
    )
    if participant is not None:
        unvoted = unvoted.exclude(votes__participant=participant)
    candidates = list(
        unvoted.annotate(
            n_seen=Count("votes"),
            n_agree=Count("votes", filter=Q(votes__value=1)),
            n_disagree=Count("votes", filter=Q(votes__value=-1)),
        ).order_by("id")
    )
    if not candidates:
        return None
    if extremity is None:
        extremity = statement_extremity_latest(conversation_id=conversation_id)
    # The same priority function the clustering snapshot computes, fed live tallies.
    live = Tallies(
        agree=np.array([statement.n_agree for statement in candidates], dtype=np.float64),
        disagree=np.array([statement.n_disagree for statement in candidates], dtype=np.float64),
        total=np.array([statement.n_seen for statement in candidates], dtype=np.float64),
    )
    weights = priority(
        live,
        np.array([extremity.get(statement.pk, 0.0) for statement in candidates]),
        np.array([statement.is_meta for statement in candidates]),
    )
    return (rng or random.Random()).choices(candidates, weights=weights.tolist(), k=1)[0]
