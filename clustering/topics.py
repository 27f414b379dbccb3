"""Topics: what a conversation is about, from its statements' meaning vectors.

Statement vectors (unit rows from any sentence-embedding model) go in; a two-level hierarchy
comes out: topics, and subtopics inside the large ones. Pure numpy / scipy / scikit-learn.

The method, in order:

1. Normalize the rows and reduce them with PCA (fixed ``random_state``) to at most
   ``max_components`` dimensions: silhouettes on 384 noisy dimensions favour ever more, ever
   smaller clusters.
2. k-means (scikit-learn, ``random_state`` seeded) for every number of topics from 2 to
   ``min(n // min_topic_size, ceil(sqrt(n)))`` (at most :data:`MAX_TOPICS`); the number of
   topics is the k with the best mean silhouette (cosine, on a fixed-seed sample of at most
   ``silhouette_sample`` rows): the data chooses it. On the synthetic themes k-means beat
   Ward, average-linkage and spectral clustering (tests/clustering/test_topics.py has the set).
   With a previous fit, its k restarts from its topics' centres (recomputed from their
   current members) and is kept when it scores within ``hysteresis`` (or twice the standard
   error of the best k's mean silhouette, if larger) of the best, so one new statement does
   not reshuffle the map (Polis keeps its number of groups the same way).
3. Clusters smaller than ``min_topic_size`` dissolve: a statement as close to its nearest
   topic as that topic's own members (its spread) joins it; the rest make the "other" topic.
   Nothing is dropped.
4. Topics holding at least ``subtopic_min_size`` statements are split the same way into
   subtopics (their small pieces join the nearest subtopic: every statement of a topic is in
   exactly one of its subtopics).
5. Identities: with the previous fit's topics, the Hungarian algorithm pairs new topics with
   old ones by the overlap of their statements (Jaccard; centroid similarity breaks ties); a
   pair inherits the old id when the overlap reaches ``min_overlap``. Unmatched topics take
   fresh ids above every id used before (and above ``first_new_id``).

Names offline are keywords: class-based TF-IDF (each topic's statements as one document) over
the statements' words; see :func:`topic_keywords`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.metrics import silhouette_samples
from threadpoolctl import threadpool_limits

__all__ = [
    "OTHER_ID",
    "PreviousTopic",
    "Topic",
    "TopicModel",
    "assign_vector",
    "fit_topics",
    "topic_keywords",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

OTHER_ID = 0
"""The id of the "other" topic (small leftovers). Real topics and subtopics have ids >= 1."""
MIN_TOPIC_SIZE = 5
MAX_COMPONENTS = 20
N_INIT = 4
SILHOUETTE_SAMPLE = 2000
SUBTOPIC_MIN_SIZE = 40
HYSTERESIS = 0.01
"""Silhouette points the previous number of topics may always trail the best and be kept (more
when the best k's silhouette is noisier: twice its standard error)."""
MIN_OVERLAP = 0.3
"""Jaccard overlap of statements a new topic needs with an old one to inherit its id."""
MAX_TOPICS = 40
"""A reader cannot take in more topics than this on one page; subtopics carry the detail."""
_SPREAD_QUANTILE = 0.05


@dataclass(frozen=True)
class Topic:
    """One topic or subtopic of a fit.

    Attributes
    ----------
    id : int
        Stable id: kept across recomputes by matching. :data:`OTHER_ID` for "other".
    parent : int or None
        The topic's id for a subtopic; None for a topic.
    members : ndarray of shape (n_members,)
        Row indices (into the fitted vectors) of the statements in it, increasing.
    centroid : ndarray of shape (n_features,)
        Unit mean of its members' unit vectors (original space).
    spread : float
        A low quantile of its members' cosine similarity to the centroid: a new statement
        less similar than this to every topic goes to "other".
    """

    id: int
    parent: int | None
    members: IntArray
    centroid: FloatArray
    spread: float

    @property
    def is_other(self) -> bool:
        return self.id == OTHER_ID


@dataclass(frozen=True)
class PreviousTopic:
    """What identity matching needs from a previous fit: id, parent, member keys, centroid."""

    id: int
    parent: int | None
    keys: frozenset[int]
    centroid: FloatArray


@dataclass(frozen=True)
class TopicModel:
    """A fitted two-level topic hierarchy.

    Attributes
    ----------
    topics : list of Topic
        Topics (``parent is None``, "other" last if present) then subtopics.
    labels : ndarray of shape (n_samples,)
        Topic id of every row.
    sublabels : ndarray of shape (n_samples,)
        Subtopic id of every row, -1 where its topic has no subtopics.
    silhouette : float
        Mean silhouette of the chosen cut (nan with fewer than two topics).
    """

    topics: list[Topic]
    labels: IntArray
    sublabels: IntArray
    silhouette: float
    k: int = 1
    """The number of k-means clusters chosen ("other"'s small ones included)."""
    scores: dict[int, float] = field(default_factory=dict)

    def top_level(self) -> list[Topic]:
        return [t for t in self.topics if t.parent is None]

    def children(self, topic_id: int) -> list[Topic]:
        return [t for t in self.topics if t.parent == topic_id]


def _unit(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def _reduce(x: FloatArray, max_components: int, random_state: int) -> FloatArray:
    n_components = min(max_components, x.shape[0] - 1, x.shape[1])
    if n_components < 2:
        return x
    # "full" SVD: exact, and the same answer on every machine for the same rows.
    reduced = PCA(n_components=n_components, svd_solver="full", random_state=random_state)
    return _unit(reduced.fit_transform(x))


def _choose_cut(
    points: FloatArray,
    *,
    min_size: int,
    warm: FloatArray | None,
    previous_k: int | None,
    hysteresis: float,
    sample: int,
    random_state: int,
) -> tuple[IntArray, float, dict[int, float]]:
    """k-means for every k; the k with the best silhouette (or the previous k if it is close).

    ``warm`` holds the previous topics' centres, recomputed from their current members: the
    previous k restarts from them (the clusters that went to "other" restart from the points
    farthest from every centre), so a recompute moves only the statements that must move.
    """
    n = len(points)
    # Beyond sqrt(n) clusters the silhouette of weakly structured text keeps creeping up
    # while the clusters shrink to a handful of statements each: no longer topics.
    k_max = min(MAX_TOPICS, n // max(min_size, 1), math.ceil(math.sqrt(n)))
    if k_max < 2:
        return np.zeros(n, dtype=np.int64), math.nan, {}
    rows = np.arange(n)
    if n > sample:
        rows = np.sort(np.random.default_rng(random_state).choice(n, sample, replace=False))
    if warm is not None and previous_k is not None and len(warm) <= previous_k <= n:
        warm = _fill(points, warm, previous_k)
    else:
        warm, previous_k = None, None
    scored: dict[int, tuple[float, IntArray]] = {}
    noises: dict[int, float] = {}
    # Many small fits: on one thread they ran 5x faster than with a BLAS pool each.
    with threadpool_limits(limits=1):
        for k in range(2, k_max + 1):
            inits: list[Any] = ["k-means++"]
            if warm is not None and k == previous_k:
                # The warm restart wins unless a fresh start is clearly better.
                inits = [warm, "k-means++"]
            for init in inits:
                model = KMeans(
                    n_clusters=k,
                    init=init,
                    n_init=1 if init is warm else N_INIT,
                    random_state=random_state,
                )
                labels = model.fit_predict(points).astype(np.int64)
                if len(np.unique(labels[rows])) < 2:
                    continue
                samples = silhouette_samples(points[rows], labels[rows], metric="cosine")
                score = float(samples.mean())
                # Twice the standard error of the mean silhouette: differences below it
                # are noise of which statements happen to be there, not a better k.
                noise = 2 * float(samples.std()) / math.sqrt(len(rows))
                margin = max(hysteresis, noises[k]) if k in scored else 0.0
                if k not in scored or score > scored[k][0] + margin:
                    scored[k] = (score, labels)
                    noises[k] = noise
    if not scored:
        return np.zeros(n, dtype=np.int64), math.nan, {}
    # Ties go to the smaller k: fewer, larger topics read better.
    best = max(scored, key=lambda k: (scored[k][0], -k))
    tolerance = max(hysteresis, noises[best])
    if previous_k in scored and scored[previous_k][0] >= scored[best][0] - tolerance:
        best = previous_k
    return scored[best][1], scored[best][0], {k: s for k, (s, _) in scored.items()}


def _fill(points: FloatArray, centres: FloatArray, k: int) -> FloatArray:
    """Add the point farthest from every centre until there are ``k`` (deterministic)."""
    out = list(centres)
    nearest = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    while len(out) < k:
        far = points[int(np.argmax(nearest))]
        out.append(far)
        nearest = np.minimum(nearest, ((points - far) ** 2).sum(axis=1))
    return np.vstack(out)


def _warm_start(
    points: FloatArray, keys: IntArray, previous: Sequence[PreviousTopic]
) -> FloatArray | None:
    """Each previous topic's centre among the current points (by statement keys)."""
    centres = []
    for topic in previous:
        rows = np.flatnonzero(np.isin(keys, np.fromiter(topic.keys, dtype=np.int64)))
        if len(rows):
            centres.append(points[rows].mean(axis=0))
    return np.vstack(centres) if len(centres) >= 2 else None


def _centroid(vectors: FloatArray, members: IntArray) -> tuple[FloatArray, float]:
    centre = _unit(vectors[members].mean(axis=0))
    sims = vectors[members] @ centre
    return centre, float(np.quantile(sims, _SPREAD_QUANTILE))


def _absorb(
    x: FloatArray, big: list[IntArray], small: list[IntArray]
) -> tuple[list[IntArray], list[IntArray]]:
    """A small cluster's statement joins the nearest topic if it is as close to it as that
    topic's own members are (its spread); the rest are "other"."""
    if not small:
        return big, small
    cents = [_centroid(x, m) for m in big]
    centres = np.vstack([c for c, _ in cents])
    spreads = np.array([s for _, s in cents])
    rows = np.concatenate(small)
    sims = x[rows] @ centres.T
    nearest = sims.argmax(axis=1)
    joins = sims[np.arange(len(rows)), nearest] >= spreads[nearest]
    grown = [np.sort(np.concatenate([m, rows[joins & (nearest == i)]])) for i, m in enumerate(big)]
    rest = np.sort(rows[~joins])
    return grown, [rest] if len(rest) else []


def _match(
    new_members: list[IntArray],
    new_centroids: FloatArray,
    keys: IntArray,
    previous: Sequence[PreviousTopic],
    min_overlap: float,
) -> list[int | None]:
    """Old id for each new cluster, or None. Hungarian on Jaccard, then on centroids."""
    matched: list[int | None] = [None] * len(new_members)
    if not previous or not new_members:
        return matched
    sets = [frozenset(keys[m].tolist()) for m in new_members]
    jaccard = np.array(
        [[len(s & p.keys) / max(len(s | p.keys), 1) for p in previous] for s in sets]
    )
    old_centroids = np.vstack([p.centroid for p in previous])
    similarity = new_centroids @ old_centroids.T
    # Overlap decides; similarity only breaks ties and pairs clusters that share nothing.
    rows, cols = linear_sum_assignment(-(jaccard + 1e-3 * similarity))
    for r, c in zip(rows, cols, strict=True):
        if jaccard[r, c] >= min_overlap:
            matched[int(r)] = previous[int(c)].id
    return matched


def _assign_ids(
    matched: list[int | None], sizes: Sequence[int], centroids: FloatArray, next_id: int
) -> tuple[list[int], int]:
    ids: list[int] = []
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], tuple(centroids[i])))
    fresh: dict[int, int] = {}
    for i in order:
        if matched[i] is None:
            fresh[i] = next_id
            next_id += 1
    for i in range(len(sizes)):
        old = matched[i]
        ids.append(old if old is not None else fresh[i])
    return ids, next_id


def fit_topics(
    vectors: npt.ArrayLike,
    *,
    keys: npt.ArrayLike | None = None,
    previous: Sequence[PreviousTopic] = (),
    first_new_id: int = OTHER_ID + 1,
    previous_k: int | None = None,
    random_state: int = 0,
    min_topic_size: int = MIN_TOPIC_SIZE,
    subtopic_min_size: int = SUBTOPIC_MIN_SIZE,
    max_components: int = MAX_COMPONENTS,
    silhouette_sample: int = SILHOUETTE_SAMPLE,
    hysteresis: float = HYSTERESIS,
    min_overlap: float = MIN_OVERLAP,
) -> TopicModel:
    """Fit topics and subtopics to statement vectors.

    Parameters
    ----------
    vectors : array-like of shape (n_samples, n_features)
        One row per statement (normalized here).
    keys : array-like of int of shape (n_samples,), optional
        Stable statement keys (database ids) used to match identities with ``previous``.
        Defaults to the row indices.
    previous : sequence of PreviousTopic
        The previous fit's topics and subtopics; their ids are inherited by matching.
    previous_k : int, optional
        The previous fit's number of k-means clusters (:attr:`TopicModel.k`, "other"'s small
        clusters included): restarted from the previous topics and kept when close to best.
    first_new_id : int
        The smallest id a new topic may take (besides every previous id): pass one above
        every id ever used, so a retired topic's id (and link) is never given to another.
    random_state : int
        Seeds PCA and the silhouette sample: equal inputs give equal topics.
    min_topic_size : int
        Smaller clusters go to the "other" topic.
    subtopic_min_size : int
        Topics at least this large are split into subtopics.
    max_components, silhouette_sample, hysteresis, min_overlap
        See the module docstring.

    Returns
    -------
    TopicModel
    """
    x = _unit(np.asarray(vectors, dtype=np.float64))
    n = x.shape[0]
    keys_arr = np.arange(n, dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
    if keys_arr.shape != (n,):
        raise ValueError(f"keys has shape {keys_arr.shape}, expected ({n},)")
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return TopicModel([], empty, empty.copy(), math.nan)
    next_id = max([p.id + 1 for p in previous] + [first_new_id, OTHER_ID + 1])
    top_previous = [p for p in previous if p.parent is None and p.id != OTHER_ID]

    points = _reduce(x, max_components, random_state)
    cut, silhouette, scores = _choose_cut(
        points,
        min_size=min_topic_size,
        warm=_warm_start(points, keys_arr, top_previous),
        previous_k=previous_k,
        hysteresis=hysteresis,
        sample=silhouette_sample,
        random_state=random_state,
    )
    clusters = [np.flatnonzero(cut == c) for c in np.unique(cut)]
    big = [m for m in clusters if len(m) >= min_topic_size]
    small = [m for m in clusters if len(m) < min_topic_size]
    if not big:  # too few statements for topics: one topic holds them all.
        big, small = [np.arange(n, dtype=np.int64)], []
    big, small = _absorb(x, big, small)
    cents = [_centroid(x, m) for m in big]
    centroids = np.vstack([c for c, _ in cents])
    matched = _match(big, centroids, keys_arr, top_previous, min_overlap)
    ids, next_id = _assign_ids(matched, [len(m) for m in big], centroids, next_id)

    labels = np.full(n, OTHER_ID, dtype=np.int64)
    topics: list[Topic] = []
    for topic_id, members, (centre, spread) in sorted(
        zip(ids, big, cents, strict=True), key=lambda t: t[0]
    ):
        labels[members] = topic_id
        topics.append(Topic(topic_id, None, members, centre, spread))
    if small:
        others = np.sort(np.concatenate(small))
        centre, spread = _centroid(x, others)
        topics.append(Topic(OTHER_ID, None, others, centre, spread))

    sublabels = np.full(n, -1, dtype=np.int64)
    subtopics: list[Topic] = []
    for topic in [t for t in topics if not t.is_other and len(t.members) >= subtopic_min_size]:
        members = topic.members
        old_children = [p for p in previous if p.parent == topic.id]
        sub_cut, _, _ = _choose_cut(
            points[members],
            min_size=min_topic_size,
            warm=_warm_start(points[members], keys_arr[members], old_children),
            previous_k=len(old_children),
            hysteresis=hysteresis,
            sample=silhouette_sample,
            random_state=random_state,
        )
        pieces = [members[sub_cut == c] for c in np.unique(sub_cut)]
        kept = [p for p in pieces if len(p) >= min_topic_size]
        if len(kept) < 2:
            continue
        kept_centres = np.vstack([_unit(x[p].mean(axis=0)) for p in kept])
        # Small pieces join the nearest kept subtopic: a subtopic level covers its topic.
        for piece in (p for p in pieces if len(p) < min_topic_size):
            for row in piece:
                nearest = int(np.argmax(kept_centres @ x[row]))
                kept[nearest] = np.sort(np.append(kept[nearest], row))
        sub_cents = [_centroid(x, p) for p in kept]
        sub_centroids = np.vstack([c for c, _ in sub_cents])
        sub_matched = _match(kept, sub_centroids, keys_arr, old_children, min_overlap)
        sub_ids, next_id = _assign_ids(sub_matched, [len(p) for p in kept], sub_centroids, next_id)
        for sub_id, piece, (centre, spread) in sorted(
            zip(sub_ids, kept, sub_cents, strict=True), key=lambda t: t[0]
        ):
            sublabels[piece] = sub_id
            subtopics.append(Topic(sub_id, topic.id, piece, centre, spread))
    return TopicModel(topics + subtopics, labels, sublabels, silhouette, len(clusters), scores)


def assign_vector(
    vector: npt.ArrayLike, topics: Sequence[Topic | PreviousTopic], spreads: Sequence[float]
) -> int:
    """The id of the topic a new statement joins: the most similar centroid, or "other".

    Parameters
    ----------
    vector : array-like of shape (n_features,)
    topics : sequence of Topic or PreviousTopic
        Candidate topics of one level (pass only topics, or only one topic's subtopics).
    spreads : sequence of float
        Each candidate's spread (see :class:`Topic`): a vector less similar to its nearest
        centroid than that topic's own low-quantile member goes to :data:`OTHER_ID`.

    Returns
    -------
    int
    """
    candidates = [(t, s) for t, s in zip(topics, spreads, strict=True) if t.id != OTHER_ID]
    if not candidates:
        return OTHER_ID
    v = _unit(np.asarray(vector, dtype=np.float64))
    sims = np.vstack([t.centroid for t, _ in candidates]) @ v
    best = int(np.argmax(sims))
    topic, spread = candidates[best]
    return topic.id if sims[best] >= spread else OTHER_ID


_WORD = re.compile(r"[a-z][a-z'-]+")


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS and len(w) > 2]


def topic_keywords(
    texts: Sequence[str], labels: npt.ArrayLike, *, n_keywords: int = 3
) -> dict[int, list[str]]:
    """Keywords per topic by class-based TF-IDF.

    Each topic's statements form one document; a word's weight in a topic is its frequency
    there (relative to the topic's length) times ``log(1 + A / f)``, where ``f`` is its
    frequency over all topics and ``A`` the mean words per topic (BERTopic's c-TF-IDF).

    Parameters
    ----------
    texts : sequence of str
    labels : array-like of shape (n_samples,)
        Topic id of each text.
    n_keywords : int

    Returns
    -------
    dict
        Topic id to its keywords, best first; ties broken alphabetically.
    """
    labels_arr = np.asarray(labels, dtype=np.int64)
    counts: dict[int, dict[str, int]] = {}
    for text, label in zip(texts, labels_arr.tolist(), strict=True):
        bag = counts.setdefault(label, {})
        for word in _words(text):
            bag[word] = bag.get(word, 0) + 1
    totals: dict[str, int] = {}
    for bag in counts.values():
        for word, c in bag.items():
            totals[word] = totals.get(word, 0) + c
    mean_words = sum(totals.values()) / max(len(counts), 1)
    out: dict[int, list[str]] = {}
    for label, bag in counts.items():
        size = max(sum(bag.values()), 1)
        weight = {w: (c / size) * math.log(1 + mean_words / totals[w]) for w, c in bag.items()}
        # A word said once in the topic names nothing about it, unless that is all there is.
        repeated = {w: s for w, s in weight.items() if bag[w] > 1} or weight
        out[label] = sorted(repeated, key=lambda w: (-repeated[w], w))[:n_keywords]
    return out
