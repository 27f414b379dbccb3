"""PCA of the mean-imputed vote matrix as a truncated SVD of a sparse centred matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

__all__ = ["SparsePCA", "column_means", "project_participants", "project_statements"]

FloatArray = npt.NDArray[np.float64]


def column_means(votes: sp.csr_array) -> FloatArray:
    """Mean of the stored votes of every column (passes count as 0); 0 for an empty column.

    Parameters
    ----------
    votes : scipy.sparse.csr_array of shape (n_participants, n_statements)

    Returns
    -------
    ndarray of shape (n_statements,)
    """
    n_cols = votes.shape[1]
    counts = np.bincount(votes.indices, minlength=n_cols)
    sums = np.bincount(votes.indices, weights=votes.data, minlength=n_cols)
    return np.divide(sums, counts, out=np.zeros(n_cols), where=counts > 0)


def _centred(votes: sp.csr_array, means: FloatArray) -> sp.csr_array:
    # Mean imputation makes every empty cell equal to its column mean, so after centring only the
    # stored cells are non-zero: the centred matrix keeps the sparsity pattern of the votes.
    return sp.csr_array(
        (votes.data - means[votes.indices], votes.indices, votes.indptr), shape=votes.shape
    )


@dataclass
class SparsePCA:
    """Principal components of a mean-imputed sparse vote matrix.

    Equivalent to a dense PCA of the matrix whose empty cells hold the column mean, computed from
    the top eigenvectors of ``Xc.T @ Xc`` without ever forming a dense matrix.

    Parameters
    ----------
    n_components : int, default=2
        Number of components.
    random_state : int, default=0
        Seed of the Lanczos start vector when there is no warm start.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_statements)
        Unit-norm components; rows beyond the rank of the data are zero.
    mean_ : ndarray of shape (n_statements,)
        Column means used for the imputation.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Share of the total variance of the imputed matrix carried by each component.
    """

    n_components: int = 2
    random_state: int = 0

    def fit(self, votes: sp.csr_array, warm_components: FloatArray | None = None) -> SparsePCA:
        """Fit the components.

        Parameters
        ----------
        votes : scipy.sparse.csr_array of shape (n_participants, n_statements)
            Votes, empty cells not stored.
        warm_components : ndarray of shape (n_components, n_statements), optional
            Components of a previous run on the same columns: they seed the Lanczos iteration and
            fix the signs, so plots do not flip from run to run.

        Returns
        -------
        self
        """
        n_rows, n_cols = votes.shape
        self.mean_ = column_means(votes)
        centred = _centred(votes, self.mean_)
        total = float(centred.data @ centred.data)
        n_found = min(self.n_components, n_cols, n_rows)
        components = np.zeros((self.n_components, n_cols))
        eigenvalues = np.zeros(self.n_components)
        if n_found > 0 and total > 0:
            values, vectors = self._top_eigenvectors(centred, n_found, warm_components)
            components[:n_found] = vectors.T
            eigenvalues[:n_found] = np.clip(values, 0.0, None)
        self.components_ = _fix_signs(components, warm_components)
        self.explained_variance_ratio_ = eigenvalues / total if total > 0 else eigenvalues
        return self

    def _top_eigenvectors(
        self, centred: sp.csr_array, n_found: int, warm: FloatArray | None
    ) -> tuple[FloatArray, FloatArray]:
        n_cols = centred.shape[1]
        # A transposed view (CSC), not a copy: the product reads the same arrays column-wise.
        transposed = centred.T
        if n_cols <= n_found + 1:
            # ARPACK needs more columns than wanted eigenvectors; such a Gram matrix is tiny.
            gram = (transposed @ centred).toarray()
            values, vectors = np.linalg.eigh(gram)
        else:
            gram_op = LinearOperator(
                (n_cols, n_cols),
                matvec=lambda v: transposed @ (centred @ v),
                dtype=np.float64,
            )
            start = np.random.default_rng(self.random_state).standard_normal(n_cols)
            if warm is not None and np.any(warm):
                # Lanczos from a vector inside the previous top subspace converges in a few
                # steps; the seeded part keeps the Krylov space from being blind to new directions.
                start = warm.sum(axis=0) + 1e-3 * start / np.sqrt(n_cols)
            # A short Lanczos basis restarted to a relative tolerance of 1e-8 takes about half the
            # products of ARPACK's defaults (basis of 20, machine precision), and every product
            # reads the whole vote matrix twice; the components agree to |cos| = 1.000000.
            values, vectors = eigsh(
                gram_op,
                k=n_found,
                which="LA",
                v0=start,
                ncv=min(n_cols, 2 * n_found + 6),
                tol=1e-8,
            )
        order = np.argsort(values)[::-1][:n_found]
        return values[order], vectors[:, order]


def _fix_signs(components: FloatArray, reference: FloatArray | None) -> FloatArray:
    """Orient each component like the reference, or else make its largest entry positive."""
    signs = np.ones(len(components))
    for i, component in enumerate(components):
        if reference is not None and i < len(reference) and component @ reference[i] != 0:
            signs[i] = np.sign(component @ reference[i])
        elif np.any(component):
            signs[i] = np.sign(component[np.argmax(np.abs(component))])
    return components * signs[:, None]


def project_participants(
    votes: sp.csr_array,
    means: FloatArray,
    components: FloatArray,
    n_voted: npt.NDArray[np.int64],
    n_columns: int,
) -> FloatArray:
    """Sparsity-aware projection of participants.

    ``x_p = sqrt(m / max(n_p, 1)) * sum_j over observed (r_pj - mu_j) * pc_j``: scaling by the
    share of statements a participant saw keeps people with few votes from collapsing to the
    centre.

    Parameters
    ----------
    votes : scipy.sparse.csr_array of shape (n_participants, n_statements)
    means : ndarray of shape (n_statements,)
    components : ndarray of shape (n_components, n_statements)
    n_voted : ndarray of shape (n_participants,)
        Number of statements counted as voted per participant (``n_p``).
    n_columns : int
        Number of statements ``m``.

    Returns
    -------
    ndarray of shape (n_participants, n_components)
    """
    raw = _centred(votes, means) @ components.T
    scale = np.sqrt(n_columns / np.maximum(n_voted, 1))
    return np.asarray(raw * scale[:, None], dtype=np.float64)


def project_statements(means: FloatArray, components: FloatArray, n_columns: int) -> FloatArray:
    """Project each statement as a virtual participant who agreed with it and voted nothing else.

    Parameters
    ----------
    means : ndarray of shape (n_statements,)
    components : ndarray of shape (n_components, n_statements)
    n_columns : int
        Number of statements ``m``.

    Returns
    -------
    ndarray of shape (n_statements, n_components)
        ``sqrt(m) * (1 - mu_c) * pc_c``; its row norm is the statement's extremity.
    """
    return np.asarray(np.sqrt(n_columns) * (1.0 - means)[:, None] * components.T)
