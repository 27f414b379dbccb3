"""Process metrics: did the deliberation move opinion, and who was in the room?

Pure functions over the arrays a snapshot and the vote event log already hold. Definitions
(``metrics.md``, "Process metrics"):

- conversation polarization: the vote-weighted mean over statements of
  ``Pol(c) = max_g p_g(c) - min_g p_g(c)`` (the figure every snapshot stores);
- common-ground share: among statements with at least ``min_votes`` votes, the share whose
  bridging ``B(c) = min_g p_g(c)`` is at least ``threshold`` (0.6 and 20 votes, the report's
  "common ground");
- early vs late: the common-ground share of the statements created up to a split point, and
  of those created after it;
- opinion change: a (participant, statement) pair whose last vote differs from its first;
  it moved towards the other groups when its last value is closer than its first to the
  majority (agree or disagree) of everyone in-conv outside the participant's group;
- post-stratification: weight ``target_s / sample_s`` for a respondent in stratum s, and
  Kish's effective sample size ``(sum w)^2 / sum w^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "COMMON_GROUND_BRIDGING",
    "COMMON_GROUND_MIN_VOTES",
    "OpinionChanges",
    "Poststratification",
    "common_ground_share",
    "conversation_polarization",
    "early_late_common_ground",
    "kish_effective_size",
    "opinion_changes",
    "others_majority",
    "poststratification",
    "towards_others",
    "weighted_agreement",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

COMMON_GROUND_BRIDGING = 0.6
"""Bridging at or above which a statement is common ground (``metrics.md``)."""
COMMON_GROUND_MIN_VOTES = 20
"""Votes a statement needs before it can count as common ground, or count at all."""


def conversation_polarization(polarization: FloatArray, votes: FloatArray) -> float:
    """Vote-weighted mean of the statement polarization ``max_g p_g - min_g p_g``.

    Parameters
    ----------
    polarization : ndarray of shape (m,)
        ``Pol(c)`` per statement.
    votes : ndarray of shape (m,)
        Weight per statement: its in-conv votes, 0 for statements left out (moderated out,
        meta).

    Returns
    -------
    float
        0.0 when no statement has weight.
    """
    weights = np.asarray(votes, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        return 0.0
    return float(weights @ np.nan_to_num(np.asarray(polarization, dtype=np.float64)) / total)


def common_ground_share(
    bridging: FloatArray,
    votes: FloatArray,
    *,
    threshold: float = COMMON_GROUND_BRIDGING,
    min_votes: int = COMMON_GROUND_MIN_VOTES,
) -> float | None:
    """Share of the statements with at least ``min_votes`` votes whose bridging is at least
    ``threshold``.

    Parameters
    ----------
    bridging : ndarray of shape (m,)
        ``min_g p_g(c)``; NaN counts as not common ground.
    votes : ndarray of shape (m,)
        Votes per statement (pass 0 for a statement to leave out).
    threshold, min_votes : optional

    Returns
    -------
    float or None
        None when no statement has enough votes.
    """
    counted = np.asarray(votes) >= min_votes
    if not counted.any():
        return None
    b = np.nan_to_num(np.asarray(bridging, dtype=np.float64), nan=-1.0)
    return float((b[counted] >= threshold).mean())


def early_late_common_ground(
    bridging: FloatArray,
    votes: FloatArray,
    order: IntArray,
    split: int,
    *,
    threshold: float = COMMON_GROUND_BRIDGING,
    min_votes: int = COMMON_GROUND_MIN_VOTES,
) -> tuple[float | None, float | None]:
    """Common-ground share of early statements (``order <= split``) and late ones.

    Parameters
    ----------
    bridging, votes : ndarray of shape (m,)
        As in :func:`common_ground_share`.
    order : ndarray of shape (m,)
        When each statement was created, as any increasing key (its id does).
    split : int
        The last key that counts as early.
    threshold, min_votes : optional

    Returns
    -------
    tuple of (float or None, float or None)
        ``(early, late)``.
    """
    early = np.asarray(order) <= split
    b = np.asarray(bridging, dtype=np.float64)
    v = np.asarray(votes)
    return (
        common_ground_share(b[early], v[early], threshold=threshold, min_votes=min_votes),
        common_ground_share(b[~early], v[~early], threshold=threshold, min_votes=min_votes),
    )


@dataclass(frozen=True)
class OpinionChanges:
    """Vote pairs whose last value differs from their first.

    Attributes
    ----------
    participant, statement : ndarray of shape (n,)
        The pair's ids.
    first, last : ndarray of shape (n,)
        First and last vote (+1 agree, 0 pass, -1 disagree).
    pairs : int
        (participant, statement) pairs with any vote: the denominator of the change rate.
    """

    participant: IntArray
    statement: IntArray
    first: IntArray
    last: IntArray
    pairs: int

    @property
    def participants_changed(self) -> int:
        """How many distinct participants changed at least one vote."""
        return int(np.unique(self.participant).size)

    def directions(self) -> dict[tuple[int, int], int]:
        """Count of changes per ``(first, last)``."""
        keys, counts = np.unique(np.stack([self.first, self.last]), axis=1, return_counts=True)
        return {
            (int(f), int(la)): int(n)
            for (f, la), n in zip(keys.T.tolist(), counts.tolist(), strict=True)
        }


def opinion_changes(participant: IntArray, statement: IntArray, value: IntArray) -> OpinionChanges:
    """The net vote changes in an event log.

    A pair changed when its last vote differs from its first: a vote changed and changed back
    is no change of opinion.

    Parameters
    ----------
    participant, statement, value : ndarray of shape (e,)
        The vote events in the order they were cast.

    Returns
    -------
    OpinionChanges
        Sorted by (participant, statement).
    """
    p = np.asarray(participant, dtype=np.int64)
    s = np.asarray(statement, dtype=np.int64)
    v = np.asarray(value, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if not len(p):
        return OpinionChanges(empty, empty, empty, empty, 0)
    # A stable sort by pair keeps each pair's events in time order.
    order = np.lexsort((np.arange(len(p)), s, p))
    p, s, v = p[order], s[order], v[order]
    starts = np.flatnonzero(np.r_[True, (p[1:] != p[:-1]) | (s[1:] != s[:-1])])
    ends = np.r_[starts[1:], len(p)] - 1
    changed = v[starts] != v[ends]
    return OpinionChanges(
        participant=p[starts][changed],
        statement=s[starts][changed],
        first=v[starts][changed],
        last=v[ends][changed],
        pairs=len(starts),
    )


def others_majority(agree: FloatArray, disagree: FloatArray) -> IntArray:
    """The majority position of everyone outside each group.

    Parameters
    ----------
    agree, disagree : ndarray of shape (k, m)
        In-conv tallies per group.

    Returns
    -------
    ndarray of shape (k, m)
        +1 when the other groups together agree more than they disagree, -1 when they
        disagree more, 0 on a tie (no other group voted, or an even split).
    """
    a = np.asarray(agree, dtype=np.float64)
    d = np.asarray(disagree, dtype=np.float64)
    rest = (a.sum(axis=0) - a) - (d.sum(axis=0) - d)
    return np.sign(rest).astype(np.int64)


def towards_others(first: IntArray, last: IntArray, target: IntArray) -> IntArray:
    """Whether each change moved towards ``target``: +1 closer, -1 further, 0 neither.

    A change has no direction relative to a tied target (0), which counts as neither.
    """
    f, la, t = (np.asarray(x, dtype=np.int64) for x in (first, last, target))
    closer = np.sign(np.abs(f - t) - np.abs(la - t))
    return np.where(t == 0, 0, closer).astype(np.int64)


@dataclass(frozen=True)
class Poststratification:
    """Weights that make respondents match target shares.

    Attributes
    ----------
    weights : ndarray of shape (n,)
        Per participant, mean 1 over respondents; 0 for non-respondents and for respondents
        in a stratum with no target.
    sample_share, target_share : ndarray of shape (s,)
        Each stratum's share among respondents, and its target renormalised over the strata
        that have respondents.
    missing : list of int
        Strata with a positive target and no respondent: no weight can represent them.
    effective_size : float
        Kish's effective sample size of the weights.
    """

    weights: FloatArray
    sample_share: FloatArray
    target_share: FloatArray
    missing: list[int]
    effective_size: float


def kish_effective_size(weights: FloatArray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (0.0 for no weight)."""
    w = np.asarray(weights, dtype=np.float64)
    squares = float(w @ w)
    return float(w.sum() ** 2 / squares) if squares > 0 else 0.0


def poststratification(stratum: IntArray, target: FloatArray) -> Poststratification:
    """Post-stratification weights of participants towards target stratum shares.

    Parameters
    ----------
    stratum : ndarray of shape (n,)
        Each participant's stratum index into ``target``, -1 when they did not answer.
    target : ndarray of shape (s,)
        Target share of each stratum (any positive scale; renormalised).

    Returns
    -------
    Poststratification
    """
    st = np.asarray(stratum, dtype=np.int64)
    tg = np.asarray(target, dtype=np.float64)
    answered = st >= 0
    counts = np.bincount(st[answered], minlength=len(tg)).astype(np.float64)
    n = counts.sum()
    sample_share = counts / n if n else np.zeros(len(tg))
    covered = counts > 0
    missing = [int(i) for i in np.flatnonzero((tg > 0) & ~covered)]
    covered_target = np.where(covered, tg, 0.0)
    target_share = covered_target / covered_target.sum() if covered_target.sum() else covered_target
    per_stratum = np.divide(
        target_share, sample_share, out=np.zeros(len(tg)), where=sample_share > 0
    )
    weights = np.where(answered, per_stratum[np.where(answered, st, 0)], 0.0)
    return Poststratification(
        weights=weights,
        sample_share=sample_share,
        target_share=target_share,
        missing=missing,
        effective_size=kish_effective_size(weights),
    )


def weighted_agreement(
    row: IntArray, col: IntArray, value: IntArray, weights: FloatArray, m: int
) -> tuple[FloatArray, FloatArray]:
    """Agree share per statement, as voted and re-weighted.

    Parameters
    ----------
    row, col, value : ndarray of shape (e,)
        Votes: participant row into ``weights``, statement column, value (+1/0/-1).
    weights : ndarray of shape (n,)
    m : int
        Number of statements.

    Returns
    -------
    tuple of ndarray of shape (m,)
        ``(raw, weighted)``: agrees over votes (passes count as votes), NaN without votes.
    """
    r = np.asarray(row, dtype=np.int64)
    c = np.asarray(col, dtype=np.int64)
    agree = (np.asarray(value) > 0).astype(np.float64)
    w = np.asarray(weights, dtype=np.float64)[r]

    def share(vote_weight: FloatArray) -> FloatArray:
        num = np.bincount(c, weights=vote_weight * agree, minlength=m)
        den = np.bincount(c, weights=vote_weight, minlength=m)
        return np.divide(num, den, out=np.full(m, np.nan), where=den > 0)

    return share(np.ones(len(r))), share(w)
