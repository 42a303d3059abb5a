r"""One-hidden-layer networks with quadratic activations, as matrix sensing with rank-one measurements.

A network with k hidden units :math:`u_1,\dots,u_k` (the columns of :math:`U\in\mathbb R^{d\times k}`),
activation :math:`\sigma(z) = z^2` and output weights all equal to 1 computes

.. math::

    \hat y(x) = \sum_{j=1}^k (u_j^\top x)^2 = \|U^\top x\|^2 = \langle xx^\top, UU^\top\rangle .

So fitting it to data :math:`(x_i, y_i)_{i\le n}` with the mean-squared loss

.. math::

    L(U) = \frac1{2n}\sum_{i=1}^n\bigl(\hat y(x_i) - y_i\bigr)^2

*is* the matrix-sensing loss :math:`f(U)` of :mod:`qsense.descent` for the operator
:class:`qsense.sensing.RankOneOperator` with :math:`A_i = x_ix_i^\top` and :math:`m = n`: the same
number, the same gradient :math:`\nabla L(U) = 2MU`, the same engine. This module is a thin layer:
it draws teachers and data, evaluates the network, and trains it with
:func:`qsense.descent.gradient_descent`.

A *teacher* of width r with output weights 1 is a rank-r PSD matrix :math:`X_\star = U_\star
U_\star^\top` (its hidden weights are the columns of :math:`U_\star`), returned as a
:class:`qsense.problems.LowRankPSD`, so it can be passed as ``target=`` to the engine.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_int, check_rng
from .descent import Run, gradient_descent, loss_and_gradient as _loss_and_gradient
from .problems import LowRankPSD, as_target, planted_psd
from .sensing import RankOneOperator

__all__ = [
    "teacher",
    "sample_inputs",
    "sample",
    "predict",
    "loss",
    "loss_and_gradient",
    "population_loss",
    "operator",
    "train",
]


def teacher(d: int, r: int | None = None, *, spectrum=None, kappa: float | None = None,
            seed=None) -> LowRankPSD:
    r"""A teacher network of width r with output weights 1: :math:`y = \sum_{j\le r}(u_{\star j}^\top x)^2`.

    Its hidden weights :math:`u_{\star j}` are the columns of ``.U`` =
    :math:`U_\star = Z\,\mathrm{diag}(\sqrt\lambda)` (orthogonal, with squared lengths
    :math:`\lambda_j`), so the network computes :math:`x^\top X_\star x` with
    :math:`X_\star = U_\star U_\star^\top`. Same arguments as :func:`qsense.problems.planted_psd`
    (default: all :math:`\lambda_j = 1`, so :math:`\|X_\star\|_2 = 1`).

    Parameters
    ----------
    d : int
        Input dimension :math:`d`.
    r : int
        Teacher width :math:`r` (``1 <= r <= d``).
    spectrum : array_like of r positive floats, optional
        Squared lengths :math:`\lambda_j = \|u_{\star j}\|^2` of the hidden weights.
    kappa : float, optional
        Condition number :math:`\kappa = \lambda_1/\lambda_r`.
    seed : int or numpy.random.Generator, optional
        Randomness for the directions of the hidden weights.
    """
    return planted_psd(d, r, spectrum=spectrum, kappa=kappa, seed=seed)


def sample_inputs(n: int, d: int, *, seed=None) -> np.ndarray:
    r"""Draw n inputs :math:`x_i \sim N(0, I_d)`, one per row of an (n, d) array.

    Parameters
    ----------
    n : int
        Number of samples :math:`n`.
    d : int
        Input dimension :math:`d`.
    seed : int or numpy.random.Generator, optional
    """
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    return check_rng(seed).standard_normal((n, d))


def sample(target, n: int, *, seed=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw a data set :math:`(x_i, y_i)_{i\le n}` labelled by a teacher: :math:`x_i\sim N(0,I_d)`,
    :math:`y_i = x_i^\top X_\star x_i`.

    Parameters
    ----------
    target : LowRankPSD or array_like (d, d)
        The teacher :math:`X_\star` (PSD).
    n : int
        Number of samples :math:`n`.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    x : ndarray (n, d)
    y : ndarray (n,)
    """
    target = as_target(target, "target")
    x = sample_inputs(n, target.d, seed=seed)
    return x, predict(target.U, x)


def _check_network(U, x):
    U = as_float_array(U, "U")
    if U.ndim < 2:
        raise ValueError(f"U (the hidden weights, one unit per column) must have shape (d, k), got {U.shape}")
    if U.shape[-1] < 1:
        raise ValueError(f"U must have at least one hidden unit (k >= 1), got shape {U.shape}")
    x = as_float_array(x, "x", ndim=(1, 2))
    if x.shape[-1] != U.shape[-2]:
        raise ValueError(f"x must have d = {U.shape[-2]} columns (the input width of U), got shape {x.shape}")
    return U, x


def predict(U, x) -> np.ndarray:
    r"""The network's outputs :math:`\hat y(x) = \sum_j (u_j^\top x)^2 = \|U^\top x\|^2`.

    Costs :math:`O(n\,d\,k)`.

    Parameters
    ----------
    U : array_like (d, k) or (..., d, k)
        Hidden weights :math:`u_j`, one unit per column.
    x : array_like (n, d) or (d,)
        Inputs :math:`x_i`, one per row.

    Returns
    -------
    ndarray (n,) (or (..., n) for a stack of networks; a scalar per network for one input)
    """
    U, x = _check_network(U, x)
    P = x @ U
    return np.sum(P * P, axis=-1)


def _check_labels(y, n):
    y = as_float_array(y, "y", ndim=1)
    if y.shape[0] != n:
        raise ValueError(f"y must have one label per row of x (n = {n}), got shape {y.shape}")
    return y


def operator(x, *, centred=False) -> RankOneOperator:
    r"""The sensing operator of a data set: :math:`A_i = x_ix_i^\top` (or a centred variant, see
    :class:`~qsense.sensing.RankOneOperator`)."""
    return RankOneOperator(x, centred=centred)


def loss(U, x, y) -> float:
    r"""Mean-squared loss :math:`L(U) = \frac1{2n}\sum_i(\hat y(x_i) - y_i)^2`.

    Equal to the engine's :math:`f(U)` for :class:`~qsense.sensing.RankOneOperator` ``(x)``.

    Parameters
    ----------
    U : array_like (d, k)
        Hidden weights.
    x : array_like (n, d)
        Inputs :math:`x_i`.
    y : array_like (n,)
        Labels :math:`y_i`.
    """
    return loss_and_gradient(U, x, y)[0]


def loss_and_gradient(U, x, y) -> tuple[float, np.ndarray]:
    r"""The loss :math:`L(U)` and its gradient :math:`\nabla L(U) = \frac2n\sum_i(\hat y(x_i)-y_i)\,x_ix_i^\top U`.

    Computed by the sensing engine (:func:`qsense.descent.loss_and_gradient`) on the rank-one
    operator, in :math:`O(n\,d\,k)` without forming any d x d matrix.

    Parameters
    ----------
    U : array_like (d, k)
        Hidden weights.
    x : array_like (n, d)
        Inputs :math:`x_i`.
    y : array_like (n,)
        Labels :math:`y_i`.
    """
    U, x = _check_network(U, x)
    if x.ndim != 2:
        raise ValueError(f"x must be an (n, d) array of inputs, got shape {x.shape}")
    if U.ndim != 2:
        raise ValueError(f"U must be one network, shape (d, k), got {U.shape}")
    y = _check_labels(y, x.shape[0])
    f, g = _loss_and_gradient(RankOneOperator(x), y, U)
    return float(f), g


def population_loss(U, target) -> float:
    r"""Test loss on fresh Gaussian inputs, in closed form: :math:`\tfrac12\mathbb E(\hat y(x) - y(x))^2`.

    With :math:`\Delta = UU^\top - X_\star` and :math:`x\sim N(0, I_d)`,
    :math:`\tfrac12\mathbb E(x^\top\Delta x)^2 = \|\Delta\|_F^2 + \tfrac12\mathrm{tr}(\Delta)^2`.

    Parameters
    ----------
    U : array_like (d, k) or (..., d, k)
        Hidden weights of the student.
    target : LowRankPSD or array_like (d, d)
        The teacher :math:`X_\star`.
    """
    target = as_target(target, "target")
    U = as_float_array(U, "U")
    if U.ndim < 2 or U.shape[-2] != target.d:
        raise ValueError(f"U must have shape (..., {target.d}, k) to match the teacher, got {U.shape}")
    D = U @ np.swapaxes(U, -1, -2) - target.X
    out = np.sum(D * D, axis=(-2, -1)) + 0.5 * np.trace(D, axis1=-2, axis2=-1) ** 2
    return float(out) if np.ndim(out) == 0 else out


def train(x, y, *, width: int | None = None, eta, steps: int, alpha=None, init="identity", U0=None,
          centred=False, target=None, record="log", observers=None, seed=None) -> Run:
    r"""Train the student network by gradient descent on :math:`L(U)`, through the shared engine.

    Exactly :func:`qsense.descent.gradient_descent` on :class:`~qsense.sensing.RankOneOperator` ``(x)``
    with measurements ``y``: step :math:`U_{t+1} = U_t - \eta\nabla L(U_t)` from
    :math:`U_0 = \alpha B`.

    ``centred`` fits a trace-free variant, with labels centred by their mean :math:`\bar y`
    (which estimates :math:`\mathbb E\,y = \mathrm{tr}(X_\star)`):

    ``"empirical"``
        operator :math:`A_i = x_ix_i^\top - \hat\Sigma`, labels :math:`y_i - \bar y`. Exactly
        consistent (:math:`\langle A_i, X_\star\rangle = y_i - \bar y`): the loss of the network
        with a free output bias at its least-squares value.
    ``True``
        operator :math:`A_i = x_ix_i^\top - I`, labels :math:`y_i - \bar y`. Only approximately
        consistent: the labels should be :math:`y_i - \mathrm{tr}(X_\star)`, and :math:`\bar y`
        misses :math:`\mathrm{tr}(X_\star)` by about :math:`\sqrt{2/n}\,\|X_\star\|_F`, an
        error the student then has to fit.

    Both have population gradient :math:`2MU` with :math:`M \to 2(UU^\top - X_\star)`, without the
    :math:`\mathrm{tr}(UU^\top - X_\star)\,I` term of the plain loss.

    Parameters
    ----------
    x : array_like (n, d)
        Inputs :math:`x_i`.
    y : array_like (n,)
        Labels :math:`y_i`.
    width : int, optional
        Student width :math:`k \ge 1` (default d). Ignored when ``U0`` is given.
    eta : float or array_like (b,)
        Step size :math:`\eta`; an array runs a batch.
    steps : int
        Number of steps T.
    alpha : float or array_like (b,)
        Initial scale :math:`\alpha` (required unless ``U0`` is given); an array runs a batch.
    init : str or array_like
        :math:`B` in :math:`U_0 = \alpha B` (see :func:`qsense.descent.initial_factor`).
    U0 : array_like (d, k), optional
        Explicit initial hidden weights.
    centred : {False, True, "empirical"}
        Fit a trace-free variant (see above).
    target : LowRankPSD or array_like (d, d), optional
        The teacher :math:`X_\star`, to record the relative error of :math:`UU^\top`.
    record, observers, seed
        As in :func:`qsense.descent.gradient_descent`.

    Returns
    -------
    qsense.descent.Run
        ``Run.loss`` is :math:`L(U_t)` (for ``centred=True``: the centred loss).
    """
    x = as_float_array(x, "x", ndim=2)
    y = _check_labels(y, x.shape[0])
    if width is not None:
        width = check_int(width, "width", minimum=1)
    op = RankOneOperator(x, centred=centred)
    labels = y - y.mean() if op.centred else y
    return gradient_descent(op, labels, eta=eta, steps=steps, alpha=alpha, init=init, width=width,
                            U0=U0, target=target, record=record, observers=observers, seed=seed)
