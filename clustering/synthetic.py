"""Synthetic conversations with planted opinion groups, for tests and benchmarks."""

from __future__ import annotations

import math
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
) -> SyntheticVotes:
    """Generate distinct (participant, statement) votes with planted opinion groups.

    Each group has its own agree probability per statement, drawn from Beta(0.5, 0.5) so most
    statements split the groups. Every participant votes at least once; the other votes are
    spread uniformly over participants. A participant's statements are an arithmetic
    progression modulo ``n_statements`` with a random start and a stride coprime to it, hence
    distinct without any de-duplication pass: time and memory stay linear in ``n_votes``.

    Parameters
    ----------
    n_participants, n_statements, n_votes : int
        The vote count is exact unless some participant would exceed ``n_statements`` votes.
    n_groups : int, default=3
        Planted groups; sizes are uneven (proportional to 1, 2, ..., n_groups).
    pass_rate : float, default=0.15
    random_state : int, default=0

    Returns
    -------
    SyntheticVotes
    """
    rng = np.random.default_rng(random_state)
    shares = np.arange(1, n_groups + 1, dtype=np.float64)
    groups = rng.choice(n_groups, size=n_participants, p=shares / shares.sum()).astype(np.int64)
    agree = rng.beta(0.5, 0.5, size=(n_groups, n_statements))
    extra = rng.multinomial(
        max(n_votes - n_participants, 0), np.full(n_participants, 1 / n_participants)
    )
    counts = np.minimum(1 + extra, n_statements)
    participants = np.repeat(np.arange(n_participants, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    step = np.arange(len(participants), dtype=np.int64) - np.repeat(starts, counts)
    coprime = np.array(
        [s for s in range(1, max(n_statements, 2)) if math.gcd(s, n_statements) == 1]
    )
    offset = rng.integers(0, n_statements, size=n_participants)[participants]
    stride = rng.choice(coprime, size=n_participants)[participants]
    statements = (offset + step * stride) % n_statements
    del step, offset, stride
    p_agree = agree[groups[participants], statements]
    values = np.where(rng.random(len(participants)) < p_agree, 1, -1).astype(np.int8)
    values[rng.random(len(participants)) < pass_rate] = 0
    return SyntheticVotes(participants, statements, values, groups)
