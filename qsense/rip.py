r"""The restricted isometry property, measured: isometry ratios and estimates of :math:`\delta_r`.

An operator :math:`\mathcal A` satisfies :math:`(r,\delta)`-RIP when

.. math::

    (1-\delta)\|X\|_F^2 \;\le\; \frac1m\|\mathcal A(X)\|^2 \;\le\; (1+\delta)\|X\|_F^2
    \qquad\text{for every symmetric } X \text{ of rank} \le r .

The smallest such :math:`\delta` is the restricted isometry constant :math:`\delta_r`. It is the
largest deviation of the *isometry ratio*

.. math::

    \rho(X) = \frac{\tfrac1m\sum_i\langle A_i, X\rangle^2}{\|X\|_F^2}

from 1 over all matrices of rank at most :math:`r`. Computing it exactly is intractable in general,
so everything here is an **estimate from below**: any ratio we evaluate is a ratio of some rank-r
matrix, hence :math:`|\rho(X) - 1| \le \delta_r`. Random probes give a weak lower bound;
:func:`estimate_rip` adds a search for bad directions (projected ascent on :math:`\rho` over
rank-r matrices), which gives a better one. :func:`unrestricted_isometry` gives the one bound
from above that is cheap to compute: the extreme eigenvalues of :math:`\tfrac1m\mathcal A^*\mathcal A`
on all of :math:`\mathrm{Sym}(d)`, which bound :math:`\delta_r` for every r (and are useless when
:math:`m < d(d+1)/2`, since then some matrix has ratio 0).

All functions work through the public :class:`~qsense.sensing.SensingOperator` interface
(``measure`` and ``adjoint`` on stacks of matrices), so they apply to every operator in
:mod:`qsense.sensing` and to any :class:`~qsense.sensing.DenseOperator` built by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validation import as_float_array, check_int, check_positive, check_rng, check_symmetric
from .sensing import SensingOperator
from .symmetric import smat, sym_dim

__all__ = [
    "random_low_rank",
    "truncate_rank",
    "isometry_ratio",
    "probe_ratios",
    "RIPEstimate",
    "estimate_rip",
    "IsometryRange",
    "unrestricted_isometry",
]

# Probes are drawn and measured in batches holding at most this many matrix entries (32 MB).
_BATCH_ENTRIES = 4_000_000


# --- input checks ------------------------------------------------------------------------------
def _check_operator(operator) -> SensingOperator:
    if not isinstance(operator, SensingOperator):
        raise TypeError(f"operator must be a qsense.sensing.SensingOperator, got {type(operator).__name__}")
    return operator


def _check_rank(r, d: int) -> int:
    return check_int(r, "r", minimum=1, maximum=d)


def _check_stack(X, name: str, d: int) -> np.ndarray:
    X = as_float_array(X, name)
    if X.ndim < 2 or X.shape[-2:] != (d, d):
        raise ValueError(f"{name} must have shape (..., {d}, {d}) to match the operator's dimension "
                         f"d = {d}, got {X.shape}")
    check_symmetric(X, name, rtol=1e-8)
    return X


# --- random rank-r matrices and rank truncation ------------------------------------------------
def random_low_rank(d: int, r: int, n: int | None = None, *, psd: bool = False, seed=None) -> np.ndarray:
    r"""Random symmetric matrices of rank exactly :math:`r` and unit Frobenius norm.

    :math:`X = Q\,\mathrm{diag}(\lambda)\,Q^\top` with :math:`Q` a uniformly random
    :math:`d\times r` orthonormal frame and :math:`\lambda` uniform on the unit sphere of
    :math:`\mathbb R^r` (its absolute value when ``psd``), so :math:`\|X\|_F = 1`.

    Parameters
    ----------
    d : int
        Dimension :math:`d`.
    r : int
        Rank :math:`r`, ``1 <= r <= d``.
    n : int, optional
        Number of matrices; ``None`` returns one matrix (d, d), an int a stack (n, d, d).
    psd : bool
        Draw positive semidefinite matrices only.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    ndarray (d, d) or (n, d, d)
    """
    d = check_int(d, "d", minimum=1)
    r = _check_rank(r, d)
    single = n is None
    n = 1 if single else check_int(n, "n", minimum=1)
    rng = check_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, d, r)))
    lam = rng.standard_normal((n, r))
    if psd:
        lam = np.abs(lam)
    lam /= np.linalg.norm(lam, axis=-1, keepdims=True)
    X = (Q * lam[:, None, :]) @ np.swapaxes(Q, -1, -2)
    X = (X + np.swapaxes(X, -1, -2)) / 2
    return X[0] if single else X


def _truncate(X: np.ndarray, r: int) -> np.ndarray:
    """Best rank-r approximation of a stack of symmetric matrices (no checks)."""
    lam, V = np.linalg.eigh(X)
    keep = np.argsort(-np.abs(lam), axis=-1)[..., :r]
    lam = np.take_along_axis(lam, keep, axis=-1)
    V = np.take_along_axis(V, keep[..., None, :], axis=-1)
    Y = (V * lam[..., None, :]) @ np.swapaxes(V, -1, -2)
    return (Y + np.swapaxes(Y, -1, -2)) / 2


def truncate_rank(X, r: int) -> np.ndarray:
    r"""The best rank-:math:`r` approximation :math:`P_r(X)` of a symmetric matrix (or a stack).

    Keeps the :math:`r` eigenvalues of largest absolute value (Eckart–Young for symmetric
    matrices); :math:`P_r(X)` is also the rank-r matrix :math:`Y` maximising
    :math:`\langle X, Y\rangle` for a given :math:`\|Y\|_F`.

    Parameters
    ----------
    X : array_like (d, d) or (..., d, d)
        Symmetric matrices :math:`X`.
    r : int
        Target rank :math:`r`, ``1 <= r <= d``.
    """
    X = as_float_array(X, "X")
    if X.ndim < 2 or X.shape[-1] != X.shape[-2]:
        raise ValueError(f"X must be a square matrix or a stack (..., d, d), got shape {X.shape}")
    check_symmetric(X, "X", rtol=1e-8)
    return _truncate(X, _check_rank(r, X.shape[-1]))


# --- ratios -----------------------------------------------------------------------------------
def _ratio_unchecked(operator, X):
    y = operator.measure(X)
    return np.sum(y * y, axis=-1) / operator.m / np.sum(X * X, axis=(-2, -1))


def isometry_ratio(operator, X):
    r"""The isometry ratio :math:`\rho(X) = \tfrac1m\|\mathcal A(X)\|^2 / \|X\|_F^2`.

    Parameters
    ----------
    operator : SensingOperator
        The measurement operator :math:`\mathcal A`.
    X : array_like (d, d) or (..., d, d)
        Non-zero symmetric matrices :math:`X`; a stack is measured in one call.

    Returns
    -------
    float or ndarray (...)
        :math:`\rho(X)`; exactly 1 on average over Gaussian operators, and within
        :math:`[1-\delta_r, 1+\delta_r]` for every X of rank at most r.
    """
    operator = _check_operator(operator)
    X = _check_stack(X, "X", operator.d)
    if np.any(np.sum(X * X, axis=(-2, -1)) == 0):
        raise ValueError("X must be non-zero: the ratio of a zero matrix is undefined")
    out = _ratio_unchecked(operator, X)
    return float(out) if X.ndim == 2 else out


def _probes(operator, r, n_probes, rng, psd, keep):
    """Ratios of n random rank-r probes, plus the `keep` highest and lowest probes themselves."""
    d = operator.d
    batch = max(1, _BATCH_ENTRIES // (d * d))
    ratios = np.empty(n_probes)
    top = np.empty((0, d, d))
    top_ratio = np.empty(0)
    bottom = np.empty((0, d, d))
    bottom_ratio = np.empty(0)
    for start in range(0, n_probes, batch):
        stop = min(n_probes, start + batch)
        X = random_low_rank(d, r, stop - start, psd=psd, seed=rng)
        rho = _ratio_unchecked(operator, X)
        ratios[start:stop] = rho
        if keep:
            top = np.concatenate([top, X]); top_ratio = np.concatenate([top_ratio, rho])
            order = np.argsort(-top_ratio)[:keep]
            top, top_ratio = top[order], top_ratio[order]
            bottom = np.concatenate([bottom, X]); bottom_ratio = np.concatenate([bottom_ratio, rho])
            order = np.argsort(bottom_ratio)[:keep]
            bottom, bottom_ratio = bottom[order], bottom_ratio[order]
    return ratios, top, bottom


def probe_ratios(operator, r: int, n_probes: int = 1000, *, psd: bool = False, seed=None) -> np.ndarray:
    r"""Isometry ratios of ``n_probes`` random rank-:math:`r` matrices (see :func:`random_low_rank`).

    Vectorised: the probes are measured in batches of stacked matrices. The largest
    :math:`|\rho - 1|` among them is a (usually weak) lower bound on :math:`\delta_r`.

    Parameters
    ----------
    operator : SensingOperator
        The measurement operator :math:`\mathcal A`.
    r : int
        Rank :math:`r` of the probes, ``1 <= r <= d``.
    n_probes : int
        Number of probes, at least 1.
    psd : bool
        Probe positive semidefinite matrices only.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    ndarray (n_probes,)
    """
    operator = _check_operator(operator)
    r = _check_rank(r, operator.d)
    n_probes = check_int(n_probes, "n_probes", minimum=1)
    ratios, _, _ = _probes(operator, r, n_probes, check_rng(seed), psd, keep=0)
    return ratios


# --- the adversarial search -------------------------------------------------------------------
@dataclass(frozen=True)
class RIPEstimate:
    r"""Result of :func:`estimate_rip`: a **lower bound** on the restricted isometry constant.

    Attributes
    ----------
    r : int
        The rank :math:`r`.
    delta : float
        :math:`\max(\rho_{\max} - 1,\, 1 - \rho_{\min})` over every matrix evaluated (probes and
        search). Every one of them has rank :math:`\le r`, so ``delta <= delta_r``: this is a
        lower bound on :math:`\delta_r`, never a certificate that RIP holds.
    upper, lower : float
        The largest and smallest ratios found, :math:`\rho_{\max}` and :math:`\rho_{\min}`.
    X_upper, X_lower : ndarray (d, d)
        Unit-Frobenius rank-r matrices attaining them (the "bad directions").
    delta_probes : float
        The estimate from the random probes alone.
    delta_search : float
        The estimate from the search alone. With ``warm_start`` the search starts include the
        most extreme probes and ascends monotonically, so ``delta_search >= delta_probes``.
    probe_ratios : ndarray (n_probes,)
        The ratios of the random probes.
    history_upper, history_lower : ndarray (iterations + 1,)
        Best ratio above / below 1 found by the search after each iteration.
    iterations : int
        Search iterations run (all starts advance together).
    """

    r: int
    delta: float
    upper: float
    lower: float
    X_upper: np.ndarray
    X_lower: np.ndarray
    delta_probes: float
    delta_search: float
    probe_ratios: np.ndarray
    history_upper: np.ndarray
    history_lower: np.ndarray
    iterations: int

    def __repr__(self) -> str:
        return (f"RIPEstimate(r={self.r}, delta>={self.delta:.4g} [ratios {self.lower:.4g}..{self.upper:.4g}; "
                f"probes alone {self.delta_probes:.4g}], iterations={self.iterations})")


def estimate_rip(operator, r: int, *, n_probes: int = 200, n_starts: int = 4, steps: int = 100,
                 warm_start: bool = True, starts=None, psd: bool = False, tol: float = 1e-4,
                 seed=None) -> RIPEstimate:
    r"""Estimate :math:`\delta_r` from below by searching for bad rank-:math:`r` directions.

    Two stages. (1) ``n_probes`` random rank-r probes (:func:`probe_ratios`). (2) A search,
    vectorised over all starts, on the unit Frobenius sphere of rank-r matrices, with
    :math:`N = \tfrac1m\mathcal A^*\mathcal A` (one ``measure`` and one ``adjoint`` per step):

    * upwards, the truncated power step :math:`X \leftarrow P_r(NX)/\|P_r(NX)\|_F`. Because
      :math:`\langle X, NX\rangle` is convex and :math:`P_r(G)/\|P_r(G)\|_F` maximises
      :math:`\langle G, Y\rangle` over unit rank-r :math:`Y`, the ratio never decreases;
    * downwards, projected gradient steps :math:`X \leftarrow P_r(X - \mu NX)/\|\cdot\|_F`, a step
      being kept only if the ratio decreases; :math:`\mu` grows by 1.5 after a kept step and halves
      after a rejected one.

    Each side runs from ``n_starts`` random rank-r starts (plus, with ``warm_start``, the most
    extreme probe on that side, plus any ``starts`` given) for at most ``steps`` iterations, and
    stops early once no start improves its ratio by more than ``tol`` (relative).

    The result is a lower bound on :math:`\delta_r`: the search can miss the worst direction
    (the problem is non-convex), and finding it is intractable in general.

    Parameters
    ----------
    operator : SensingOperator
        The measurement operator :math:`\mathcal A` (any operator in :mod:`qsense.sensing`).
    r : int
        Rank :math:`r`, ``1 <= r <= d``.
    n_probes : int
        Number of random probes, at least 1.
    n_starts : int
        Random starts per side for the search, at least 0 (0 with ``warm_start=False`` and no
        ``starts`` means: probes only).
    steps : int
        Maximum search iterations, at least 0.
    warm_start : bool
        Also start from the highest- and the lowest-ratio probe.
    starts : array_like (k, d, d), optional
        Extra symmetric starting matrices, used on both sides (truncated to rank r, normalised).
    psd : bool
        Restrict probes and random starts to PSD matrices (the search itself is over all
        symmetric rank-r matrices, as in the definition).
    tol : float
        Relative improvement below which a start counts as converged.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    RIPEstimate
    """
    operator = _check_operator(operator)
    d, m = operator.d, operator.m
    r = _check_rank(r, d)
    n_probes = check_int(n_probes, "n_probes", minimum=1)
    n_starts = check_int(n_starts, "n_starts", minimum=0)
    steps = check_int(steps, "steps", minimum=0)
    tol = check_positive(tol, "tol")
    rng = check_rng(seed)
    extra = np.empty((0, d, d))
    if starts is not None:
        extra = _check_stack(starts, "starts", d)
        extra = extra.reshape((-1, d, d))
        extra = _truncate(extra, r)
        norms = np.linalg.norm(extra, axis=(-2, -1))
        if np.any(norms == 0):
            raise ValueError("starts must be non-zero matrices")
        extra = extra / norms[:, None, None]

    ratios, top, bottom = _probes(operator, r, n_probes, rng, psd, keep=1)
    delta_probes = float(max(ratios.max() - 1.0, 1.0 - ratios.min()))
    fresh = random_low_rank(d, r, 2 * n_starts, psd=psd, seed=rng) if n_starts else np.empty((0, d, d))
    warm_up, warm_down = (top, bottom) if warm_start else (np.empty((0, d, d)),) * 2
    up = np.concatenate([warm_up, fresh[:n_starts], extra])
    down = np.concatenate([warm_down, fresh[n_starts:], extra])
    if len(up) == 0:                                       # nothing to search: the probes alone
        return RIPEstimate(r=r, delta=delta_probes, upper=float(ratios.max()), lower=float(ratios.min()),
                           X_upper=top[0], X_lower=bottom[0], delta_probes=delta_probes,
                           delta_search=float("nan"), probe_ratios=ratios,
                           history_upper=np.empty(0), history_lower=np.empty(0), iterations=0)

    k_up = len(up)
    X = np.concatenate([up, down])
    is_up = np.arange(len(X)) < k_up
    G = operator.adjoint(operator.measure(X)) / m
    f = np.sum(X * G, axis=(-2, -1))                      # ||X||_F = 1, so f is the ratio
    mu = np.full(len(X), 1.0 / max(float(f.max()), ratios.max()))
    hist_up, hist_down = [f[is_up].max()], [f[~is_up].min()]
    it = 0
    for it in range(1, steps + 1):
        step = np.where(is_up[:, None, None], G, X - mu[:, None, None] * G)
        Y = _truncate(step, r)
        norms = np.linalg.norm(Y, axis=(-2, -1))
        ok = norms > 0
        Y[ok] /= norms[ok, None, None]
        GY = operator.adjoint(operator.measure(Y)) / m
        fY = np.sum(Y * GY, axis=(-2, -1))
        better = ok & np.where(is_up, fY >= f, fY < f)
        gain = np.where(better, np.abs(fY - f), 0.0)
        X[better], G[better], f[better] = Y[better], GY[better], fY[better]
        mu = np.where(better, 1.5 * mu, 0.5 * mu)
        hist_up.append(f[is_up].max())
        hist_down.append(f[~is_up].min())
        # converged: no kept step moved a ratio by more than tol, and the downward steps are not
        # merely being shrunk after rejections.
        stalled_down = (~is_up) & ~better & (mu * max(f.max(), 1.0) > 1e-8)
        if np.all(gain <= tol * np.abs(f)) and not np.any(stalled_down):
            break

    j_hi = int(np.argmax(np.where(is_up, f, -np.inf)))
    j_lo = int(np.argmin(np.where(is_up, np.inf, f)))
    s_hi, s_lo = float(f[j_hi]), float(f[j_lo])
    delta_search = max(s_hi - 1.0, 1.0 - s_lo)
    # Report the extremes over everything evaluated (a probe can beat a search that did not start
    # from it).
    upper, X_upper = (s_hi, X[j_hi].copy()) if s_hi >= ratios.max() else (float(ratios.max()), top[0])
    lower, X_lower = (s_lo, X[j_lo].copy()) if s_lo <= ratios.min() else (float(ratios.min()), bottom[0])
    return RIPEstimate(r=r, delta=float(max(upper - 1.0, 1.0 - lower)), upper=upper, lower=lower,
                       X_upper=X_upper, X_lower=X_lower, delta_probes=delta_probes,
                       delta_search=float(delta_search), probe_ratios=ratios,
                       history_upper=np.asarray(hist_up), history_lower=np.asarray(hist_down),
                       iterations=it)


# --- the one cheap upper bound ------------------------------------------------------------------
class IsometryRange(NamedTuple):
    r"""Extreme eigenvalues of :math:`N = \tfrac1m\mathcal A^*\mathcal A` on all of :math:`\mathrm{Sym}(d)`.

    Attributes
    ----------
    lower : float
        :math:`\lambda_{\min}(N)`, the smallest ratio of any symmetric matrix.
    upper : float
        :math:`\lambda_{\max}(N)`, the largest ratio of any symmetric matrix.
    delta : float
        :math:`\delta_d = \max(\lambda_{\max} - 1, 1 - \lambda_{\min})`, an upper bound on every
        :math:`\delta_r`.
    """

    lower: float
    upper: float
    delta: float


def unrestricted_isometry(operator) -> IsometryRange:
    r"""The exact isometry range of :math:`\mathcal A` on *all* symmetric matrices (rank up to d).

    Without the rank restriction the extreme ratios are the extreme eigenvalues of the
    :math:`D\times D` matrix :math:`N = \tfrac1m\Phi^\top\Phi`, :math:`D = d(d+1)/2`, where row i of
    :math:`\Phi` is :math:`\mathrm{svec}(A_i)` (obtained by measuring an orthonormal basis of
    :math:`\mathrm{Sym}(d)`). So :math:`\delta_d` is computable, and since the rank-r matrices are
    a subset, :math:`\delta_r \le \delta_d` for every r. When :math:`m < D`, :math:`N` is singular,
    ``lower`` is 0 and the bound says nothing; it is informative only when :math:`m \gg D`.

    Parameters
    ----------
    operator : SensingOperator
        The measurement operator :math:`\mathcal A`; needs :math:`D\cdot m \le 5\cdot10^7`.

    Returns
    -------
    IsometryRange
    """
    operator = _check_operator(operator)
    d, m = operator.d, operator.m
    D = sym_dim(d)
    if D * max(m, D) > 50_000_000:
        raise ValueError(f"unrestricted_isometry builds a {D} x {m} matrix; it is meant for small operators "
                         "(d(d+1)/2 * m <= 5e7)")
    basis = smat(np.eye(D), d)                             # orthonormal basis of Sym(d)
    phi_t = np.asarray(operator.measure(basis), dtype=np.float64)   # (D, m) = Phi^T
    if m < D:
        eig = np.linalg.eigvalsh(phi_t.T @ phi_t / m)      # the non-zero spectrum, m x m
        lo, hi = 0.0, float(eig[-1])
    else:
        eig = np.linalg.eigvalsh(phi_t @ phi_t.T / m)
        lo, hi = float(max(eig[0], 0.0)), float(eig[-1])
    return IsometryRange(lo, hi, max(hi - 1.0, 1.0 - lo))
