"""Synthetic conversations with planted opinion groups, for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SyntheticVotes", "planted_votes"]


@dataclass(frozen=True)
class SyntheticVotes:
    """Votes and the planted group of every participant.

    Attributes
    ----------
    participants, statements : ndarray of int64 of shape (n_votes,)
    values : ndarray of int8 of shape (n_votes,)
    groups : ndarray of int64 of shape (n_participants,)
        Planted group of participant id ``i`` at index ``i``.
    """

    participants: npt.NDArray[np.int64]
    statements: npt.NDArray[np.int64]
    values: npt.NDArray[np.int8]
    groups: npt.NDArray[np.int64]


def planted_votes(
    n_participants: int,
    n_statements: int,
    n_votes: int,
    *,
    n_groups: int = 3,
    pass_rate: float = 0.15,
    random_state: int = 0,
    chunk: int = 1 << 22,
) -> SyntheticVotes:
    """Generate distinct (participant, statement) votes with planted opinion groups.

    Each group has its own agree probability per statement, drawn from Beta(0.5, 0.5) so most
    statements split groups sharply. Votes are drawn in chunks and duplicates are rejected with
    a bitmap, so memory stays near the size of the output (1 bit per matrix cell plus about 40
    bytes per vote while drawing).

    Parameters
    ----------
    n_participants, n_statements, n_votes : int
        ``n_votes`` must not exceed ``n_participants * n_statements``.
    n_groups : int, default=3
        Planted groups; participant sizes are uneven (proportional to 1, 2, ..., n_groups).
    pass_rate : float, default=0.15
    random_state : int, default=0
    chunk : int
        Votes drawn per batch.

    Returns
    -------
    SyntheticVotes
    """
    cells = n_participants * n_statements
    if n_votes > cells:
        raise ValueError("more votes than cells")
    rng = np.random.default_rng(random_state)
    shares = np.arange(1, n_groups + 1, dtype=np.float64)
    groups = rng.choice(n_groups, size=n_participants, p=shares / shares.sum()).astype(np.int64)
    agree = rng.beta(0.5, 0.5, size=(n_groups, n_statements))
    seen = np.zeros(cells // 8 + 1, dtype=np.uint8)
    participants = np.empty(n_votes, dtype=np.int64)
    statements = np.empty(n_votes, dtype=np.int64)
    filled = 0
    while filled < n_votes:
        want = min(chunk, n_votes - filled)
        # Oversample so one round usually fills the chunk despite collisions.
        cell = np.unique(rng.integers(0, cells, size=want + want // 4 + 16))
        cell = cell[(seen[cell >> 3] >> (cell & 7).astype(np.uint8)) & 1 == 0]
        cell = rng.permutation(cell)[:want]
        np.bitwise_or.at(seen, cell >> 3, (1 << (cell & 7)).astype(np.uint8))
        participants[filled : filled + len(cell)] = cell // n_statements
        statements[filled : filled + len(cell)] = cell % n_statements
        filled += len(cell)
    del seen
    p_agree = agree[groups[participants], statements]
    draw = rng.random(n_votes)
    values = np.where(draw < p_agree, 1, -1).astype(np.int8)
    values[rng.random(n_votes) < pass_rate] = 0
    return SyntheticVotes(participants, statements, values, groups)
