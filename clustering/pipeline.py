"""The analysis entry point: votes in, groups, statistics and state out."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from clustering.community_notes import CommunityNotes
from clustering.groups import (
    BaseClusters,
    GroupClustering,
    KSmoother,
    best_k,
    choose_groups,
    fit_base_clusters,
    match_identities,
)
from clustering.matrix import build_vote_matrix
from clustering.pca import SparsePCA, project_participants, project_statements
from clustering.process import conversation_polarization
from clustering.stats import (
    ConsensusStatement,
    GroupRepness,
    RepresentativeStatement,
    Tallies,
    credible_interval,
    group_metrics,
    majority_consensus,
    priority,
    repness,
    select_representative,
)

__all__ = [
    "Analysis",
    "ConversationMetrics",
    "Group",
    "Options",
    "StatementStats",
    "analyze",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Votes = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]

STATE_VERSION = 2
_STATE_VERSIONS = (1, STATE_VERSION)
"""Version 1 states lack the cluster memberships: their in-conv set, k-smoother, group ids and
Community Notes factors still carry over, the k-means starts cold."""
MIN_VOTES_IN_CONV = 7
"""A participant is in-conv after ``min(7, n_statements)`` votes (Polis)."""
MIN_IN_CONV = 15
"""The most active voters top the in-conv set up to this size (Polis)."""


@dataclass(frozen=True)
class Options:
    """Analysis options.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the Lanczos start vector of a cold PCA and of the k-means++ group seedings.
    max_k : int, default=5
        Largest number of groups tried.
    n_components : int, default=2
        Principal components kept.
    community_notes : bool, default=True
        Fit the Community Notes model; when False its outputs are NaN.
    count_zeroed_as_voted : bool, default=False
        Polis quirk: count moderated-out and meta statements as voted by everyone in the
        projection scaling.
    group_max_iter : int, default=100
        Lloyd iterations of the group k-means (Polis documents 100; its group step silently
        ran 20).
    group_seedings : int, default=10
        k-means++ seedings tried besides Polis's start when the groups start cold; the lowest
        inertia wins. Polis's start alone can settle in a poor local optimum (e.g. two centres in
        one planted group); 0 reproduces Polis.
    """

    random_state: int = 0
    max_k: int = 5
    n_components: int = 2
    community_notes: bool = True
    count_zeroed_as_voted: bool = False
    group_max_iter: int = 100
    group_seedings: int = 10

    @classmethod
    def reproduce_polis(cls, **changes: Any) -> Options:
        """Options that reproduce the groups of Polis's math worker, defects included.

        Polis counted moderated-out and meta statements as voted in the projection scaling, ran
        at most 20 iterations of group k-means and started it only from the first distinct base
        centres. These quirks shape the groups in its exports, so comparing with them needs
        them all; the product keeps the fixes (the defaults).
        """
        quirks = {"count_zeroed_as_voted": True, "group_max_iter": 20, "group_seedings": 0}
        return cls(**{**quirks, **changes})


@dataclass(frozen=True)
class Group:
    """An opinion group.

    Attributes
    ----------
    id : int
        Stable id: kept across runs when ``previous_state`` is given.
    size : int
        In-conv participants in the group.
    centre : tuple of float
        Centre in the projection space.
    representative : list of RepresentativeStatement
        Representative statements (``statement`` holds the statement id).
    """

    id: int
    size: int
    centre: tuple[float, ...]
    representative: list[RepresentativeStatement]


@dataclass(frozen=True)
class StatementStats:
    """Per-statement results; arrays over statements follow ``ids``, group rows follow
    ``Analysis.groups``.

    Attributes
    ----------
    ids : ndarray of shape (m,)
        Statement ids (every statement with at least one vote).
    moderated_out, meta : ndarray of bool of shape (m,)
    agree, disagree, passes, total : ndarray of shape (k, m)
        In-conv tallies per group.
    p, p_low, p_high : ndarray of shape (k, m)
        Smoothed agreement ``(A + 1) / (S + 2)`` and its 90% credible interval.
    repness : GroupRepness
        Full Polis representativeness numbers, shape (k, m) each.
    gac, gac_norm, bridging, polarization, divisiveness : ndarray of shape (m,)
    uncertainty : ndarray of shape (m,)
        ``(P + 1) / (S + 2)`` over all participants.
    projection : ndarray of shape (m, n_components)
    extremity : ndarray of shape (m,)
    priority : ndarray of shape (m,)
        0 for moderated-out statements, which are never shown.
    cn_intercept, cn_factor : ndarray of shape (m,)
        Community Notes statement intercept and factor; NaN without agree/disagree votes.
    """

    ids: IntArray
    moderated_out: BoolArray
    meta: BoolArray
    agree: FloatArray
    disagree: FloatArray
    passes: FloatArray
    total: FloatArray
    p: FloatArray
    p_low: FloatArray
    p_high: FloatArray
    repness: GroupRepness
    gac: FloatArray
    gac_norm: FloatArray
    bridging: FloatArray
    polarization: FloatArray
    divisiveness: FloatArray
    uncertainty: FloatArray
    projection: FloatArray
    extremity: FloatArray
    priority: FloatArray
    cn_intercept: FloatArray
    cn_factor: FloatArray


@dataclass(frozen=True)
class ConversationMetrics:
    """Conversation-level figures.

    Attributes
    ----------
    silhouette : dict of int to float
        Silhouette on base centres for every acceptable k tried.
    explained_variance : ndarray of shape (n_components,)
        Explained variance ratio of each component.
    group_sizes : dict of int to int
        Participants per group id.
    polarization : float
        Vote-weighted mean of the statement polarization.
    """

    silhouette: dict[int, float]
    explained_variance: FloatArray
    group_sizes: dict[int, int]
    polarization: float


@dataclass(frozen=True)
class Analysis:
    """Result of :func:`analyze`.

    Attributes
    ----------
    k : int
        Number of groups (after the k-smoother).
    participant_ids : ndarray of shape (n,)
        Every non-excluded participant with a vote, sorted.
    group : ndarray of shape (n,)
        Group id per participant, -1 when not in a group (not in-conv).
    in_conv : ndarray of bool of shape (n,)
    projection : ndarray of shape (n, n_components)
        Participant coordinates (x, y).
    groups : list of Group
        Sorted by id.
    statements : StatementStats
    consensus : dict of str to list of ConsensusStatement
        Majority lists ``"agree"`` and ``"disagree"`` (``statement`` holds the statement id).
    metrics : ConversationMetrics
    timings_ms : dict of str to float
        Wall time per step.
    state : dict
        JSON-serializable state to pass as ``previous_state`` to the next run.
    """

    k: int
    participant_ids: IntArray
    group: IntArray
    in_conv: BoolArray
    projection: FloatArray
    groups: list[Group]
    statements: StatementStats
    consensus: dict[str, list[ConsensusStatement]]
    metrics: ConversationMetrics
    timings_ms: dict[str, float]
    state: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the command line: ids as strings, NaN as null.

        Returns
        -------
        dict
        """
        xy = self.projection
        participants = {
            str(pid): {
                "group": None if g < 0 else g,
                "in_conv": bool(inc),
                "x": _num(x),
                "y": _num(y),
            }
            for pid, g, inc, x, y in zip(
                self.participant_ids.tolist(),
                self.group.tolist(),
                self.in_conv.tolist(),
                xy[:, 0].tolist() if xy.shape[1] > 0 else [0.0] * len(xy),
                xy[:, 1].tolist() if xy.shape[1] > 1 else [0.0] * len(xy),
                strict=True,
            )
        }
        st = self.statements
        statements: dict[str, dict[str, Any]] = {}
        for c, sid in enumerate(st.ids.tolist()):
            statements[str(sid)] = {
                "moderated_out": bool(st.moderated_out[c]),
                "meta": bool(st.meta[c]),
                "groups": {
                    str(g.id): {
                        "agree": int(st.agree[i, c]),
                        "disagree": int(st.disagree[i, c]),
                        "pass": int(st.passes[i, c]),
                        "total": int(st.total[i, c]),
                        "p": _num(st.p[i, c]),
                        "p_interval": [_num(st.p_low[i, c]), _num(st.p_high[i, c])],
                        **{
                            name: _num(getattr(st.repness, name)[i, c])
                            for name in ("pa", "pd", "pat", "pdt", "ra", "rd", "rat", "rdt")
                        },
                    }
                    for i, g in enumerate(self.groups)
                },
                **{
                    name: _num(getattr(st, name)[c])
                    for name in (
                        "gac",
                        "gac_norm",
                        "bridging",
                        "polarization",
                        "divisiveness",
                        "uncertainty",
                        "extremity",
                        "priority",
                        "cn_intercept",
                        "cn_factor",
                    )
                },
            }
        return {
            "k": self.k,
            "participants": participants,
            "groups": [
                {
                    "id": g.id,
                    "size": g.size,
                    "centre": [_num(v) for v in g.centre],
                    "representative": [_rep_dict(r) for r in g.representative],
                }
                for g in self.groups
            ],
            "statements": statements,
            "consensus": {
                direction: [
                    {"statement": str(s.statement), "p": _num(s.p), "z": _num(s.z)} for s in items
                ]
                for direction, items in self.consensus.items()
            },
            "metrics": {
                "silhouette": {str(k): _num(v) for k, v in self.metrics.silhouette.items()},
                "explained_variance": [_num(v) for v in self.metrics.explained_variance],
                "group_sizes": {str(k): v for k, v in self.metrics.group_sizes.items()},
                "polarization": _num(self.metrics.polarization),
            },
            "timings_ms": dict(self.timings_ms),
        }


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _rep_dict(rep: RepresentativeStatement) -> dict[str, Any]:
    return {
        "statement": str(rep.statement),
        "direction": rep.direction,
        "p": _num(rep.p),
        "z": _num(rep.z),
        "ratio": _num(rep.ratio),
        "ratio_z": _num(rep.ratio_z),
        "metric": _num(rep.metric),
        "n_success": rep.n_success,
        "n_trials": rep.n_trials,
        "best_agree": rep.best_agree,
    }


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = (time.perf_counter() - start) * 1000.0


def _subset(
    votes: sp.csr_array,
    entry_rows: npt.NDArray[np.int32],
    keep: BoolArray,
    data: FloatArray,
    indices: npt.NDArray[np.integer[Any]],
    n_columns: int,
) -> sp.csr_array:
    """Matrix of the kept stored entries with new data and column indices.

    Unlike scipy indexing, it never drops stored zeros (passes, disagrees as 0 ratings).
    """
    indptr = np.zeros(votes.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(entry_rows[keep], minlength=votes.shape[0]), out=indptr[1:])
    return sp.csr_array((data, indices, indptr), shape=(votes.shape[0], n_columns))


def select_in_conv(
    n_votes: IntArray,
    n_statements: int,
    participant_ids: IntArray,
    previous: IntArray | None = None,
) -> BoolArray:
    """Polis's in-conv rule.

    In-conv: at least ``min(7, n_statements)`` votes (passes count), or in-conv in the previous
    run (sticky); if fewer than 15 qualify, the most active voters are added (ties to the lower
    participant id) until there are 15.

    Parameters
    ----------
    n_votes : ndarray of shape (n,)
        Votes per participant.
    n_statements : int
    participant_ids : ndarray of shape (n,)
        Sorted participant ids.
    previous : ndarray, optional
        Participant ids in-conv in the previous run.

    Returns
    -------
    ndarray of bool of shape (n,)
    """
    selected = n_votes >= min(MIN_VOTES_IN_CONV, n_statements)
    if previous is not None and len(previous):
        selected |= np.isin(participant_ids, previous)
    missing = MIN_IN_CONV - int(selected.sum())
    if missing > 0:
        candidates = np.flatnonzero(~selected)
        # Stable sort on descending counts keeps id order among equal counts.
        order = candidates[np.argsort(-n_votes[candidates], kind="stable")]
        selected[order[:missing]] = True
    return selected


def _tallies(
    votes: sp.csr_array,
    entry_rows: npt.NDArray[np.int32],
    labels: IntArray | None,
    n_labels: int,
) -> Tallies:
    """Tallies per label (rows labelled -1 are left out), shape (n_labels, n_statements).

    Without ``labels`` every row counts, under one label.
    """
    m = votes.shape[1]
    # One counting pass: each vote's code is its (label, statement) cell times 3 plus the vote
    # shifted to {0, 1, 2}, so a single bincount holds disagrees, passes and agrees per cell.
    code = votes.indices.astype(np.int64) * 3 + (votes.data + 1).astype(np.int64)
    if labels is not None:
        entry_label = labels[entry_rows]
        kept = entry_label >= 0
        code = entry_label[kept] * (3 * m) + code[kept]
    counts: FloatArray = np.bincount(code, minlength=3 * n_labels * m).astype(np.float64)
    cells = counts.reshape(n_labels, m, 3)
    return Tallies(cells[:, :, 2], cells[:, :, 0], cells.sum(axis=2))


def _previous_labels(ids: IntArray, previous_ids: Any, previous_labels: Any) -> IntArray | None:
    """Previous cluster of every id (-1 if it had none), from the state's aligned lists.

    ``previous_ids`` is sorted (in-conv participant ids, base cluster ids).
    """
    if previous_ids is None or previous_labels is None or not len(previous_ids):
        return None
    old_ids = np.asarray(previous_ids, dtype=np.int64)
    old_labels = np.asarray(previous_labels, dtype=np.int64)
    position = np.minimum(np.searchsorted(old_ids, ids), len(old_ids) - 1)
    return np.where(old_ids[position] == ids, old_labels[position], -1)


def _aligned(
    previous: Mapping[str, Any], key: str, ids_key: str, statement_ids: IntArray
) -> FloatArray | None:
    """Rows of a per-statement table of the previous state, aligned to ``statement_ids``."""
    if key not in previous:
        return None
    old_ids = np.asarray(previous[ids_key], dtype=np.int64)
    table = np.atleast_2d(np.asarray(previous[key], dtype=np.float64))
    out = np.zeros((table.shape[0], len(statement_ids)))
    position = {sid: i for i, sid in enumerate(old_ids.tolist())}
    for j, sid in enumerate(statement_ids.tolist()):
        if sid in position:
            out[:, j] = table[:, position[sid]]
    return out


def analyze(
    votes: Votes,
    *,
    moderated_out: npt.ArrayLike = (),
    meta: npt.ArrayLike = (),
    excluded: npt.ArrayLike = (),
    options: Options | None = None,
    previous_state: Mapping[str, Any] | None = None,
) -> Analysis:
    """Compute opinion groups and statement statistics from votes.

    Parameters
    ----------
    votes : tuple of three array-likes
        ``(participant_ids, statement_ids, values)`` with values in {-1, 0, +1}, +1 = agree.
        For a repeated (participant, statement) the last occurrence wins; otherwise the
        result does not depend on the order of the rows.
    moderated_out : array-like of int, optional
        Statement ids moderated out: no effect on the PCA, never representative.
    meta : array-like of int, optional
        Meta statement ids: no effect on the PCA, priority 49.
    excluded : array-like of int, optional
        Participant ids dropped before anything is computed (bans).
    options : Options, optional
    previous_state : dict, optional
        ``Analysis.state`` of a previous run (after a JSON round trip if you like): keeps in-conv
        membership sticky, warm-starts the PCA and the k-means, smooths k and keeps group ids.

    Returns
    -------
    Analysis
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _analyze(votes, moderated_out, meta, excluded, options or Options(), previous_state)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    # Every BLAS call here is a small level-1/2 operation: threading them costs more than it
    # saves (50x slower on a busy 2-core box) and a single thread keeps reductions reproducible.
    return ThreadpoolController()


def _analyze(
    votes: Votes,
    moderated_out: npt.ArrayLike,
    meta: npt.ArrayLike,
    excluded: npt.ArrayLike,
    opts: Options,
    previous_state: Mapping[str, Any] | None,
) -> Analysis:
    prev = (
        previous_state
        if previous_state and previous_state.get("version") in _STATE_VERSIONS
        else {}
    )
    timer = _Timer()

    with timer.step("matrix"):
        pids, sids, vals = (np.asarray(a).ravel() for a in votes)
        excluded_ids = np.asarray(excluded, dtype=np.int64)
        if len(excluded_ids):
            keep = ~np.isin(pids, excluded_ids)
            pids, sids, vals = pids[keep], sids[keep], vals[keep]
        matrix = build_vote_matrix(pids, sids, vals)
        entry_rows = matrix.entry_rows
        n, m = matrix.votes.shape
        is_moderated = matrix.column_mask(moderated_out)
        is_meta = matrix.column_mask(meta)
        active = ~(is_moderated | is_meta)

    with timer.step("in_conv"):
        previous_in = np.asarray(prev["in_conv"], dtype=np.int64) if "in_conv" in prev else None
        in_conv = select_in_conv(
            np.diff(matrix.votes.indptr), m, matrix.participant_ids, previous_in
        )

    with timer.step("pca"):
        if active.all():
            # Nothing to leave out: the vote matrix itself, not a copy of it.
            active_votes, active_rows = matrix.votes, entry_rows
        else:
            entry_active = active[matrix.votes.indices]
            active_votes = _subset(
                matrix.votes,
                entry_rows,
                entry_active,
                matrix.votes.data[entry_active],
                (np.cumsum(active) - 1)[matrix.votes.indices[entry_active]],
                int(active.sum()),
            )
            active_rows = entry_rows[entry_active]
        active_ids = matrix.statement_ids[active]
        warm = _aligned(prev, "components", "statement_ids", active_ids)
        if warm is not None and warm.shape[0] != opts.n_components:
            warm = None
        pca = SparsePCA(opts.n_components, opts.random_state).fit(active_votes, warm)
        n_zeroed = m - int(active.sum())
        n_voted = np.diff(active_votes.indptr)
        n_columns = active_votes.shape[1]
        if opts.count_zeroed_as_voted:
            n_voted, n_columns = n_voted + n_zeroed, m
        projection = project_participants(
            active_votes, pca.mean_, pca.components_, n_voted, n_columns
        )
        statement_projection = np.zeros((m, opts.n_components))
        statement_projection[active] = project_statements(pca.mean_, pca.components_, n_columns)
        extremity = np.linalg.norm(statement_projection, axis=1)
        # Maps previous-run coordinates to this run's: both are coordinates on unit components
        # in statement space, so old centres move through V_new @ V_old.T.
        rotation = pca.components_ @ warm.T if warm is not None else None

    def carried(points: Any) -> FloatArray | None:
        if rotation is None or points is None:
            return None
        array = np.asarray(points, dtype=np.float64).reshape(-1, opts.n_components)
        return np.asarray(array @ rotation.T)

    with timer.step("base_clusters"):
        in_conv_rows = np.flatnonzero(in_conv)
        previous_base = prev.get("base", {})
        base = fit_base_clusters(
            projection[in_conv_rows],
            previous_labels=_previous_labels(
                matrix.participant_ids[in_conv_rows],
                previous_in,
                previous_base.get("labels"),
            ),
            previous_ids=np.asarray(previous_base.get("ids", []), dtype=np.int64),
        )

    with timer.step("groups"):
        clusterings = choose_groups(
            base,
            max_k=opts.max_k,
            max_iter=opts.group_max_iter,
            seedings=opts.group_seedings,
            random_state=opts.random_state,
            previous={
                int(k): _previous_labels(base.ids, previous_base.get("ids"), labels)
                for k, labels in prev.get("group_labels", {}).items()
            },
        )
        winner = best_k(clusterings)
        smoother = KSmoother(**prev.get("smoother", {}))
        if winner is None:
            chosen = _single_group(base)
        else:
            chosen = clusterings[smoother.update(winner, set(clusterings))]
        previous_groups = prev.get("groups", {})
        ids = match_identities(
            chosen.centres,
            chosen.weights,
            carried(previous_groups.get("centres")),
            np.asarray(previous_groups.get("ids", []), dtype=np.int64),
        )
        order = np.argsort(ids)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        # Row index of each in-conv participant's group in id order, -1 outside.
        group_row = np.full(n, -1, dtype=np.int64)
        group_row[in_conv_rows] = rank[chosen.labels[base.labels]]

    with timer.step("statistics"):
        k = chosen.k
        per_group = _tallies(matrix.votes, entry_rows, group_row, k)
        everyone = _tallies(matrix.votes, entry_rows, None, 1).sum()
        in_conv_total = per_group.sum()
        rep = repness(per_group)
        eligible = ~is_moderated
        representative = select_representative(rep, per_group, eligible)
        metrics = group_metrics(per_group)
        p_low, p_high = credible_interval(per_group.agree, per_group.total)
        consensus = {
            direction: [replace(s, statement=int(matrix.statement_ids[s.statement])) for s in items]
            for direction, items in majority_consensus(everyone, eligible).items()
        }
        weights = np.where(eligible & ~is_meta, in_conv_total.total, 0.0)
        polarization = conversation_polarization(metrics.polarization, weights)

    with timer.step("community_notes"):
        cn_intercept = np.full(m, np.nan)
        cn_factor = np.full(m, np.nan)
        cn_state: dict[str, Any] = {}
        if opts.community_notes and active_votes.nnz:
            decided = active_votes.data != 0
            ratings = _subset(
                active_votes,
                active_rows,
                decided,
                (active_votes.data[decided] > 0).astype(np.float64),
                active_votes.indices[decided],
                active_votes.shape[1],
            )
            init = _aligned(prev.get("community_notes", {}), "factors", "statement_ids", active_ids)
            init_i = _aligned(
                prev.get("community_notes", {}), "intercepts", "statement_ids", active_ids
            )
            start = init[0] if init is not None else pca.components_[0] * np.sqrt(len(active_ids))
            model = CommunityNotes().fit(
                ratings,
                start,
                None if init_i is None else init_i[0],
                float(prev.get("community_notes", {}).get("mu", 0.0)),
            )
            cn_intercept[active] = model.statement_intercepts_
            cn_factor[active] = model.statement_factors_
            cn_state = {
                "statement_ids": active_ids.tolist(),
                "intercepts": np.nan_to_num(model.statement_intercepts_).tolist(),
                "factors": np.nan_to_num(model.statement_factors_).tolist(),
                "mu": model.mu_,
            }

    group_ids = ids[order]
    groups = [
        Group(
            id=int(group_ids[i]),
            size=int(chosen.weights[order[i]]),
            centre=tuple(float(v) for v in chosen.centres[order[i]]),
            representative=[
                replace(r, statement=int(matrix.statement_ids[r.statement]))
                for r in representative[i]
            ],
        )
        for i in range(k)
    ]
    statements = StatementStats(
        ids=matrix.statement_ids,
        moderated_out=is_moderated,
        meta=is_meta,
        agree=per_group.agree,
        disagree=per_group.disagree,
        passes=per_group.passes,
        total=per_group.total,
        p=rep.pa,
        p_low=p_low,
        p_high=p_high,
        repness=rep,
        gac=metrics.gac,
        gac_norm=metrics.gac_norm,
        bridging=metrics.bridging,
        polarization=metrics.polarization,
        divisiveness=metrics.divisiveness,
        uncertainty=(everyone.passes + 1.0) / (everyone.total + 2.0),
        projection=statement_projection,
        extremity=extremity,
        priority=np.where(is_moderated, 0.0, priority(in_conv_total, extremity, is_meta)),
        cn_intercept=cn_intercept,
        cn_factor=cn_factor,
    )
    state = {
        "version": STATE_VERSION,
        "statement_ids": active_ids.tolist(),
        "components": pca.components_.tolist(),
        "base": {"ids": base.ids.tolist(), "labels": base.labels.tolist()},
        "group_labels": {str(c.k): c.labels.tolist() for c in clusterings.values()},
        "smoother": {
            "last_k": smoother.last_k,
            "last_k_count": smoother.last_k_count,
            "smoothed_k": smoother.smoothed_k,
        },
        "in_conv": matrix.participant_ids[in_conv].tolist(),
        "groups": {"ids": ids.tolist(), "centres": chosen.centres.tolist()},
        "community_notes": cn_state,
    }
    return Analysis(
        k=k,
        participant_ids=matrix.participant_ids,
        group=np.where(group_row >= 0, group_ids[np.maximum(group_row, 0)], -1),
        in_conv=in_conv,
        projection=projection,
        groups=groups,
        statements=statements,
        consensus=consensus,
        metrics=ConversationMetrics(
            silhouette={c.k: c.silhouette for c in clusterings.values()},
            explained_variance=pca.explained_variance_ratio_,
            group_sizes={g.id: g.size for g in groups},
            polarization=polarization,
        ),
        timings_ms=timer.timings,
        state=state,
    )


def _single_group(base: BaseClusters) -> GroupClustering:
    """Everyone in one group, when no k >= 2 gives groups of two or more."""
    total = base.weights.sum()
    centre = base.weights @ base.centres / total if total > 0 else base.centres.mean(axis=0)
    return GroupClustering(
        1,
        np.atleast_2d(centre),
        np.zeros(len(base.centres), np.int64),
        np.array([total]),
        0.0,
    )
