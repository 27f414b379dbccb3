"""Deterministic weighted k-means in low dimension, and the silhouette on weighted points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

__all__ = ["KMeans", "kmeans_plusplus", "silhouette_samples"]

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
    """Weighted Lloyd k-means with deterministic seeding and empty-cluster handling.

    Parameters
    ----------
    n_clusters : int
        Upper bound on the number of clusters; coinciding points can leave fewer.
    max_iter : int, default=100
        Maximum Lloyd iterations (Polis documents 100; its group step silently ran 20).
    tol : float, default=1e-4
        Stop when the summed squared centre shift falls below ``tol`` times the mean per-feature
        variance of the points (scikit-learn's convergence rule), or when no label changes.
    n_init : int, default=1
        Number of k-means++ seedings tried besides a given ``init``; the lowest inertia wins.
        With 0, only ``init`` is used (a pure warm start).
    random_state : int, default=0
        Seed of the k-means++ seedings.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_found, n_features)
    labels_ : ndarray of shape (n_points,)
    weights_ : ndarray of shape (n_found,)
        Total weight of every cluster.
    inertia_ : float
        Weighted sum of squared distances to the assigned centre.
    """

    n_clusters: int
    max_iter: int = 100
    tol: float = 1e-4
    n_init: int = 1
    random_state: int = 0

    def fit(
        self,
        points: FloatArray,
        sample_weight: FloatArray | None = None,
        init: FloatArray | None = None,
    ) -> KMeans:
        """Cluster the points.

        Parameters
        ----------
        points : ndarray of shape (n_points, n_features)
            Points in a canonical order: the seeding depends on it.
        sample_weight : ndarray of shape (n_points,), optional
            Weights, default 1.
        init : ndarray of shape (n_clusters, n_features), optional
            Warm-start centres, tried besides the ``n_init`` seedings.

        Returns
        -------
        self
        """
        weights = np.ones(len(points)) if sample_weight is None else sample_weight
        rng = np.random.default_rng(self.random_state)
        starts = [
            kmeans_plusplus(points, self.n_clusters, weights, rng) for _ in range(self.n_init)
        ]
        if init is not None and len(init) == self.n_clusters:
            starts.insert(0, np.asarray(init, dtype=np.float64))
        elif not starts:
            starts.append(kmeans_plusplus(points, self.n_clusters, weights, rng))
        threshold = self.tol * float(np.mean(np.var(points, axis=0))) if len(points) else 0.0
        best: tuple[float, FloatArray, IntArray] | None = None
        for start in starts:
            inertia, centres, labels = _lloyd(points, weights, start, self.max_iter, threshold)
            if best is None or inertia < best[0]:
                best = (inertia, centres, labels)
        assert best is not None
        self.inertia_, self.cluster_centers_, self.labels_ = best
        self.weights_ = np.asarray(
            np.bincount(self.labels_, weights=weights, minlength=len(best[1])), dtype=np.float64
        )
        return self


def _lloyd(
    points: FloatArray, weights: FloatArray, centres: FloatArray, max_iter: int, threshold: float
) -> tuple[float, FloatArray, IntArray]:
    centres = centres.copy()
    labels, sq_dist = _assign(points, centres)
    for _ in range(max_iter):
        mass = np.bincount(labels, weights=weights, minlength=len(centres))
        empty = mass <= 0
        if np.any(empty):
            # Drop empty clusters instead of reseeding them: a reseed at the farthest point would
            # make a one-point cluster, which the group step rejects anyway.
            keep = ~empty
            centres = centres[keep]
            labels = (np.cumsum(keep) - 1)[labels]
            mass = mass[keep]
        new = np.column_stack(
            [
                np.bincount(labels, weights=weights * points[:, d], minlength=len(centres)) / mass
                for d in range(points.shape[1])
            ]
        )
        new_labels, sq_dist = _assign(points, new)
        shift = float(((new - centres) ** 2).sum())
        converged = shift <= threshold or np.array_equal(new_labels, labels)
        centres, labels = new, new_labels
        if converged:
            break
    return float(weights @ sq_dist), centres, labels


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
