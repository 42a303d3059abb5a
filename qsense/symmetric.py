r"""Isometric coordinates for symmetric matrices.

A symmetric :math:`d\times d` matrix has :math:`D = d(d+1)/2` free entries. ``svec`` lists the
upper triangle row by row with the off-diagonal entries multiplied by :math:`\sqrt2`, so that
:math:`\langle X, Y\rangle_F = \mathrm{svec}(X)\cdot\mathrm{svec}(Y)`: inner products, norms and
the Gaussian law of :math:`(G+G^\top)/2` all carry over unchanged. ``smat`` inverts it.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["svec", "smat", "sym_dim"]


def sym_dim(d: int) -> int:
    """Number of free entries of a symmetric d x d matrix, d(d+1)/2."""
    return d * (d + 1) // 2


@lru_cache(maxsize=32)
def _layout(d: int):
    rows, cols = np.triu_indices(d)
    weight = np.where(rows == cols, 1.0, np.sqrt(2.0))
    flat = rows * d + cols
    flat_t = cols * d + rows
    for a in (rows, cols, weight, flat, flat_t):
        a.setflags(write=False)
    return rows, cols, weight, flat, flat_t


@lru_cache(maxsize=32)
def _full_layout(d: int):
    """For each of the d*d entries of a matrix: its index in svec, and the svec weight there."""
    _, _, weight, flat, flat_t = _layout(d)
    index = np.empty(d * d, dtype=np.intp)
    index[flat] = np.arange(flat.size)
    index[flat_t] = np.arange(flat.size)
    w = weight[index]
    for a in (index, w):
        a.setflags(write=False)
    return index, w


def svec(X: np.ndarray) -> np.ndarray:
    """Isometric vectorisation of symmetric matrices, shape (..., d, d) -> (..., d(d+1)/2)."""
    X = np.asarray(X)
    if X.dtype.kind not in "fc":     # integers: the sqrt(2) weights need floating point
        X = X.astype(np.float64)
    d = X.shape[-1]
    _, _, weight, flat, _ = _layout(d)
    out = X.reshape(X.shape[:-2] + (d * d,))[..., flat]
    out *= weight.astype(out.dtype, copy=False)
    return out


def smat(v: np.ndarray, d: int | None = None) -> np.ndarray:
    """Inverse of :func:`svec`, shape (..., d(d+1)/2) -> (..., d, d)."""
    v = np.asarray(v)
    D = v.shape[-1]
    if d is None:
        d = int(round((np.sqrt(8 * D + 1) - 1) / 2))
    if sym_dim(d) != D:
        raise ValueError(f"v must have length d(d+1)/2 in its last axis, got {D}")
    index, weight = _full_layout(d)
    # one gather of all d*d entries (both triangles), then the weights: cheaper than two scatters
    out = np.take(v if v.dtype.kind in "fc" else v.astype(np.float64), index, axis=-1)
    out /= weight.astype(out.dtype, copy=False)
    return out.reshape(v.shape[:-1] + (d, d))
