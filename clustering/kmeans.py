"""Deterministic weighted k-means in low dimension, Polis's starts, and the silhouette."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

__all__ = ["KMeans", "clean_start", "first_distinct", "kmeans_plusplus", "silhouette_samples"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# Below this many point-centre pairs a direct distance table beats building a k-d tree.
_DIRECT_PAIRS = 1 << 18


def _assign(points: FloatArray, centres: FloatArray) -> tuple[IntArray, FloatArray]:
    if len(points) * len(centres) <= _DIRECT_PAIRS:
        table = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels = table.argmin(axis=1)
        return np.asarray(labels, dtype=np.int64), table[np.arange(len(points)), labels]
    # A k-d tree answers each point independently, so labels do not depend on thread
    # scheduling (unlike chunked BLAS reductions), and the query is fast in low dimension.
    distances, labels = cKDTree(centres).query(points, k=1, workers=-1)
    return np.asarray(labels, dtype=np.int64), np.asarray(distances, dtype=np.float64) ** 2


def _means(points: FloatArray, weights: FloatArray, labels: IntArray, n: int) -> FloatArray:
    """Weighted mean of the points of every label in ``0 .. n - 1`` (NaN for an empty label)."""
    mass = np.bincount(labels, weights=weights, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack(
            [
                np.bincount(labels, weights=weights * points[:, d], minlength=n) / mass
                for d in range(points.shape[1])
            ]
        )


def first_distinct(points: FloatArray, n_clusters: int) -> FloatArray:
    """Polis's cold start: the first ``n_clusters`` distinct points in row order.

    Polis takes them in whatever order its rows happen to be; given rows in a canonical order
    (participants by id, base clusters by id) the start, and so the result, no longer depends
    on the order of the input.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    n_clusters : int

    Returns
    -------
    ndarray of shape (n_found, n_features)
        ``n_found`` is less than ``n_clusters`` only when there are fewer distinct points.
    """
    # Distinct points are usually found among the first rows: widen the window only if not.
    window = 4 * n_clusters
    while True:
        head = points[:window]
        _, first = np.unique(head, axis=0, return_index=True)
        if len(first) >= n_clusters or window >= len(points):
            return head[np.sort(first)[:n_clusters]].copy()
        window *= 4


def clean_start(
    points: FloatArray, weights: FloatArray, previous: IntArray, n_clusters: int
) -> tuple[FloatArray, IntArray]:
    """Polis's warm start: previous clusters recentred on their members, split up to k.

    Every previous cluster moves to the weighted mean of its members' current positions (one
    with no member left is dropped, ones landing on the same point merge); while there are fewer
    than ``n_clusters`` clusters and a point lies away from every centre, the farthest such
    point leaves its cluster to start a new one. Clusters keep their identity from run to run
    instead of being re-seeded, as in Polis.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    weights : ndarray of shape (n_points,)
    previous : ndarray of shape (n_points,)
        Previous cluster index of every point, -1 for a point not clustered before.
    n_clusters : int

    Returns
    -------
    centres : ndarray of shape (n_start, n_features)
    origin : ndarray of shape (n_start,)
        Previous cluster index of every start centre, -1 for one split off this run.
    """
    n_previous = int(previous.max(initial=-1)) + 1
    member = previous >= 0
    recentred = _means(points[member], weights[member], previous[member], n_previous)
    alive = np.flatnonzero(np.isfinite(recentred[:, 0]))
    _, first, inverse = np.unique(recentred[alive], axis=0, return_index=True, return_inverse=True)
    # Merged clusters take the place of the earliest of them, so the order stays canonical.
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    merged = np.full(n_previous, -1, dtype=np.int64)
    merged[alive] = rank[inverse.ravel()]
    origin = alive[np.sort(first)]
    centres = recentred[origin]
    labels = np.where(member, merged[np.maximum(previous, 0)], -1)
    while len(centres) < n_clusters:
        _, sq_dist = _assign(points, centres)
        farthest = int(np.argmax(sq_dist))
        if sq_dist[farthest] <= 0:
            break
        left = labels[farthest]
        labels[farthest] = len(centres)
        centres = np.vstack([centres, points[farthest]])
        origin = np.append(origin, -1)
        if left >= 0:
            stay = labels == left
            centres[left] = weights[stay] @ points[stay] / weights[stay].sum()
    return centres, origin


def kmeans_plusplus(
    points: FloatArray, n_clusters: int, weights: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Weighted k-means++ seeding.

    Stops early when every remaining point coincides with a chosen centre, so the result may
    hold fewer than ``n_clusters`` centres.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    n_clusters : int
    weights : ndarray of shape (n_points,)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_found, n_features)
    """
    first = int(rng.choice(len(points), p=weights / weights.sum()))
    chosen = [first]
    closest = ((points - points[first]) ** 2).sum(axis=1)
    for _ in range(1, n_clusters):
        mass = closest * weights
        total = mass.sum()
        if total <= 0:
            break
        index = int(np.searchsorted(np.cumsum(mass), rng.random() * total, side="right"))
        index = min(index, len(points) - 1)
        chosen.append(index)
        np.minimum(closest, ((points - points[index]) ** 2).sum(axis=1), out=closest)
    return points[chosen].copy()


@dataclass
class KMeans:
    """Weighted Lloyd k-means from given start centres, dropping clusters that empty.

    Parameters
    ----------
    max_iter : int, default=100
        Maximum Lloyd iterations (Polis documents 100; its group step silently ran 20).
    tol : float, default=1e-4
        Stop when the summed squared centre shift falls below ``tol`` times the mean per-feature
        variance of the points (scikit-learn's convergence rule), or when no label changes.
    centre_tol : float, default=0.0
        Also stop once no centre moves by ``centre_tol`` or more in an iteration: Polis's rule,
        0.01 in projection units, looser than ``tol`` on large data.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_found, n_features)
    labels_ : ndarray of shape (n_points,)
    weights_ : ndarray of shape (n_found,)
        Total weight of every cluster.
    kept_ : ndarray of shape (n_found,)
        Index of the start centre every cluster grew from.
    inertia_ : float
        Weighted sum of squared distances to the assigned centre.
    """

    max_iter: int = 100
    tol: float = 1e-4
    centre_tol: float = 0.0

    def fit(
        self, points: FloatArray, init: FloatArray, sample_weight: FloatArray | None = None
    ) -> KMeans:
        """Cluster the points.

        Parameters
        ----------
        points : ndarray of shape (n_points, n_features)
        init : ndarray of shape (n_start, n_features)
            Start centres, e.g. from :func:`first_distinct` or :func:`clean_start`.
        sample_weight : ndarray of shape (n_points,), optional
            Weights, default 1.

        Returns
        -------
        self
        """
        weights = np.ones(len(points)) if sample_weight is None else sample_weight
        threshold = self.tol * float(np.mean(np.var(points, axis=0))) if len(points) else 0.0
        centres = np.asarray(init, dtype=np.float64).copy()
        kept = np.arange(len(centres))
        labels, sq_dist = _assign(points, centres)
        for _ in range(self.max_iter):
            mass = np.bincount(labels, weights=weights, minlength=len(centres))
            keep = mass > 0
            if not keep.all():
                # Drop empty clusters instead of reseeding them: a reseed at the farthest point
                # would make a one-point cluster, which the group step rejects anyway.
                centres, kept = centres[keep], kept[keep]
                labels = (np.cumsum(keep) - 1)[labels]
            new = _means(points, weights, labels, len(centres))
            new_labels, sq_dist = _assign(points, new)
            moves = ((new - centres) ** 2).sum(axis=1)
            converged = (
                moves.sum() <= threshold
                or moves.max(initial=0.0) < self.centre_tol**2
                or np.array_equal(new_labels, labels)
            )
            centres, labels = new, new_labels
            if converged:
                break
        # The last assignment can leave a centre without points: such a cluster is not reported.
        keep = np.bincount(labels, weights=weights, minlength=len(centres)) > 0
        centres, kept, labels = centres[keep], kept[keep], (np.cumsum(keep) - 1)[labels]
        self.cluster_centers_, self.labels_, self.kept_ = centres, labels, kept
        self.inertia_ = float(weights @ sq_dist)
        self.weights_ = np.asarray(
            np.bincount(labels, weights=weights, minlength=len(centres)), dtype=np.float64
        )
        return self


def silhouette_samples(points: FloatArray, labels: IntArray) -> FloatArray:
    """Silhouette of every point; a point alone in its cluster scores 0.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    labels : ndarray of shape (n_points,)

    Returns
    -------
    ndarray of shape (n_points,)
    """
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    n_labels = int(labels.max()) + 1
    members = np.eye(n_labels)[labels]
    sizes = members.sum(axis=0)
    sums = distances @ members
    own = sizes[labels]
    a = sums[np.arange(len(points)), labels] / np.maximum(own - 1, 1)
    others = np.where(members.astype(bool), np.inf, sums / np.maximum(sizes, 1))
    others[:, sizes == 0] = np.inf
    b = others.min(axis=1)
    denom = np.maximum(a, b)
    scores = np.divide(b - a, denom, out=np.zeros(len(points)), where=denom > 0)
    scores[own <= 1] = 0.0
    scores[~np.isfinite(b)] = 0.0
    return scores
