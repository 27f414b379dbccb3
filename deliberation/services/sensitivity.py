"""The report's sensitivity line: would the outcome differ without the flagged participants?

Each snapshot run clusters its votes a second time without the participants the abuse
signals flag (bursts of near-identical voters, ``selectors.moderation.vote_bursts``, over the
whole conversation), and keeps the comparison in the snapshot's results. A reader of the
report then sees whether a coordinated bloc changed the number of groups or the statements
everyone shares. Computed once per run, from the very votes the run used; never per request.
"""

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from django.core.cache import cache

from clustering import Analysis, analyze
from deliberation.models import Conversation
from deliberation.selectors.moderation import vote_bursts

logger = logging.getLogger(__name__)

# How many of the top consensus statements are compared (the report lists the first ones).
TOP_CONSENSUS = 10
FLAGGED_CACHE_S = 300


def flagged_participants(*, conversation_id: int) -> list[int]:
    """Participants the abuse signals flag, over the conversation's whole life.

    Cached for ``FLAGGED_CACHE_S``: the burst scan compares up to 3,000 participants pairwise
    (0.5 to 1.3 s for vtaiwan's 1,918), and runs follow each other every few seconds under
    load; a bloc a few minutes old is flagged by the next run after the cache expires.
    """
    conversation = Conversation.objects.only("pk", "created_at").get(pk=conversation_id)
    # The creation time keeps a recreated database (tests, a restored backup) from reading
    # another conversation's list under a reused id.
    key = f"agora:flagged:v1:{conversation_id}:{conversation.created_at.timestamp()}"
    flagged: list[int] | None = cache.get(key)
    if flagged is None:
        bursts = vote_bursts(conversation=conversation, since=conversation.created_at)
        flagged = sorted({pk for burst in bursts for pk in burst.participant_ids})
        cache.set(key, flagged, FLAGGED_CACHE_S)
    return flagged


def top_consensus(analysis: Analysis) -> list[int]:
    """Statement ids by group-aware consensus, highest first, as the report ranks them:
    meta and moderated-out statements left out, ties by id."""
    stats = analysis.statements
    eligible = ~(stats.moderated_out | stats.meta) & ~np.isnan(stats.gac_norm)
    ids = stats.ids[eligible]
    order = np.lexsort((ids, -stats.gac_norm[eligible]))
    return [int(pk) for pk in ids[order][:TOP_CONSENSUS]]


def sensitivity_compute(
    *,
    votes: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8]],
    moderated_out: list[int],
    meta: list[int],
    excluded: list[int],
    previous_state: dict[str, Any] | None,
    flagged: list[int],
    analysis: Analysis,
) -> dict[str, Any]:
    """The comparison stored as ``results["sensitivity"]``.

    Only flagged people who count (voted, not already excluded) are taken out; with none,
    nothing is recomputed. The second run starts from the same previous state as the first,
    so the two differ by the flagged rows alone.
    """
    counted = np.setdiff1d(np.intersect1d(flagged, votes[0]), excluded)
    if not len(counted):
        return {"flagged": 0}
    comparison: dict[str, Any] = {
        "flagged": len(counted),
        "k": analysis.k,
        "top_consensus": top_consensus(analysis),
    }
    left_out = np.union1d(counted, np.asarray(excluded, dtype=np.int64))
    if np.isin(votes[0], left_out).all():
        # Everyone who voted was flagged: without them there is nothing to cluster.
        return comparison | {"k_without": 0, "top_consensus_without": []}
    try:
        without = analyze(
            votes,
            moderated_out=moderated_out,
            meta=meta,
            excluded=left_out.tolist(),
            previous_state=previous_state,
        )
    except Exception:
        # The comparison is a footnote to the groups: it must never fail the run itself.
        logger.exception("sensitivity run failed; the report will show no sensitivity line")
        return comparison | {"unavailable": True}
    return comparison | {
        "k_without": without.k,
        "top_consensus_without": top_consensus(without),
    }
