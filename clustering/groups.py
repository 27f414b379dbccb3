"""Base clusters, opinion groups chosen by silhouette, the k-smoother and stable group ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clustering.kmeans import (
    KMeans,
    clean_start,
    first_distinct,
    kmeans_plusplus,
    silhouette_samples,
)

__all__ = [
    "BaseClusters",
    "GroupClustering",
    "KSmoother",
    "best_k",
    "candidate_ks",
    "choose_groups",
    "fit_base_clusters",
    "match_identities",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BASE_K = 100
"""Number of base clusters (Polis)."""
BASE_SAMPLE = 100_000
"""Polis's cap on participants. Beyond it there is no Polis behaviour to reproduce, and a cold
start first fits the base clusters on a fixed-seed sample of this many participants."""
POLIS_CENTRE_TOL = 0.01
"""Polis's k-means stops once no centre moves this much (projection units)."""
K_SMOOTHER_BUFFER = 4
"""Runs in a row a new k must win before the reported k switches to it (Polis)."""
MIN_GROUP_WEIGHT = 2
"""A group must hold at least two participants: one-person groups are a Polis defect."""
_BASE_PER_EXTRA_K = 12
# Silhouettes closer than this are a tie, which goes to the larger k; it only absorbs float noise.
_TIE = 1e-12


@dataclass(frozen=True)
class BaseClusters:
    """k-means summary of the in-conv participants' projections.

    Attributes
    ----------
    ids : ndarray of shape (n_base,)
        Stable ids, increasing: a base cluster keeps its id from run to run.
    centres : ndarray of shape (n_base, n_components)
    weights : ndarray of shape (n_base,)
        Participants per base cluster.
    labels : ndarray of shape (n_in_conv,)
        Base cluster (row index) of every in-conv participant.
    """

    ids: IntArray
    centres: FloatArray
    weights: FloatArray
    labels: IntArray


def _start(
    points: FloatArray, weights: FloatArray, previous: IntArray | None, n_clusters: int
) -> tuple[FloatArray, IntArray]:
    """Polis's start centres and the previous cluster each comes from (-1: new).

    With previous memberships the clusters are recentred on their members (warm start);
    otherwise the first distinct points in canonical order start them (cold start).
    """
    if previous is not None and np.any(previous >= 0):
        return clean_start(points, weights, previous, n_clusters)
    centres = first_distinct(points, n_clusters)
    return centres, np.full(len(centres), -1, dtype=np.int64)


def fit_base_clusters(
    points: FloatArray,
    *,
    previous_labels: IntArray | None = None,
    previous_ids: IntArray | None = None,
) -> BaseClusters:
    """Cluster in-conv projections into at most 100 base clusters.

    Parameters
    ----------
    points : ndarray of shape (n_in_conv, n_components)
        Projections in canonical (participant id) order.
    previous_labels : ndarray of shape (n_in_conv,), optional
        Index into ``previous_ids`` of every participant's previous base cluster, -1 if none.
    previous_ids : ndarray, optional
        Ids of the previous run's base clusters.

    Returns
    -------
    BaseClusters
    """
    n_clusters = min(BASE_K, len(points))
    weights = np.ones(len(points))
    centres, origin = _start(points, weights, previous_labels, n_clusters)
    model = KMeans()
    if len(points) > BASE_SAMPLE and not np.any(origin >= 0):
        # Lloyd needs tens of passes from a cold start, each a nearest-centre query over every
        # participant (0.4 s at 1M); converging on a sample (rows in canonical order, so the
        # result stays independent of the input order) leaves a few full passes to polish it;
        # both stop by Polis's own rule.
        rows = np.sort(np.random.default_rng(0).choice(len(points), BASE_SAMPLE, replace=False))
        sample = points[rows]
        model = KMeans(centre_tol=POLIS_CENTRE_TOL)
        centres = model.fit(sample, first_distinct(sample, n_clusters)).cluster_centers_
        origin = np.full(len(centres), -1, dtype=np.int64)
    old_ids = np.asarray(previous_ids if previous_ids is not None else [], dtype=np.int64)
    carried = origin >= 0
    # Base clusters split off this run take fresh ids above every id used before.
    ids = int(old_ids.max(initial=-1)) + np.cumsum(~carried)
    ids[carried] = old_ids[origin[carried]]
    model.fit(points, centres, weights)
    return BaseClusters(ids[model.kept_], model.cluster_centers_, model.weights_, model.labels_)


@dataclass(frozen=True)
class GroupClustering:
    """Weighted k-means of the base centres for one k.

    Attributes
    ----------
    k : int
    centres : ndarray of shape (k, n_components)
    labels : ndarray of shape (n_base,)
        Group index of every base cluster.
    weights : ndarray of shape (k,)
        Participants per group.
    silhouette : float
        Unweighted mean silhouette over base clusters.
    """

    k: int
    centres: FloatArray
    labels: IntArray
    weights: FloatArray
    silhouette: float


def candidate_ks(n_base: int, max_k: int) -> range:
    """``2 .. min(max_k, 2 + n_base // 12)`` (Polis), capped by the number of base clusters."""
    return range(2, min(max_k, 2 + n_base // _BASE_PER_EXTRA_K, n_base) + 1)


def choose_groups(
    base: BaseClusters,
    *,
    max_k: int,
    max_iter: int = 100,
    seedings: int = 0,
    random_state: int = 0,
    previous: dict[int, IntArray | None] | None = None,
) -> dict[int, GroupClustering]:
    """Fit every acceptable k.

    A k is rejected when k-means cannot fill k groups of at least two participants each.

    Parameters
    ----------
    base : BaseClusters
    max_k : int
    max_iter : int, default=100
        Lloyd iterations per k (Polis's group step silently stops at 20).
    seedings : int, default=0
        On a cold start, k-means++ seedings tried besides Polis's start; the lowest weighted
        inertia wins. Polis's start alone can leave two centres in one opinion group (a local
        optimum that merges two others); a warm start is never re-seeded, so groups stay
        continuous from run to run.
    random_state : int, default=0
        Seed of the k-means++ seedings.
    previous : dict of int to ndarray, optional
        Per k, the previous group of every current base cluster (-1 for a new base cluster):
        groups restart from their previous members, as in Polis.

    Returns
    -------
    dict of int to GroupClustering
        The acceptable clusterings by k, possibly empty.
    """
    previous = previous or {}
    result = {}
    for k in candidate_ks(len(base.centres), max_k):
        start, origin = _start(base.centres, base.weights, previous.get(k), k)
        starts = [start]
        if not np.any(origin >= 0):
            rng = np.random.default_rng(random_state)
            starts += [kmeans_plusplus(base.centres, k, base.weights, rng) for _ in range(seedings)]
        model = min(
            (KMeans(max_iter=max_iter).fit(base.centres, s, base.weights) for s in starts),
            key=lambda fitted: fitted.inertia_,
        )
        if len(model.cluster_centers_) < k or model.weights_.min() < MIN_GROUP_WEIGHT:
            continue
        score = float(silhouette_samples(base.centres, model.labels_).mean())
        result[k] = GroupClustering(k, model.cluster_centers_, model.labels_, model.weights_, score)
    return result


def best_k(clusterings: dict[int, GroupClustering]) -> int | None:
    """Highest silhouette, ties to the larger k; None if no k is acceptable."""
    best: int | None = None
    for k in sorted(clusterings):
        if best is None or clusterings[k].silhouette >= clusterings[best].silhouette - _TIE:
            best = k
    return best


@dataclass
class KSmoother:
    """Polis's k-smoother: the reported k switches only after a new k wins 4 runs in a row.

    Attributes
    ----------
    last_k : int or None
        Winner of the previous run.
    last_k_count : int
        Consecutive runs ``last_k`` has won.
    smoothed_k : int or None
        The reported k.
    """

    last_k: int | None = None
    last_k_count: int = 0
    smoothed_k: int | None = None

    def update(self, winner: int, available: set[int] | frozenset[int] = frozenset()) -> int:
        """Record this run's winning k and return the k to report.

        Parameters
        ----------
        winner : int
            The k with the best silhouette this run.
        available : set of int
            The ks acceptable this run; a held k that became unacceptable is abandoned.

        Returns
        -------
        int
        """
        self.last_k_count = self.last_k_count + 1 if winner == self.last_k else 1
        self.last_k = winner
        if (
            self.last_k_count >= K_SMOOTHER_BUFFER
            or self.smoothed_k is None
            or self.smoothed_k not in available
        ):
            self.smoothed_k = winner
        return self.smoothed_k


def match_identities(
    centres: FloatArray,
    weights: FloatArray,
    previous_centres: FloatArray | None = None,
    previous_ids: IntArray | None = None,
) -> IntArray:
    """Give each group a stable id.

    With previous groups, new groups are matched to old ones by the Hungarian algorithm on
    squared centre distances and inherit their ids; unmatched groups take the smallest ids not
    in use. Without, ids follow group size (largest first), ties broken by the centre.

    Parameters
    ----------
    centres : ndarray of shape (k, n_components)
    weights : ndarray of shape (k,)
    previous_centres : ndarray of shape (k_prev, n_components), optional
        Previous centres, mapped to the current components.
    previous_ids : ndarray of shape (k_prev,), optional

    Returns
    -------
    ndarray of shape (k,)
    """
    k = len(centres)
    ids = np.full(k, -1, dtype=np.int64)
    if previous_centres is not None and previous_ids is not None and len(previous_ids):
        # Imported here: scipy.optimize is a quarter second of start-up that a first run
        # (the command line's usual case) never needs.
        from scipy.optimize import linear_sum_assignment

        cost = ((centres[:, None, :] - previous_centres[None, :, :]) ** 2).sum(axis=2)
        rows, cols = linear_sum_assignment(cost)
        ids[rows] = previous_ids[cols]
    order = np.lexsort((*centres.T[::-1], -weights))
    free = (i for i in range(2 * k) if i not in set(ids.tolist()))
    for g in order:
        if ids[g] < 0:
            ids[g] = next(free)
    return ids
