r"""Quantities the course measures on iterates and solutions.

Conventions follow :mod:`qsense.descent`: the step is :math:`U \leftarrow U - \eta\nabla f(U)` with
:math:`\nabla f(U) = 2MU`.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_positive, check_symmetric

__all__ = [
    "relative_error",
    "nuclear_norm",
    "effective_rank",
    "numerical_rank",
    "signal_error_split",
    "signal_strength",
    "principal_angles",
    "predicted_learning_times",
    "signal_error_observers",
]


def _sym(X, name):
    X = as_float_array(X, name, ndim=2)
    check_symmetric(X, name, rtol=1e-8)
    return X


def relative_error(X, X_star) -> float:
    r""":math:`\|X - X_\star\|_F / \|X_\star\|_F`."""
    X = as_float_array(X, "X", ndim=2)
    X_star = as_float_array(X_star, "X_star", ndim=2)
    if X.shape != X_star.shape:
        raise ValueError(f"X and X_star must have the same shape, got {X.shape} and {X_star.shape}")
    norm = np.linalg.norm(X_star)
    if norm == 0:
        raise ValueError("X_star must be non-zero for a relative error")
    return float(np.linalg.norm(X - X_star) / norm)


def nuclear_norm(X) -> float:
    r""":math:`\|X\|_* = \sum_i \sigma_i(X)` (for PSD X, the trace)."""
    X = as_float_array(X, "X", ndim=2)
    return float(np.linalg.svd(X, compute_uv=False).sum())


def effective_rank(X) -> float:
    r"""Entropy effective rank :math:`\exp(-\sum_i p_i\log p_i)`, :math:`p_i = \sigma_i/\sum_j\sigma_j`.

    Equals r for a matrix with r equal non-zero singular values, and moves continuously in
    between (Roy and Vetterli, 2007). Small but non-zero eigenvalues count a little, which is
    what we want for the tiny full-rank part that gradient descent leaves behind.
    """
    X = as_float_array(X, "X", ndim=2)
    s = np.linalg.svd(X, compute_uv=False)
    total = s.sum()
    if total == 0:
        return 0.0
    p = s[s > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def numerical_rank(X, rtol: float = 1e-2) -> int:
    r"""Number of singular values above ``rtol`` times the largest."""
    X = as_float_array(X, "X", ndim=2)
    rtol = check_positive(rtol, "rtol")
    s = np.linalg.svd(X, compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def _basis(Z, d):
    Z = as_float_array(Z, "Z", ndim=2)
    if Z.shape[0] != d:
        raise ValueError(f"Z must have d = {d} rows, got shape {Z.shape}")
    if not np.allclose(Z.T @ Z, np.eye(Z.shape[1]), atol=1e-8):
        raise ValueError("Z must have orthonormal columns (Z^T Z = I)")
    return Z


def signal_error_split(U, Z):
    r"""Split :math:`U = S + E` with :math:`S = ZZ^\top U` (signal) and :math:`E = (I - ZZ^\top)U` (error).

    Parameters
    ----------
    U : array_like (d, k)
        An iterate :math:`U_t`.
    Z : array_like (d, r)
        Orthonormal basis of the column space of :math:`X_\star` (``LowRankPSD.Z``).
    """
    U = as_float_array(U, "U", ndim=2)
    Z = _basis(Z, U.shape[0])
    S = Z @ (Z.T @ U)
    return S, U - S


def signal_strength(U, Z) -> float:
    r""":math:`\sigma_{\min}(Z^\top U)`, the smallest singular value of the signal part."""
    U = as_float_array(U, "U", ndim=2)
    Z = _basis(Z, U.shape[0])
    return float(np.linalg.svd(Z.T @ U, compute_uv=False)[-1])


def principal_angles(A, B) -> np.ndarray:
    r"""Principal angles (radians, increasing) between the column spaces of A and B."""
    A = as_float_array(A, "A", ndim=2)
    B = as_float_array(B, "B", ndim=2)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same number of rows, got {A.shape} and {B.shape}")
    Qa, _ = np.linalg.qr(A)
    Qb, _ = np.linalg.qr(B)
    s = np.linalg.svd(Qa.T @ Qb, compute_uv=False)
    return np.arccos(np.clip(s, -1.0, 1.0))


def predicted_learning_times(eigenvalues, alpha: float, eta: float) -> np.ndarray:
    r"""Population-dynamics learning times :math:`t_k = \ln(\sqrt{\lambda_k}/\alpha)/\ln(1 + 2\eta\lambda_k)`.

    From :math:`U_0 = \alpha I` and the step :math:`U \leftarrow U - 2\eta(UU^\top - X_\star)U`,
    the component along eigenvector k evolves as :math:`\sigma \leftarrow \sigma(1 + 2\eta(\lambda_k
    - \sigma^2))`; while :math:`\sigma^2 \ll \lambda_k` it grows geometrically with ratio
    :math:`1+2\eta\lambda_k`, so it reaches :math:`\sqrt{\lambda_k}` after about :math:`t_k` steps.
    With the :math:`(I - \eta' M)U` convention replace :math:`2\eta` by :math:`\eta'`.
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    if np.any(lam <= 0):
        raise ValueError("eigenvalues must be positive")
    alpha = check_positive(alpha, "alpha")
    eta = check_positive(eta, "eta")
    if np.any(np.sqrt(lam) <= alpha):
        raise ValueError("alpha must be smaller than sqrt(lambda_k) for every k (the small-initialisation regime)")
    return np.log(np.sqrt(lam) / alpha) / np.log1p(2 * eta * lam)


def signal_error_observers(Z) -> dict:
    r"""Observers for :func:`qsense.descent.gradient_descent` that record the signal/error split.

    Records ``"signal_min"`` (:math:`\sigma_{\min}(Z^\top U_t)`), ``"error_fro"``
    (:math:`\|E_t\|_F`) and ``"error_op"`` (:math:`\|E_t\|_2`) at the recorded steps.
    """
    Z = as_float_array(Z, "Z", ndim=2)
    P = np.eye(Z.shape[0]) - Z @ Z.T
    return {
        "signal_min": lambda U: np.linalg.svd(Z.T @ U, compute_uv=False)[-1],
        "error_fro": lambda U: np.linalg.norm(P @ U),
        "error_op": lambda U: np.linalg.norm(P @ U, 2),
    }
