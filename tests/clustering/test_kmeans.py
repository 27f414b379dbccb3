import numpy as np

from clustering.kmeans import KMeans, clean_start, first_distinct


def test_first_distinct_takes_the_first_distinct_rows_in_order() -> None:
    points = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0], [5.0, 5.0]])
    assert first_distinct(points, 3).tolist() == [[1.0, 1.0], [0.0, 2.0], [3.0, 0.0]]


def test_first_distinct_returns_fewer_when_points_coincide() -> None:
    points = np.zeros((50, 2))
    points[40] = [1.0, 0.0]
    assert first_distinct(points, 3).tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_clean_start_recentres_previous_clusters_on_their_members() -> None:
    points = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [12.0, 0.0], [5.0, 0.0]])
    previous = np.array([1, 1, 0, 0, -1])
    centres, origin = clean_start(points, np.ones(5), previous, 2)
    assert centres.tolist() == [[11.0, 0.0], [1.0, 0.0]]
    assert origin.tolist() == [0, 1]


def test_clean_start_drops_empty_clusters_and_splits_off_the_farthest_point() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [9.0, 0.0]])
    # Cluster 0 lost its members; cluster 1 holds everyone, the point at 9 is farthest.
    previous = np.array([1, 1, 1])
    centres, origin = clean_start(points, np.ones(3), previous, 2)
    assert centres.tolist() == [[0.5, 0.0], [9.0, 0.0]]
    assert origin.tolist() == [1, -1]


def test_clean_start_merges_clusters_that_land_on_the_same_point() -> None:
    points = np.array([[1.0, 1.0], [1.0, 1.0], [4.0, 4.0]])
    centres, origin = clean_start(points, np.ones(3), np.array([0, 1, -1]), 2)
    assert centres.tolist() == [[1.0, 1.0], [4.0, 4.0]]
    assert origin.tolist() == [0, -1]


def test_kmeans_weights_pull_the_centres_and_drop_empty_clusters() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    weights = np.array([1.0, 3.0, 2.0])
    model = KMeans().fit(points, np.array([[0.0, 0.0], [10.0, 0.0], [100.0, 0.0]]), weights)
    assert model.cluster_centers_.tolist() == [[0.75, 0.0], [10.0, 0.0]]
    assert model.kept_.tolist() == [0, 1]
    assert model.weights_.tolist() == [4.0, 2.0]
    assert model.labels_.tolist() == [0, 0, 1]
