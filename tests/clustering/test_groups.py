import numpy as np
from sklearn.metrics import adjusted_rand_score

from clustering.groups import BaseClusters, choose_groups, fit_base_clusters


def two_blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.vstack([rng.normal(-3, 0.5, (n, 2)), rng.normal(3, 0.5, (n, 2))])


def test_cold_base_clusters_start_from_the_first_distinct_points() -> None:
    points = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    base = fit_base_clusters(points)
    assert base.ids.tolist() == [0, 1]
    assert base.centres.tolist() == [[0.0, 0.0], [5.0, 5.0]]
    assert base.labels.tolist() == [0, 0, 1]


def test_warm_base_clusters_keep_their_ids_and_new_ones_take_fresh_ids() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 2))
    first = fit_base_clusters(points[:150])
    previous = np.concatenate([first.labels, np.full(150, -1)])
    second = fit_base_clusters(points, previous_labels=previous, previous_ids=first.ids + 1000)
    assert np.all(np.diff(second.ids) > 0)
    carried = second.ids < 1100
    assert carried.sum() >= 90 and np.all(second.ids[~carried] > first.ids.max() + 1000)


def test_groups_restart_from_their_previous_members() -> None:
    rng = np.random.default_rng(1)
    base = fit_base_clusters(two_blobs(200, rng))
    cold = choose_groups(base, max_k=2)[2]
    # Previous memberships swapped: the warm run keeps that numbering instead of re-seeding.
    warm = choose_groups(base, max_k=2, previous={2: 1 - cold.labels})[2]
    assert np.array_equal(warm.labels, 1 - cold.labels)
    assert sorted(warm.weights.tolist()) == [200.0, 200.0]


def test_group_k_is_skipped_when_a_group_would_hold_one_participant() -> None:
    points = np.vstack([np.zeros((10, 2)), np.full((10, 2), 5.0), [[50.0, 50.0]]])
    clusterings = choose_groups(fit_base_clusters(points), max_k=3)
    assert 2 in clusterings and all(c.weights.min() >= 2 for c in clusterings.values())


def test_cold_groups_try_seedings_besides_polis_start_and_keep_the_lowest_inertia() -> None:
    rng = np.random.default_rng(2)
    blobs = np.repeat([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]], 6, axis=0)
    centres = blobs + rng.normal(0, 0.3, blobs.shape)
    # Polis's start takes the first distinct centres: two from the first blob.
    centres[[1, 6]] = centres[[6, 1]]
    base = BaseClusters(np.arange(18), centres, np.full(18, 5.0), np.arange(18))
    truth = np.repeat([0, 1, 2], 6)
    truth[[1, 6]] = truth[[6, 1]]
    polis_only = choose_groups(base, max_k=3, seedings=0)[3]
    seeded = choose_groups(base, max_k=3, seedings=10)[3]
    assert adjusted_rand_score(truth, seeded.labels) == 1.0
    assert adjusted_rand_score(truth, polis_only.labels) < 1.0


def test_beyond_polis_cap_base_clusters_still_label_everyone_by_nearest_centre() -> None:
    points = two_blobs(60_000, np.random.default_rng(3))
    base = fit_base_clusters(points)
    assert len(base.centres) == 100 and base.weights.sum() == len(points)
    nearest = ((points[:, None, :] - base.centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.array_equal(base.labels, nearest)
