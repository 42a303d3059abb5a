r"""Measurement operators :math:`\mathcal A : \mathrm{Sym}(d) \to \mathbb R^m`.

Every operator answers the same small interface, which is all the gradient-descent engine uses:

``measure(X)``
    :math:`\mathcal A(X) = (\langle A_i, X\rangle)_{i=1}^m`, for one matrix or a stack ``(..., d, d)``.
``adjoint(r)``
    :math:`\mathcal A^*(r) = \sum_i r_i A_i`, the adjoint: :math:`\langle \mathcal A(X), r\rangle =
    \langle X, \mathcal A^*(r)\rangle_F`.
``measure_factor(U)``
    :math:`\mathcal A(UU^\top)` for ``U`` of shape ``(..., d, k)``; operators may do this without
    forming :math:`UU^\top`.
``adjoint_apply(r, U)``
    :math:`\mathcal A^*(r)\,U`; again possibly matrix-free.

Normalisation: the Gaussian, population and entry-sampling operators are isotropic on average,
:math:`\mathbb E\,\tfrac1m\sum_i\langle A_i,X\rangle^2 = \|X\|_F^2` for symmetric :math:`X`
(exactly so for :class:`PopulationOperator`), so the loss needs no other scaling.
:class:`RankOneOperator` is the exception, on purpose: for :math:`A = xx^\top`,
:math:`\mathbb E\langle A, X\rangle^2 = 2\|X\|_F^2 + (\operatorname{tr}X)^2` (see its docstring).
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_int, check_rng, check_symmetric
from .symmetric import smat, svec, sym_dim

__all__ = [
    "SensingOperator",
    "DenseOperator",
    "GaussianOperator",
    "PopulationOperator",
    "entry_sampling",
    "RankOneOperator",
]


class SensingOperator:
    """Base class: a linear map from symmetric d x d matrices to R^m.

    Subclasses implement ``_measure`` and ``_adjoint`` (on stacks, no input checks) and may
    override ``_measure_factor`` / ``_adjoint_apply`` with faster, matrix-free versions.
    """

    d: int
    m: int
    dtype = np.dtype(np.float64)

    # --- public, validated -------------------------------------------------------------------
    def measure(self, X) -> np.ndarray:
        r""":math:`\mathcal A(X)`: shape (d, d) -> (m,), or (..., d, d) -> (..., m).

        ``X`` must be symmetric (the operator only sees its symmetric part).
        """
        X = as_float_array(X, "X", dtype=self.dtype)
        if X.ndim < 2 or X.shape[-2:] != (self.d, self.d):
            raise ValueError(f"X must have shape (..., {self.d}, {self.d}) for this operator, got {X.shape}")
        check_symmetric(X, "X", rtol=1e-6 if self.dtype == np.float32 else 1e-10)
        return self._measure(X)

    def adjoint(self, r) -> np.ndarray:
        r""":math:`\mathcal A^*(r) = \sum_i r_i A_i`: shape (m,) -> (d, d), or (..., m) -> (..., d, d)."""
        r = as_float_array(r, "r", dtype=self.dtype)
        if r.ndim < 1 or r.shape[-1] != self.m:
            raise ValueError(f"r must have shape (..., {self.m}) for this operator, got {r.shape}")
        return self._adjoint(r)

    def measure_factor(self, U) -> np.ndarray:
        r""":math:`\mathcal A(UU^\top)` for ``U`` of shape (d, k) or (..., d, k)."""
        return self._measure_factor(self._check_factor(U))

    def adjoint_apply(self, r, U) -> np.ndarray:
        r""":math:`\mathcal A^*(r)\,U` for ``r`` (..., m) and ``U`` (..., d, k)."""
        U = self._check_factor(U)
        r = as_float_array(r, "r", dtype=self.dtype)
        if r.shape[-1:] != (self.m,):
            raise ValueError(f"r must have shape (..., {self.m}), got {r.shape}")
        return self._adjoint_apply(r, U)

    def matrices(self) -> np.ndarray:
        r"""The measurement matrices :math:`A_i` as an array (m, d, d). Meant for small sizes."""
        if self.m * self.d * self.d > 50_000_000:
            raise ValueError(f"matrices() would build {self.m} x {self.d} x {self.d} numbers; it is meant "
                             "for small operators (m * d^2 <= 5e7)")
        return self._adjoint(np.eye(self.m, dtype=self.dtype))

    def normal(self, X) -> np.ndarray:
        r""":math:`\tfrac1m\mathcal A^*\mathcal A(X)`, which is close to X when RIP holds."""
        return self.adjoint(self.measure(X)) / self.m

    # --- internal defaults ---------------------------------------------------------------------
    def _check_factor(self, U) -> np.ndarray:
        U = as_float_array(U, "U", dtype=self.dtype)
        if U.ndim < 2 or U.shape[-2] != self.d:
            raise ValueError(f"U must have shape (..., {self.d}, k) for this operator, got {U.shape}")
        return U

    def _measure(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, r):  # pragma: no cover - abstract
        raise NotImplementedError

    def _measure_factor(self, U):
        return self._measure(U @ np.swapaxes(U, -1, -2))

    def _adjoint_apply(self, r, U):
        return self._adjoint(r) @ U

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, m={self.m}, dtype={self.dtype.name})"


class DenseOperator(SensingOperator):
    r"""An operator given by explicit symmetric matrices :math:`A_1,\dots,A_m`.

    Stored once, in the smallest exact form: row i of ``packed`` is :math:`\mathrm{svec}(A_i)`,
    the :math:`d(d+1)/2` independent entries with off-diagonals scaled by :math:`\sqrt2`, so that
    :math:`\langle A_i, X\rangle = \mathrm{svec}(A_i)\cdot\mathrm{svec}(X)`. A gradient step then
    streams :math:`m\,d(d+1)/2` numbers twice, about half of the full :math:`m d^2` layout.

    Parameters
    ----------
    A : array_like (m, d, d)
        Symmetric measurement matrices :math:`A_i`.
    dtype : {float64, float32}
        Storage and arithmetic precision.
    """

    def __init__(self, A, *, dtype=np.float64):
        dtype = _check_dtype(dtype)
        A = as_float_array(A, "A", ndim=3, dtype=np.float64)
        if A.shape[1] != A.shape[2]:
            raise ValueError(f"A must have shape (m, d, d), got {A.shape}")
        if A.shape[0] < 1:
            raise ValueError("A must contain at least one measurement matrix")
        check_symmetric(A, "A")
        self._init_packed(svec(A), A.shape[1], dtype)

    @classmethod
    def from_packed(cls, packed, d: int, *, dtype=np.float64) -> "DenseOperator":
        r"""Build from rows :math:`\mathrm{svec}(A_i)` (shape (m, d(d+1)/2)) without copying the matrices."""
        self = cls.__new__(cls)
        d = check_int(d, "d", minimum=1)
        packed = as_float_array(packed, "packed", ndim=2, dtype=_check_dtype(dtype))
        if packed.shape[1] != sym_dim(d):
            raise ValueError(f"packed must have d(d+1)/2 = {sym_dim(d)} columns, got {packed.shape[1]}")
        self._init_packed(packed, d, packed.dtype)
        return self

    def _init_packed(self, packed, d, dtype):
        self.packed = np.ascontiguousarray(packed, dtype=dtype)
        self.packed.setflags(write=False)
        self.d = d
        self.m = self.packed.shape[0]
        self.dtype = np.dtype(dtype)

    def _measure(self, X):
        v = svec(X)
        if v.ndim == 1:
            return self.packed @ v
        flat = v.reshape(-1, v.shape[-1])
        return (self.packed @ flat.T).T.reshape(v.shape[:-1] + (self.m,))

    def _adjoint(self, r):
        return smat(r @ self.packed, self.d)

    def matrices(self) -> np.ndarray:
        if self.m * self.d * self.d > 50_000_000:
            return super().matrices()  # raises the size error
        return smat(self.packed, self.d)

    @property
    def nbytes(self) -> int:
        """Memory held by the stored operator, in bytes."""
        return self.packed.nbytes


class GaussianOperator(DenseOperator):
    r"""Dense symmetric Gaussian measurements :math:`A_i = (G_i + G_i^\top)/2`, :math:`(G_i)_{jk}\sim N(0,1)`.

    Then :math:`\mathbb E\langle A_i, X\rangle^2 = \|X\|_F^2` for symmetric :math:`X`. In the packed
    coordinates of :class:`DenseOperator` every stored entry is an independent :math:`N(0,1)`
    (diagonal entries have variance 1, off-diagonal ones variance 1/2, times 2), so the operator is
    drawn directly in that form.

    Parameters
    ----------
    d : int
        Dimension :math:`d`.
    m : int
        Number of measurements :math:`m`.
    seed : int or numpy.random.Generator, optional
    dtype : {float64, float32}
    """

    def __init__(self, d: int, m: int, *, seed=None, dtype=np.float64):
        d = check_int(d, "d", minimum=1)
        m = check_int(m, "m", minimum=1)
        dtype = _check_dtype(dtype)
        rng = check_rng(seed)
        # Drawn in float64 whatever the dtype, so that float32 is the same operator, rounded.
        self._init_packed(rng.standard_normal((m, sym_dim(d))), d, dtype)


class PopulationOperator(SensingOperator):
    r"""The ideal operator with :math:`\tfrac1m\mathcal A^*\mathcal A = \mathrm{id}` exactly.

    Realised as the orthonormal basis :math:`E_1,\dots,E_m` of symmetric matrices
    (:math:`m = d(d+1)/2`) scaled by :math:`\sqrt m`: :math:`A_i = \sqrt m\,E_i`. It satisfies RIP
    with :math:`\delta = 0`, and gradient descent on it follows the population dynamics
    :math:`U \leftarrow U - 2\eta(UU^\top - X_\star)U` (infinitely many Gaussian measurements).
    Costs :math:`O(d^2)` memory: nothing is stored.
    """

    def __init__(self, d: int, *, dtype=np.float64):
        self.d = check_int(d, "d", minimum=1)
        self.m = sym_dim(self.d)
        self.dtype = _check_dtype(dtype)
        self._scale = np.sqrt(self.m)

    def _measure(self, X):
        return self._scale * svec(X)

    def _adjoint(self, r):
        return smat(self._scale * r, self.d)


def entry_sampling(d: int, m: int, *, seed=None) -> DenseOperator:
    r"""Observe m entries of the upper triangle, drawn uniformly with replacement (matrix completion).

    Normalised like the others: :math:`A_i = \sqrt{D}\,E_{j_i}` with :math:`E_j` the orthonormal
    basis of symmetric matrices and :math:`D = d(d+1)/2`, so
    :math:`\mathbb E\langle A_i, X\rangle^2 = \|X\|_F^2`. Useful as a contrast: it is far from RIP
    on low-rank matrices that are concentrated on a few entries.
    """
    d = check_int(d, "d", minimum=1)
    m = check_int(m, "m", minimum=1)
    rng = check_rng(seed)
    D = sym_dim(d)
    idx = rng.integers(0, D, size=m)
    packed = np.zeros((m, D))
    packed[np.arange(m), idx] = np.sqrt(D)
    return DenseOperator.from_packed(packed, d)


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


class RankOneOperator(SensingOperator):
    r"""Rank-one measurements :math:`A_i = x_ix_i^\top` (or a centred variant), matrix-free.

    The measurement of a factor is the output of a quadratic-activation network with unit output
    weights: :math:`\langle x_ix_i^\top, UU^\top\rangle = \|U^\top x_i\|^2 = \sum_j (u_j^\top x_i)^2`.
    Only the data :math:`x_1,\dots,x_n` (an n x d array) are stored, never a d x d x n array:

    * ``measure_factor(U)`` = :math:`(\|U^\top x_i\|^2)_i` costs one product :math:`XU`,
      :math:`O(n\,d\,k)`;
    * ``adjoint_apply(r, U)`` = :math:`\sum_i r_i x_i x_i^\top U = X^\top(r \odot XU)` costs two,
      :math:`O(n\,d\,k)`; so does a gradient step of :func:`qsense.descent.gradient_descent`;
    * ``measure(X)`` / ``adjoint(r)`` on explicit d x d matrices cost :math:`O(n\,d^2)`.

    A gradient step calls ``measure_factor(U)`` and then ``adjoint_apply(r, U)`` with the same
    ``U``; the operator keeps :math:`XU` (n x k) between the two calls and reuses it when ``U`` is
    unchanged, so a step costs two n x d x k products, not three. (The cache makes one operator
    object unsafe to share between threads.)

    Centred variants (``centred=``):

    ``False``
        :math:`A_i = x_ix_i^\top`.
    ``True``
        :math:`A_i = x_ix_i^\top - I`: :math:`\langle A_i, X\rangle = x_i^\top X x_i - \mathrm{tr}(X)`;
        the factor versions subtract :math:`\|U\|_F^2` and :math:`(\sum_i r_i)\,U`.
    ``"empirical"``
        :math:`A_i = x_ix_i^\top - \hat\Sigma` with :math:`\hat\Sigma = \frac1n\sum_j x_jx_j^\top`:
        the measurements are centred by their own mean, :math:`\langle A_i, X\rangle =
        q_i - \bar q` with :math:`q_i = x_i^\top X x_i`, and :math:`\mathcal A^*(r) = \sum_i
        (r_i - \bar r)\,x_ix_i^\top`. Exactly consistent with labels centred by their mean,
        :math:`\langle A_i, X_\star\rangle = y_i - \bar y`; the loss is that of a network with a
        free output bias, set to its least-squares value.

    **Normalisation (not isotropic).** For :math:`x\sim N(0, I_d)` and symmetric :math:`X`,
    :math:`\mathbb E\langle xx^\top, X\rangle^2 = 2\|X\|_F^2 + \mathrm{tr}(X)^2` and
    :math:`\mathbb E[(x^\top Xx)\,xx^\top] = 2X + \mathrm{tr}(X)\,I`, so
    :math:`\tfrac1m\mathcal A^*\mathcal A(X) \to 2X + \mathrm{tr}(X)I` as :math:`m\to\infty`, unlike
    the other operators here (which give :math:`X`). Centring removes the trace term:
    :math:`\mathbb E\langle xx^\top - I, X\rangle^2 = 2\|X\|_F^2` and the limit is :math:`2X`
    (also for ``"empirical"``). The matrices are deliberately *not* rescaled (by
    :math:`1/\sqrt2`), so that the measurements stay the network's outputs and :math:`f(U)` stays
    its mean-squared loss; the factor 2 doubles the effective step size compared with
    :class:`GaussianOperator`. Rank-one Gaussian measurements also have heavy fourth moments, so
    the uniform restricted isometry property fails for them.

    Parameters
    ----------
    x : array_like (n, d)
        The data points :math:`x_i \in \mathbb R^d`, one per row (:math:`m = n` measurements).
    centred : {False, True, "empirical"}
        Which centring to apply (see above).
    dtype : {float64, float32}
        Storage and arithmetic precision.
    """

    def __init__(self, x, *, centred=False, dtype=np.float64):
        dtype = _check_dtype(dtype)
        x = as_float_array(x, "x", ndim=2, dtype=np.float64)
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x must have at least one row (data point) and one column, got shape {x.shape}")
        if isinstance(centred, (bool, np.bool_)):
            centred = bool(centred)
        elif centred != "empirical":
            raise ValueError(f"centred must be False, True or 'empirical', got {centred!r}")
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.x.setflags(write=False)
        self.m, self.d = self.x.shape
        self.centred = centred
        self.dtype = np.dtype(dtype)

    def _centre_residual(self, r):
        return r - np.mean(r, axis=-1, keepdims=True) if self.centred == "empirical" else r

    # explicit matrices: O(n d^2)
    def _measure(self, X):
        out = np.sum((self.x @ X) * self.x, axis=-1)                   # x_i^T X x_i
        if self.centred == "empirical":
            out = out - np.mean(out, axis=-1, keepdims=True)
        elif self.centred:
            out = out - np.trace(X, axis1=-2, axis2=-1)[..., None]
        return out

    def _adjoint(self, r):
        r = self._centre_residual(r)
        out = np.swapaxes(self.x, -1, -2) @ (r[..., :, None] * self.x)  # sum_i r_i x_i x_i^T
        if self.centred is True:
            out = out - np.sum(r, axis=-1)[..., None, None] * np.eye(self.d, dtype=out.dtype)
        return out

    # factors, matrix-free: O(n d k)
    def _measure_factor(self, U):
        P = self.x @ U                                                   # (..., n, k): u_j^T x_i
        # Keep XU for the adjoint_apply that a gradient step makes next with the same U: it saves
        # one of the three n x d x k products of a step. Reused only if U is unchanged (checked
        # against a copy, O(dk)); released after one use.
        self._factor_cache = (U.copy(), P)
        out = np.einsum("...nk,...nk->...n", P, P)
        if self.centred == "empirical":
            out = out - np.mean(out, axis=-1, keepdims=True)
        elif self.centred:
            out = out - np.sum(U * U, axis=(-2, -1))[..., None]
        return out

    def _adjoint_apply(self, r, U):
        r = self._centre_residual(r)
        w = r[..., :, None]
        cached, self._factor_cache = getattr(self, "_factor_cache", None), None
        if cached is not None and cached[0].shape == U.shape and np.array_equal(cached[0], U):
            P = cached[1] * w                                            # XU from measure_factor(U)
        else:
            P = self.x @ U                                               # (..., n, k)
            if np.broadcast_shapes(P.shape, w.shape) == P.shape:
                P *= w                                                   # in place: no extra n x k copy
            else:
                P = P * w
        out = self.x.T @ P                                               # X^T (r * XU)
        if self.centred is True:
            out = out - np.sum(r, axis=-1)[..., None, None] * U
        return out

    def matrices(self) -> np.ndarray:
        if self.m * self.d * self.d > 50_000_000:
            return super().matrices()  # raises the size error
        A = self.x[:, :, None] * self.x[:, None, :]
        if self.centred == "empirical":
            A = A - A.mean(axis=0)
        elif self.centred:
            A = A - np.eye(self.d, dtype=self.dtype)
        return A

    @property
    def nbytes(self) -> int:
        """Memory held by the stored operator (the data x), in bytes."""
        return self.x.nbytes

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(d={self.d}, m={self.m}, centred={self.centred!r}, "
                f"dtype={self.dtype.name})")
