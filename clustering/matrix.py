"""Canonical sparse vote matrix built from vote triples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["VoteMatrix", "build_vote_matrix"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# A lookup table indexed by id is O(n) where np.unique sorts; it is used while the id range stays
# within this multiple of the number of votes, so memory stays proportional to the input.
_TABLE_RANGE_FACTOR = 4


@dataclass(frozen=True)
class VoteMatrix:
    """Participants x statements matrix of the latest votes.

    Attributes
    ----------
    participant_ids : ndarray of shape (n_participants,)
        Sorted participant ids, one per row.
    statement_ids : ndarray of shape (n_statements,)
        Sorted statement ids, one per column.
    votes : scipy.sparse.csr_array of shape (n_participants, n_statements)
        Canonical CSR (sorted indices, no duplicates) whose stored entries are exactly the cast
        votes, with values in {-1, 0, +1}: a pass is an explicitly stored 0, an empty cell is
        "not voted".
    """

    participant_ids: IntArray
    statement_ids: IntArray
    votes: sp.csr_array

    @property
    def entry_rows(self) -> npt.NDArray[np.int32]:
        """Row index of every stored entry, aligned with ``votes.data``."""
        counts = np.diff(self.votes.indptr)
        return np.repeat(np.arange(len(counts), dtype=np.int32), counts)

    def column_mask(self, ids: npt.ArrayLike) -> BoolArray:
        """Boolean mask over columns whose statement id is in ``ids``."""
        return np.isin(self.statement_ids, np.asarray(ids, dtype=np.int64))

    def row_mask(self, ids: npt.ArrayLike) -> BoolArray:
        """Boolean mask over rows whose participant id is in ``ids``."""
        return np.isin(self.participant_ids, np.asarray(ids, dtype=np.int64))


def _dense_index(ids: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted unique ids and the position of every input id among them."""
    if len(ids) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    low, high = int(ids.min()), int(ids.max())
    span = high - low + 1
    if span > _TABLE_RANGE_FACTOR * len(ids) + 1024:
        unique, inverse = np.unique(ids, return_inverse=True)
        return unique.astype(np.int64), inverse.astype(np.int64)
    offset = ids - low
    present = np.zeros(span, dtype=np.bool_)
    present[offset] = True
    position = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64) + low, position[offset]


def build_vote_matrix(
    participant_ids: npt.ArrayLike,
    statement_ids: npt.ArrayLike,
    values: npt.ArrayLike,
) -> VoteMatrix:
    """Build the canonical vote matrix; the last occurrence of a (participant, statement) wins.

    Parameters
    ----------
    participant_ids, statement_ids : array-like of int of shape (n_votes,)
        Who voted on what.
    values : array-like of int of shape (n_votes,)
        Votes in {-1, 0, +1}, +1 = agree.

    Returns
    -------
    VoteMatrix
        Rows and columns sorted by id, so the result does not depend on the order of the input
        rows (except which of two votes on the same pair comes last).

    Raises
    ------
    ValueError
        If the arrays differ in length or a value is outside {-1, 0, +1}.
    """
    pids = np.asarray(participant_ids, dtype=np.int64).ravel()
    sids = np.asarray(statement_ids, dtype=np.int64).ravel()
    vals = np.asarray(values).ravel()
    if not len(pids) == len(sids) == len(vals):
        raise ValueError("participant_ids, statement_ids and values must have the same length")
    if len(vals) and (vals.min() < -1 or vals.max() > 1 or not np.all(vals == np.round(vals))):
        raise ValueError("vote values must be in {-1, 0, 1}")
    unique_p, rows = _dense_index(pids)
    unique_s, cols = _dense_index(sids)
    shape = (len(unique_p), len(unique_s))
    # Each vote is stored as unit + (value + 2): the linear-time COO->CSR conversion sums
    # duplicates, so a cell's sum tells how many votes it received (sum // unit, since
    # value + 2 <= 3 < unit / n_votes) and, for a single vote, its value; int64 keeps it exact.
    # Passes stay stored entries (3 or unit + 2, never 0).
    unit = 4 * max(len(vals), 1)
    encoded = sp.coo_array((vals.astype(np.int64) + (unit + 2), (rows, cols)), shape=shape).tocsr()
    counts = encoded.data // unit
    data = (encoded.data - unit - 2).astype(np.float64)
    repeated = np.flatnonzero(counts > 1)
    if len(repeated):
        data[repeated] = _last_votes(encoded, repeated, rows, cols, vals)
    matrix = sp.csr_array((data, encoded.indices, encoded.indptr), shape=shape, copy=False)
    return VoteMatrix(unique_p, unique_s, matrix)


def _last_votes(
    encoded: sp.csr_array,
    cells: IntArray,
    rows: IntArray,
    cols: IntArray,
    vals: npt.NDArray[np.generic],
) -> FloatArray:
    """The last vote of every stored cell in ``cells`` (cells that received several votes).

    Only the votes on those cells are sorted, so a few re-votes among millions cost little.
    """
    n_columns = max(encoded.shape[1], 1)
    cell_rows = np.searchsorted(encoded.indptr, cells, side="right") - 1
    # Canonical CSR order is row-major, so these keys come out sorted.
    keys = cell_rows * n_columns + encoded.indices[cells]
    # Only votes of participants who re-voted can be on those cells: a cheap row filter first.
    revoter = np.zeros(encoded.shape[0], dtype=np.bool_)
    revoter[cell_rows] = True
    candidates = np.flatnonzero(revoter[rows])
    vote_keys = rows[candidates] * n_columns + cols[candidates]
    where = np.minimum(np.searchsorted(keys, vote_keys), len(keys) - 1)
    on_cells = keys[where] == vote_keys
    votes_on_cells, where = candidates[on_cells], where[on_cells]
    # Stable: among the votes of one cell, input order is kept, so the last one comes last.
    order = np.argsort(where, kind="stable")
    ends = order[np.flatnonzero(np.append(np.diff(where[order]) != 0, True))]
    return np.asarray(vals[votes_on_cells[ends]], dtype=np.float64)
