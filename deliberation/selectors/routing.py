"""Which statement a participant sees next (polis-math.md section 6).

Unvoted, accepted statements are drawn at random with weights from Polis's routing
priority. Tallies come from the live vote table, so a brand-new statement is boosted at
once; the extremity part joins in once a clustering snapshot has placed the statement.
"""

import random
from dataclasses import dataclass

from django.db.models import Count, Q

from deliberation.models import Participant, Statement, StatementStatus, Vote
from deliberation.selectors.groups import statement_extremity_latest

META_PRIORITY = 49.0


@dataclass(frozen=True)
class Progress:
    voted: int
    available: int

    @property
    def remaining(self) -> int:
        return max(self.available - self.voted, 0)


def routing_priority(*, agrees: int, disagrees: int, seen: int, extremity: float = 0.0) -> float:
    """Polis's priority: favour statements people take sides on, and new ones.

    ``importance = (1 - (P+1)/(S+2)) * (E+1) * (A+1)/(S+2)``, then
    ``priority = (importance * (1 + 8 * 2^(-S/5)))^2``.
    """
    passes = seen - agrees - disagrees
    importance = (1 - (passes + 1) / (seen + 2)) * (extremity + 1) * (agrees + 1) / (seen + 2)
    return float((importance * (1 + 8 * 2 ** (-seen / 5))) ** 2)


def participant_progress(*, participant: Participant) -> Progress:
    accepted = Statement.objects.filter(
        conversation_id=participant.conversation_id, status=StatementStatus.ACCEPTED
    )
    voted = Vote.objects.filter(participant=participant, statement__in=accepted).count()
    return Progress(voted=voted, available=accepted.count())


def statement_next_for_participant(
    *,
    participant: Participant,
    rng: random.Random | None = None,
    extremity: dict[int, float] | None = None,
) -> Statement | None:
    """Draw the next statement for this participant, or None when all are voted.

    ``extremity`` maps statement ids to their extremity; by default it is read from the
    latest snapshot, when one exists.
    """
    candidates = list(
        Statement.objects.filter(
            conversation_id=participant.conversation_id, status=StatementStatus.ACCEPTED
        )
        .exclude(votes__participant=participant)
        .annotate(
            n_seen=Count("votes"),
            n_agree=Count("votes", filter=Q(votes__value=1)),
            n_disagree=Count("votes", filter=Q(votes__value=-1)),
        )
        .order_by("id")
    )
    if not candidates:
        return None
    if extremity is None:
        extremity = statement_extremity_latest(conversation_id=participant.conversation_id)
    weights = [
        META_PRIORITY
        if statement.is_meta
        else routing_priority(
            agrees=statement.n_agree,
            disagrees=statement.n_disagree,
            seen=statement.n_seen,
            extremity=extremity.get(statement.pk, 0.0),
        )
        for statement in candidates
    ]
    return (rng or random.Random()).choices(candidates, weights=weights, k=1)[0]
