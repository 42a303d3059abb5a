r"""Ground truths: planted low-rank PSD matrices :math:`X_\star = U_\star U_\star^\top`.

Everything random takes ``seed=`` (an int or a ``numpy.random.Generator``); nothing reads numpy's
global random state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, check_int, check_positive, check_rng, check_symmetric

__all__ = ["LowRankPSD", "planted_psd", "spectrum_with_condition", "as_target"]


@dataclass(frozen=True)
class LowRankPSD:
    r"""A rank-r PSD ground truth :math:`X_\star = Z\,\mathrm{diag}(\lambda)\,Z^\top`.

    Attributes
    ----------
    X : ndarray (d, d)
        :math:`X_\star`.
    eigenvalues : ndarray (r,)
        :math:`\lambda_1 \ge \dots \ge \lambda_r > 0`.
    Z : ndarray (d, r)
        Orthonormal eigenvectors, a basis of the column space of :math:`X_\star`.
    """

    X: np.ndarray
    eigenvalues: np.ndarray
    Z: np.ndarray

    @property
    def d(self) -> int:
        """Dimension :math:`d`."""
        return self.X.shape[0]

    @property
    def rank(self) -> int:
        """Rank :math:`r`."""
        return self.eigenvalues.shape[0]

    @property
    def U(self) -> np.ndarray:
        r""":math:`U_\star = Z\,\mathrm{diag}(\sqrt\lambda)`, so that :math:`U_\star U_\star^\top = X_\star`."""
        return self.Z * np.sqrt(self.eigenvalues)

    @property
    def condition_number(self) -> float:
        r""":math:`\kappa = \lambda_1/\lambda_r`."""
        return float(self.eigenvalues[0] / self.eigenvalues[-1])


def spectrum_with_condition(r: int, kappa: float) -> np.ndarray:
    r"""Eigenvalues :math:`1 = \lambda_1 \ge \dots \ge \lambda_r = 1/\kappa`, geometrically spaced."""
    r = check_int(r, "r", minimum=1)
    kappa = check_positive(kappa, "kappa")
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1 (it is lambda_1/lambda_r), got {kappa}")
    return np.geomspace(1.0, 1.0 / kappa, r) if r > 1 else np.ones(1)


def planted_psd(d: int, r: int | None = None, *, spectrum=None, kappa: float | None = None,
                seed=None) -> LowRankPSD:
    r"""Draw a rank-r PSD matrix with a chosen spectrum and a uniformly random column space.

    Parameters
    ----------
    d : int
        Dimension :math:`d` of :math:`X_\star \in \mathbb R^{d\times d}`.
    r : int, optional
        Rank :math:`r` (``1 <= r <= d``). May be omitted when ``spectrum`` is given.
    spectrum : array_like of r positive floats, optional
        Eigenvalues :math:`\lambda_k`; sorted in decreasing order. Default: all ones, or the
        geometric spectrum from 1 to ``1/kappa`` when ``kappa`` is given.
    kappa : float, optional
        Condition number :math:`\kappa = \lambda_1/\lambda_r` (with :math:`\lambda_1 = 1`).
        Cannot be combined with ``spectrum``.
    seed : int or numpy.random.Generator, optional
        Randomness for the eigenvectors.

    Returns
    -------
    LowRankPSD
    """
    d = check_int(d, "d", minimum=1)
    if spectrum is not None and kappa is not None:
        raise ValueError("give either spectrum or kappa, not both")
    if spectrum is not None:
        lam = as_float_array(spectrum, "spectrum", ndim=1)
        if lam.size == 0 or np.any(lam <= 0):
            raise ValueError(f"spectrum must be a non-empty list of positive eigenvalues, got {lam}")
        if r is not None and check_int(r, "r", minimum=1) != lam.size:
            raise ValueError(f"r={r} does not match the {lam.size} eigenvalues in spectrum")
        r = lam.size
        lam = np.sort(lam)[::-1].copy()
    else:
        if r is None:
            raise ValueError("r (the rank) is required when spectrum is not given")
        r = check_int(r, "r", minimum=1)
        lam = spectrum_with_condition(r, kappa) if kappa is not None else np.ones(r)
    if r > d:
        raise ValueError(f"r must be <= d, got r={r} > d={d}")
    rng = check_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((d, r)))
    Z = Q * np.sign(np.diag(R))  # Haar-distributed orthonormal columns
    X = (Z * lam) @ Z.T
    X = (X + X.T) / 2
    return LowRankPSD(X=X, eigenvalues=lam, Z=Z)


def as_target(X, name: str = "X_star", *, tol: float = 1e-8) -> LowRankPSD:
    """Validate a user-supplied PSD matrix and wrap it as a :class:`LowRankPSD`.

    Raises ``ValueError`` when ``X`` is not square, not symmetric, not finite or not PSD.
    Eigenvalues below ``tol * max(1, lambda_max)`` count as zero.
    """
    if isinstance(X, LowRankPSD):
        return X
    X = as_float_array(X, name, ndim=2)
    check_symmetric(X, name)
    lam, vecs = np.linalg.eigh((X + X.T) / 2)
    scale = max(1.0, float(lam[-1])) if lam.size else 1.0
    if lam.size and lam[0] < -tol * scale:
        raise ValueError(f"{name} must be positive semidefinite; its smallest eigenvalue is {lam[0]:.3g}")
    keep = lam > tol * scale
    order = np.argsort(lam[keep])[::-1]
    return LowRankPSD(X=X, eigenvalues=lam[keep][order], Z=vecs[:, keep][:, order])
