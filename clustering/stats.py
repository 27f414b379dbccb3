"""Per-statement statistics: representativeness, consensus and the shared metrics.

Formulas from ``polis-math.md`` sections 4-6 and ``metrics.md``; every function is vectorised
over statements (and groups), with agree = +1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# betaincinv is beta.ppf without importing scipy.stats (most of a second at start-up).
from scipy.special import betaincinv

__all__ = [
    "META_PRIORITY",
    "Z_90",
    "ConsensusStatement",
    "GroupMetrics",
    "GroupRepness",
    "RepresentativeStatement",
    "Tallies",
    "credible_interval",
    "group_metrics",
    "majority_consensus",
    "one_proportion_z",
    "priority",
    "repness",
    "select_representative",
    "two_proportion_z",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Z_90 = 1.2816
"""One-sided z threshold for 90% significance."""

_MAX_REPRESENTATIVE = 5
_MAX_CONSENSUS = 5
META_PRIORITY = 49.0
"""Fixed routing priority of meta statements."""


@dataclass(frozen=True)
class Tallies:
    """Agree / disagree / total vote counts; arrays share a shape (e.g. groups x statements).

    Attributes
    ----------
    agree, disagree, total : ndarray of float
        ``total`` counts every stored vote, passes included.
    """

    agree: FloatArray
    disagree: FloatArray
    total: FloatArray

    @property
    def passes(self) -> FloatArray:
        """Pass counts ``S - A - D``."""
        return self.total - self.agree - self.disagree

    def sum(self) -> Tallies:
        """Tallies summed over the first axis (over groups)."""
        return Tallies(self.agree.sum(axis=0), self.disagree.sum(axis=0), self.total.sum(axis=0))

    def rest(self) -> Tallies:
        """For every row, the other rows summed (the "rest" of each group)."""
        whole = self.sum()
        return Tallies(
            whole.agree - self.agree, whole.disagree - self.disagree, whole.total - self.total
        )


def one_proportion_z(successes: FloatArray, total: FloatArray) -> FloatArray:
    """``2 * sqrt(S + 1) * ((n + 1) / (S + 1) - 0.5)``: smoothed test of a share against 1/2."""
    return 2.0 * np.sqrt(total + 1.0) * ((successes + 1.0) / (total + 1.0) - 0.5)


def two_proportion_z(
    successes: FloatArray, total: FloatArray, rest_successes: FloatArray, rest_total: FloatArray
) -> FloatArray:
    """Two-proportion z test of a group against the rest, with one added to every count.

    Returns 0 where the pooled proportion is 1 (no variance).
    """
    p1 = (successes + 1.0) / (total + 1.0)
    p2 = (rest_successes + 1.0) / (rest_total + 1.0)
    pooled = (successes + rest_successes + 2.0) / (total + rest_total + 2.0)
    variance = pooled * (1.0 - pooled) * (1.0 / (total + 1.0) + 1.0 / (rest_total + 1.0))
    safe = np.where(variance > 0, variance, 1.0)
    return np.where(variance > 0, (p1 - p2) / np.sqrt(safe), 0.0)


def credible_interval(
    successes: FloatArray, total: FloatArray, level: float = 0.9
) -> tuple[FloatArray, FloatArray]:
    """Equal-tailed credible interval of the Beta(n + 1, S - n + 1) posterior of a share."""
    tail = (1.0 - level) / 2.0
    a, b = successes + 1.0, total - successes + 1.0
    return np.asarray(betaincinv(a, b, tail)), np.asarray(betaincinv(a, b, 1.0 - tail))


@dataclass(frozen=True)
class GroupRepness:
    """Polis representativeness numbers, each of shape (n_groups, n_statements).

    Attributes
    ----------
    pa, pd : ndarray
        Smoothed agree / disagree shares ``(A + 1) / (S + 2)``.
    pat, pdt : ndarray
        One-proportion z of the agree / disagree shares.
    ra, rd : ndarray
        Ratio of the group's share to the rest's.
    rat, rdt : ndarray
        Two-proportion z of the group against the rest.
    """

    pa: FloatArray
    pd: FloatArray
    pat: FloatArray
    pdt: FloatArray
    ra: FloatArray
    rd: FloatArray
    rat: FloatArray
    rdt: FloatArray

    @property
    def agree_metric(self) -> FloatArray:
        """Ranking metric of the agree direction, ``ra * rat * pa * pat``."""
        return self.ra * self.rat * self.pa * self.pat

    @property
    def disagree_metric(self) -> FloatArray:
        """Ranking metric of the disagree direction, ``rd * rdt * pd * pdt``."""
        return self.rd * self.rdt * self.pd * self.pdt


def repness(groups: Tallies) -> GroupRepness:
    """Representativeness of every statement for every group.

    Parameters
    ----------
    groups : Tallies
        Per-group tallies of shape (n_groups, n_statements).

    Returns
    -------
    GroupRepness
    """
    rest = groups.rest()
    a, d, s = groups.agree, groups.disagree, groups.total
    pa, pd = (a + 1.0) / (s + 2.0), (d + 1.0) / (s + 2.0)
    rest_pa = (rest.agree + 1.0) / (rest.total + 2.0)
    rest_pd = (rest.disagree + 1.0) / (rest.total + 2.0)
    return GroupRepness(
        pa=pa,
        pd=pd,
        pat=one_proportion_z(a, s),
        pdt=one_proportion_z(d, s),
        ra=pa / rest_pa,
        rd=pd / rest_pd,
        rat=two_proportion_z(a, s, rest.agree, rest.total),
        rdt=two_proportion_z(d, s, rest.disagree, rest.total),
    )


@dataclass(frozen=True)
class RepresentativeStatement:
    """A statement that represents a group.

    Attributes
    ----------
    statement : int
        Column index (the pipeline maps it to a statement id).
    direction : str
        ``"agree"`` or ``"disagree"``.
    p, z : float
        Smoothed share of the group voting that way and its one-proportion z.
    ratio, ratio_z : float
        Ratio to the rest and its two-proportion z.
    metric : float
        ``ratio * ratio_z * p * z``.
    n_success, n_trials : int
        Votes in that direction and all votes of the group on the statement.
    best_agree : bool
        Whether it was put first as the group's best agree statement.
    """

    statement: int
    direction: str
    p: float
    z: float
    ratio: float
    ratio_z: float
    metric: float
    n_success: int
    n_trials: int
    best_agree: bool = False


def _representative(
    rep: GroupRepness, tallies: Tallies, g: int, c: int, agree: bool, best: bool = False
) -> RepresentativeStatement:
    if agree:
        values = (rep.pa, rep.pat, rep.ra, rep.rat, rep.agree_metric, tallies.agree)
    else:
        values = (rep.pd, rep.pdt, rep.rd, rep.rdt, rep.disagree_metric, tallies.disagree)
    p, z, ratio, ratio_z, metric, success = (float(v[g, c]) for v in values)
    return RepresentativeStatement(
        statement=c,
        direction="agree" if agree else "disagree",
        p=p,
        z=z,
        ratio=ratio,
        ratio_z=ratio_z,
        metric=metric,
        n_success=int(success),
        n_trials=int(tallies.total[g, c]),
        best_agree=best,
    )


def _argmax_first(values: FloatArray, mask: BoolArray) -> int | None:
    """Index of the largest masked value, the lowest index on ties; None if the mask is empty."""
    if not np.any(mask):
        return None
    return int(np.argmax(np.where(mask, values, -np.inf)))


def _best_agree(rep: GroupRepness, tallies: Tallies, g: int, eligible: BoolArray) -> int | None:
    # Polis scans statements greedily, so its pick depends on their order; this is the same rule
    # as an order-free argmax: prefer the strongest representative agree (ratio > 1), otherwise
    # the most widely agreed statement.
    voted = eligible & ((tallies.agree[g] + tallies.disagree[g]) > 0)
    acceptable = voted & ((rep.pat[g] > Z_90) | ((rep.ra[g] > 1.0) & (rep.pa[g] > 0.5)))
    representative = acceptable & (rep.ra[g] > 1.0)
    if np.any(representative):
        return _argmax_first(rep.agree_metric[g], representative)
    return _argmax_first(rep.pa[g] * rep.pat[g], acceptable)


def select_representative(
    rep: GroupRepness, tallies: Tallies, eligible: BoolArray
) -> list[list[RepresentativeStatement]]:
    """Representative statements of every group (Polis's rule, made order-independent).

    A statement represents a group when the group votes that way significantly (one-proportion
    z) and significantly more than the rest (two-proportion z); the direction is agree when
    ``rat > rdt``. The top 5 by metric are kept, agrees before disagrees, with the group's best
    agree statement first, so every group with a voted statement has a representative.

    Parameters
    ----------
    rep : GroupRepness
    tallies : Tallies
        Per-group tallies, shape (n_groups, n_statements).
    eligible : ndarray of bool of shape (n_statements,)
        False for moderated-out statements.

    Returns
    -------
    list of list of RepresentativeStatement
        One list per group, in group order.
    """
    result = []
    for g in range(rep.pa.shape[0]):
        agree_sig = (rep.rat[g] > Z_90) & (rep.pat[g] > Z_90)
        disagree_sig = (rep.rdt[g] > Z_90) & (rep.pdt[g] > Z_90)
        significant = eligible & (agree_sig | disagree_sig)
        is_agree = rep.rat[g] > rep.rdt[g]
        metric = np.where(is_agree, rep.agree_metric[g], rep.disagree_metric[g])
        candidates = np.flatnonzero(significant)
        # Sort by metric descending, statement index ascending on ties.
        ranked = candidates[np.lexsort((candidates, -metric[candidates]))]
        head = _best_agree(rep, tallies, g, eligible)
        chosen: list[RepresentativeStatement] = []
        if head is not None:
            chosen.append(_representative(rep, tallies, g, head, agree=True, best=True))
        elif len(ranked) == 0:
            voted = eligible & ((tallies.agree[g] + tallies.disagree[g]) > 0)
            fallback = _argmax_first(np.maximum(rep.rat[g], rep.rdt[g]), voted)
            if fallback is not None:
                chosen.append(
                    _representative(rep, tallies, g, fallback, agree=bool(is_agree[fallback]))
                )
        rest = [int(c) for c in ranked if c != head][: _MAX_REPRESENTATIVE - len(chosen)]
        rest.sort(key=lambda c: not is_agree[c])
        chosen += [_representative(rep, tallies, g, c, agree=bool(is_agree[c])) for c in rest]
        result.append(chosen)
    return result


@dataclass(frozen=True)
class ConsensusStatement:
    """A statement on the majority consensus list.

    Attributes
    ----------
    statement : int
        Column index.
    p, z : float
        Smoothed share voting that way among everyone, and its one-proportion z.
    """

    statement: int
    p: float
    z: float


def majority_consensus(
    everyone: Tallies, eligible: BoolArray
) -> dict[str, list[ConsensusStatement]]:
    """Majority agree and disagree lists over all participants.

    A statement is listed when its smoothed share exceeds 1/2 significantly (z > 1.2816); each
    list keeps the top 5 by ``p * z``.

    Parameters
    ----------
    everyone : Tallies
        Tallies of shape (n_statements,) over all participants.
    eligible : ndarray of bool of shape (n_statements,)

    Returns
    -------
    dict
        ``{"agree": [...], "disagree": [...]}``.
    """
    lists: dict[str, list[ConsensusStatement]] = {}
    for direction, success in (("agree", everyone.agree), ("disagree", everyone.disagree)):
        p = (success + 1.0) / (everyone.total + 2.0)
        z = one_proportion_z(success, everyone.total)
        candidates = np.flatnonzero(eligible & (p > 0.5) & (z > Z_90))
        ranked = candidates[np.lexsort((candidates, -(p * z)[candidates]))][:_MAX_CONSENSUS]
        lists[direction] = [ConsensusStatement(int(c), float(p[c]), float(z[c])) for c in ranked]
    return lists


@dataclass(frozen=True)
class GroupMetrics:
    """Group-based statement metrics of ``metrics.md``, each of shape (n_statements,).

    Attributes
    ----------
    gac : ndarray
        Group-aware consensus ``prod_g p_g``.
    gac_norm : ndarray
        Its geometric mean ``GAC ** (1 / k)``.
    bridging : ndarray
        ``min_g p_g``.
    polarization : ndarray
        ``max_g p_g - min_g p_g``.
    divisiveness : ndarray
        ``max_g |p_g - p_not_g|``.
    """

    gac: FloatArray
    gac_norm: FloatArray
    bridging: FloatArray
    polarization: FloatArray
    divisiveness: FloatArray


def group_metrics(groups: Tallies) -> GroupMetrics:
    """Consensus, bridging and polarization metrics from per-group tallies.

    Parameters
    ----------
    groups : Tallies
        Shape (n_groups, n_statements), n_groups >= 1.

    Returns
    -------
    GroupMetrics
    """
    p = (groups.agree + 1.0) / (groups.total + 2.0)
    rest = groups.rest()
    p_rest = (rest.agree + 1.0) / (rest.total + 2.0)
    k = p.shape[0]
    gac = np.prod(p, axis=0)
    # A single group has no "rest" to differ from.
    divisiveness = np.abs(p - p_rest).max(axis=0) if k > 1 else np.zeros(p.shape[1])
    return GroupMetrics(
        gac=gac,
        gac_norm=gac ** (1.0 / k),
        bridging=p.min(axis=0),
        polarization=p.max(axis=0) - p.min(axis=0),
        divisiveness=divisiveness,
    )


def priority(everyone: Tallies, extremity: FloatArray, meta: BoolArray) -> FloatArray:
    """Routing weight of each statement for the next-statement draw.

    ``importance = (1 - (P + 1) / (S + 2)) * (E + 1) * (A + 1) / (S + 2)`` and
    ``priority = (importance * (1 + 8 * 2 ** (-S / 5))) ** 2``; meta statements get 49.

    Parameters
    ----------
    everyone : Tallies
        In-conv tallies summed over groups, shape (n_statements,).
    extremity : ndarray of shape (n_statements,)
    meta : ndarray of bool of shape (n_statements,)

    Returns
    -------
    ndarray of shape (n_statements,)
    """
    s = everyone.total
    importance = (
        (1.0 - (everyone.passes + 1.0) / (s + 2.0))
        * (extremity + 1.0)
        * (everyone.agree + 1.0)
        / (s + 2.0)
    )
    scores = (importance * (1.0 + 8.0 * 2.0 ** (-s / 5.0))) ** 2
    return np.where(meta, META_PRIORITY, scores)
