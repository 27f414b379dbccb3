import numpy as np
import scipy.sparse as sp

from clustering.community_notes import CommunityNotes
from clustering.synthetic import planted_votes


def ratings(n_participants: int, n_statements: int, n_votes: int) -> sp.csr_array:
    data = planted_votes(n_participants, n_statements, n_votes, n_groups=2, random_state=6)
    decided = data.values != 0
    return sp.csr_array(
        (
            (data.values[decided] > 0).astype(np.float64),
            (data.participants[decided], data.statements[decided]),
        ),
        shape=(n_participants, n_statements),
    )


def test_many_participants_on_few_statements_converge_in_a_few_sweeps() -> None:
    # Far more participants than statements: the factor scale between the two sides is the
    # slow direction for plain ALS.
    matrix = ratings(20_000, 20, 200_000)
    start = np.linspace(-1.0, 1.0, 20)
    quick = CommunityNotes().fit(matrix, start)
    tight = CommunityNotes(tol=1e-7, max_iter=500).fit(matrix, start)
    assert quick.n_iter_ < 20 and tight.n_iter_ < 500
    assert np.abs(quick.statement_intercepts_ - tight.statement_intercepts_).max() < 1e-4
