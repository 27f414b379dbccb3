import numpy as np
import pytest

from clustering.matrix import build_vote_matrix


def test_last_vote_per_pair_wins_and_passes_stay_stored() -> None:
    matrix = build_vote_matrix([5, 5, 9, 5], [1, 2, 1, 1], [1, 0, -1, -1])
    assert matrix.participant_ids.tolist() == [5, 9]
    assert matrix.statement_ids.tolist() == [1, 2]
    assert matrix.votes.nnz == 3
    assert matrix.votes.toarray().tolist() == [[-1, 0], [-1, 0]]
    assert matrix.votes.indptr.tolist() == [0, 2, 3]


def test_row_order_does_not_change_the_matrix() -> None:
    rng = np.random.default_rng(0)
    pids = rng.integers(0, 1000, 5000) * 7
    sids = rng.integers(0, 50, 5000)
    vals = rng.integers(-1, 2, 5000)
    key = pids * 100 + sids
    _, first = np.unique(key, return_index=True)
    pids, sids, vals = pids[first], sids[first], vals[first]
    order = rng.permutation(len(pids))
    a = build_vote_matrix(pids, sids, vals)
    b = build_vote_matrix(pids[order], sids[order], vals[order])
    assert np.array_equal(a.participant_ids, b.participant_ids)
    assert np.array_equal(a.votes.indptr, b.votes.indptr)
    assert np.array_equal(a.votes.indices, b.votes.indices)
    assert np.array_equal(a.votes.data, b.votes.data)


def test_sparse_ids_use_the_sorting_path() -> None:
    matrix = build_vote_matrix([10**12, 3], [7, 7], [1, -1])
    assert matrix.participant_ids.tolist() == [3, 10**12]
    assert matrix.votes.toarray()[:, 0].tolist() == [-1, 1]


@pytest.mark.parametrize("bad", [2, -2])
def test_a_vote_outside_minus_one_to_one_is_rejected(bad: int) -> None:
    with pytest.raises(ValueError, match="vote values"):
        build_vote_matrix([1], [1], [bad])


def test_many_re_votes_keep_the_last_value_of_every_pair() -> None:
    rng = np.random.default_rng(4)
    pids = rng.integers(0, 40, 3000)
    sids = rng.integers(0, 30, 3000)
    vals = rng.integers(-1, 2, 3000)
    last = {(p, s): v for p, s, v in zip(pids.tolist(), sids.tolist(), vals.tolist(), strict=True)}
    matrix = build_vote_matrix(pids, sids, vals)
    dense = matrix.votes.toarray()
    assert matrix.votes.nnz == len(last)
    for (p, s), v in last.items():
        row = np.searchsorted(matrix.participant_ids, p)
        assert dense[row, np.searchsorted(matrix.statement_ids, s)] == v
