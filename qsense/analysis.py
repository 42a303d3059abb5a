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
    "subspace_distance",
    "first_crossing",
    "observed_learning_times",
    "recovery_time",
    "fit_line",
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


def signal_error_observers(Z, keys=None) -> dict:
    r"""Observers for :func:`qsense.descent.gradient_descent` that record the signal/error split.

    With :math:`S_t = ZZ^\top U_t` and :math:`E_t = (I - ZZ^\top)U_t` the observers record, at the
    recorded steps only (no iterate is stored):

    ``"signal_min"``
        :math:`\sigma_{\min}(Z^\top U_t)`, the weakest direction of the signal.
    ``"signal_diag"``
        :math:`(\|z_k^\top U_t\|^2)_{k\le r} = \mathrm{diag}(Z^\top U_tU_t^\top Z)`: how much of
        :math:`U_tU_t^\top` lies along each eigenvector :math:`z_k` of :math:`X_\star` (compare with
        :math:`\lambda_k`).
    ``"error_fro"``, ``"error_op"``
        :math:`\|E_t\|_F` and :math:`\|E_t\|_2`.
    ``"error_perp"``
        :math:`\|E_t(I - P_t)\|_F`, with :math:`P_t` the orthogonal projector onto the row space of
        :math:`Z^\top U_t`: the part of the error that is not attached to the signal (the split of
        Stöger and Soltanolkotabi, 2021). With finitely many measurements the learned directions
        are slightly tilted out of col(:math:`X_\star`), so :math:`E_t` picks up a tilt of the size
        of the signal times the RIP error; :math:`E_t(I - P_t)` excludes that tilt and is what stays
        at the scale :math:`\alpha\sqrt d` of the initialisation.
    ``"angle"``
        :func:`subspace_distance`: the sine of the largest principal angle between the top-r
        eigenspace of :math:`U_tU_t^\top` and the column space of :math:`X_\star`.

    Parameters
    ----------
    Z : array_like (d, r)
        Orthonormal basis of the column space of :math:`X_\star` (``LowRankPSD.Z``).
    keys : list of str, optional
        Record only these (default: all six). ``"signal_diag"`` and ``"error_fro"`` are cheap;
        the others need a singular value decomposition per recorded step.
    """
    Z = as_float_array(Z, "Z", ndim=2)
    Z = _basis(Z, Z.shape[0])
    known = ("signal_min", "signal_diag", "error_fro", "error_op", "error_perp", "angle")
    if keys is None:
        keys = known
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise TypeError("keys must be a list of observer names")
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"keys must be among {known}, got {unknown}")

    def error(U):
        return U - Z @ (Z.T @ U)

    def error_perp(U):
        Q = np.linalg.qr((Z.T @ U).T)[0]  # (k, r): orthonormal basis of the row space of Z^T U
        E = error(U)
        return np.linalg.norm(E - (E @ Q) @ Q.T)

    every = {
        "signal_min": lambda U: np.linalg.svd(Z.T @ U, compute_uv=False)[-1],
        "signal_diag": lambda U: np.sum((Z.T @ U) ** 2, axis=1),
        "error_fro": lambda U: np.linalg.norm(error(U)),
        "error_op": lambda U: np.linalg.norm(error(U), 2),
        "error_perp": error_perp,
        "angle": lambda U: subspace_distance(U, Z),
    }
    return {k: every[k] for k in keys}


def subspace_distance(U, Z) -> float:
    r"""Sine of the largest principal angle between the top-r eigenspace of :math:`UU^\top` and col(Z).

    :math:`UU^\top` has full rank in the over-parameterised model, so its column space is all of
    :math:`\mathbb R^d`; what approaches col(:math:`X_\star`) is the span of its r leading
    eigenvectors (the r leading left singular vectors of U). The value is
    :math:`\|(I - ZZ^\top)V_r\|_2 \in [0, 1]`, 0 when the two subspaces coincide.

    Parameters
    ----------
    U : array_like (d, k)
        The factor :math:`U_t` (k >= r).
    Z : array_like (d, r)
        Orthonormal basis of the column space of :math:`X_\star`.
    """
    U = as_float_array(U, "U", ndim=2)
    Z = _basis(Z, U.shape[0])
    r = Z.shape[1]
    if U.shape[1] < r:
        raise ValueError(f"U must have at least r = {r} columns, got shape {U.shape}")
    V = np.linalg.svd(U, full_matrices=False)[0][:, :r]
    return float(np.sin(principal_angles(V, Z)[-1]))


def first_crossing(steps, values, level, *, direction: str = "up"):
    r"""The first recorded step at which ``values`` reaches ``level``.

    Parameters
    ----------
    steps : array_like of int (n,)
        The recorded steps (``Run.steps``), increasing.
    values : array_like (..., n)
        A recorded quantity; leading axes (for example a batch of runs) are kept.
    level : float or array_like broadcastable to values[..., 0]
        The threshold.
    direction : {"up", "down"}
        ``"up"``: first step with ``value >= level``; ``"down"``: first step with ``value <= level``.

    Returns
    -------
    float or ndarray
        The step, or ``nan`` where the level is never reached. The answer is exact only when
        every step was recorded (``record="all"``); otherwise it is the first recorded step after
        the crossing.
    """
    steps = np.asarray(steps)
    if steps.ndim != 1 or not np.issubdtype(steps.dtype, np.integer):
        raise TypeError("steps must be a 1-D array of integer steps (Run.steps)")
    values = as_float_array(values, "values")
    if values.ndim == 0 or values.shape[-1] != steps.shape[0]:
        raise ValueError(f"values must have the recorded steps ({steps.shape[0]}) on its last axis, got {values.shape}")
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    level = np.asarray(as_float_array(level, "level"))[..., None]
    hit = values >= level if direction == "up" else values <= level
    out = np.where(hit.any(axis=-1), steps[np.argmax(hit, axis=-1)], np.nan)
    return float(out) if out.ndim == 0 else out


def observed_learning_times(steps, signal_diag, eigenvalues, *, fraction: float = 0.5):
    r"""When each eigen-direction is learned: the first step with :math:`\|z_k^\top U_t\|^2 \ge
    \text{fraction}\cdot\lambda_k`.

    Compare with :func:`predicted_learning_times`. With fraction 1/2 the population dynamics
    cross at :math:`t_k` up to a step or two: the growth is geometric until :math:`\sigma^2` is a
    sizeable fraction of :math:`\lambda_k`, then it is fast.

    Parameters
    ----------
    steps : array_like of int (n,)
        ``Run.steps`` (record every step for exact times).
    signal_diag : array_like (..., n, r)
        ``Run.records["signal_diag"]`` from :func:`signal_error_observers`.
    eigenvalues : array_like (r,)
        :math:`\lambda_1,\dots,\lambda_r`.
    fraction : float in (0, 1]
        The level, as a fraction of :math:`\lambda_k`.

    Returns
    -------
    ndarray (..., r)
        The steps (``nan`` if never reached).
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    diag = as_float_array(signal_diag, "signal_diag")
    if diag.ndim < 2 or diag.shape[-1] != lam.shape[0]:
        raise ValueError(f"signal_diag must have shape (..., n, r = {lam.shape[0]}), got {diag.shape}")
    fraction = check_positive(fraction, "fraction")
    if fraction > 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return first_crossing(steps, np.swapaxes(diag, -1, -2), fraction * lam)


def recovery_time(run, tol: float):
    r"""The first recorded step at which the relative error :math:`\|U_tU_t^\top - X_\star\|_F /
    \|X_\star\|_F` is at most ``tol`` (``nan`` if never; an array for a batch of runs).

    Parameters
    ----------
    run : qsense.descent.Run
        A run made with ``target=``.
    tol : float
        Tolerance :math:`\epsilon > 0`.
    """
    tol = check_positive(tol, "tol")
    if getattr(run, "error", None) is None:
        raise ValueError("run must be a qsense Run made with target= (it has no recovery error)")
    return first_crossing(run.steps, run.error, tol, direction="down")


def fit_line(x, y):
    r"""Least-squares line :math:`y \approx a x + b`; returns ``(a, b, R2)``.

    :math:`R^2 = 1 - \sum(y - ax - b)^2 / \sum(y - \bar y)^2`.
    """
    x = as_float_array(x, "x", ndim=1)
    y = as_float_array(y, "y", ndim=1)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got {x.shape} and {y.shape}")
    if np.ptp(x) == 0:
        raise ValueError("x must not be constant")
    a, b = np.polyfit(x, y, 1)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - a * x - b) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return float(a), float(b), r2
