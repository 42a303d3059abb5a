r"""The diagonal warm-up model: sparse recovery with the parametrisation :math:`w = \beta\odot\beta`.

This is the toy version of the matrix-sensing dynamics that Tengyu Ma's lecture notes use to teach
the proof of Li, Ma and Zhang's theorem. It is *not* matrix sensing (the matrices are diagonal), so
it has its own tiny loop here rather than going through :func:`qsense.descent.gradient_descent`.

Model and loss. Features :math:`x_i \in \mathbb R^d`, labels :math:`y_i = \langle \beta_\star\odot
\beta_\star, x_i\rangle` with a sparse :math:`\beta_\star`, and

.. math::

    L(\beta) = \frac1{4n}\sum_{i=1}^n\bigl(\langle\beta\odot\beta, x_i\rangle - y_i\bigr)^2,\qquad
    \nabla L(\beta) = \Bigl(\frac1n\sum_i r_i x_i\Bigr)\odot\beta,\quad
    r_i = \langle\beta\odot\beta, x_i\rangle - y_i .

Gradient descent :math:`\beta_{t+1} = \beta_t - \eta\nabla L(\beta_t)` from :math:`\beta_0 =
\alpha\mathbb 1`. With the Gram matrix :math:`G = \frac1n\sum_i x_ix_i^\top` the step reads
:math:`\beta \leftarrow \beta\odot(\mathbb 1 - \eta\,G(\beta\odot\beta - \beta_\star\odot\beta_\star))`;
in the population case :math:`G = I` every coordinate evolves on its own,
:math:`\beta_j \leftarrow \beta_j(1 + \eta(\beta_{\star j}^2 - \beta_j^2))`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, check_int, check_positive, check_rng

__all__ = ["DiagonalProblem", "diagonal_problem", "DiagonalRun", "diagonal_descent", "diagonal_loss_and_gradient",
           "cross_talk"]


@dataclass(frozen=True)
class DiagonalProblem:
    r"""A sparse recovery problem for the diagonal model.

    Attributes
    ----------
    features : ndarray (n, d)
        Rows :math:`x_i`.
    beta_star : ndarray (d,)
        The sparse truth :math:`\beta_\star` (non-negative).
    y : ndarray (n,)
        Labels :math:`y_i = \langle\beta_\star\odot\beta_\star, x_i\rangle`.
    """

    features: np.ndarray
    beta_star: np.ndarray
    y: np.ndarray

    @property
    def support(self) -> np.ndarray:
        r"""Indices of the non-zero entries of :math:`\beta_\star` (the signal coordinates)."""
        return np.flatnonzero(self.beta_star)

    @property
    def gram(self) -> np.ndarray:
        r""":math:`G = \frac1n\sum_i x_ix_i^\top`."""
        X = self.features
        return X.T @ X / X.shape[0]


def diagonal_problem(d: int, n: int | None = None, *, sparsity: int = 1, seed=None) -> DiagonalProblem:
    r"""Draw a sparse recovery problem: :math:`\beta_\star` has ``sparsity`` entries equal to 1.

    Parameters
    ----------
    d : int
        Dimension :math:`d`.
    n : int or None
        Number of Gaussian samples :math:`n` (features :math:`x_i \sim N(0, I_d)`). ``None`` gives
        the population problem: features :math:`\sqrt d\,I_d` (:math:`n = d`), so that :math:`G = I`.
    sparsity : int
        Number s of non-zero entries of :math:`\beta_\star` (its first s coordinates).
    seed : int or numpy.random.Generator, optional
        Randomness for the features.
    """
    d = check_int(d, "d", minimum=1)
    s = check_int(sparsity, "sparsity", minimum=1, maximum=d)
    if n is None:
        X = np.sqrt(d) * np.eye(d)
    else:
        n = check_int(n, "n", minimum=1)
        X = check_rng(seed).standard_normal((n, d))
    beta_star = np.zeros(d)
    beta_star[:s] = 1.0
    return DiagonalProblem(features=X, beta_star=beta_star, y=X @ (beta_star * beta_star))


def cross_talk(problem: DiagonalProblem) -> float:
    r"""The largest pull of the signal on a noise coordinate, :math:`\delta = \max_{j\notin S}
    \sum_{k\in S}|G_{jk}|\,\beta_{\star k}^2`.

    While the signal is below its target, noise coordinate j changes by a factor of at most about
    :math:`1 + \eta\delta` per step, so it stays near :math:`\alpha` for about :math:`1/(\eta\delta)`
    steps. Zero for the population problem.
    """
    if not isinstance(problem, DiagonalProblem):
        raise TypeError(f"problem must be a DiagonalProblem, got {type(problem).__name__}")
    G = problem.gram
    S = problem.support
    noise = np.setdiff1d(np.arange(G.shape[0]), S)
    if noise.size == 0:
        return 0.0
    return float(np.max(np.abs(G[np.ix_(noise, S)]) @ problem.beta_star[S] ** 2))


@dataclass
class DiagonalRun:
    r"""History of a diagonal-model run.

    Attributes
    ----------
    beta : ndarray (T+1, d)
        Every iterate :math:`\beta_t` (the model is small).
    loss : ndarray (T+1,)
        :math:`L(\beta_t)`.
    eta, alpha : float
        Step size and initial scale.
    """

    beta: np.ndarray
    loss: np.ndarray
    eta: float
    alpha: float


def _check_problem(features, y):
    X = as_float_array(features, "features", ndim=2)
    y = as_float_array(y, "y", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of features ({X.shape[0]}), got {y.shape[0]}")
    return X, y


def diagonal_loss_and_gradient(features, y, beta):
    r"""Return :math:`L(\beta)` and :math:`\nabla L(\beta) = (\frac1n X^\top r)\odot\beta`.

    Parameters
    ----------
    features : array_like (n, d)
        Rows :math:`x_i`.
    y : array_like (n,)
        Labels :math:`y_i`.
    beta : array_like (d,)
        The parameter :math:`\beta`.
    """
    X, y = _check_problem(features, y)
    beta = as_float_array(beta, "beta", shape=(X.shape[1],))
    res = X @ (beta * beta) - y
    return 0.25 * float(np.mean(res * res)), (X.T @ res / X.shape[0]) * beta


def diagonal_descent(features, y, *, eta: float, steps: int, alpha: float) -> DiagonalRun:
    r"""Gradient descent :math:`\beta_{t+1} = \beta_t - \eta\nabla L(\beta_t)` from :math:`\beta_0 = \alpha\mathbb 1`.

    Parameters
    ----------
    features : array_like (n, d)
        Rows :math:`x_i` (or ``DiagonalProblem.features``).
    y : array_like (n,)
        Labels.
    eta : float
        Step size :math:`\eta > 0`.
    steps : int
        Number of steps T.
    alpha : float
        Initial scale :math:`\alpha > 0`.

    Raises
    ------
    ValueError
        When the iterates stop being finite (the message names :math:`\eta`).
    """
    X, y = _check_problem(features, y)
    eta = check_positive(eta, "eta")
    alpha = check_positive(alpha, "alpha")
    T = check_int(steps, "steps", minimum=0)
    n, d = X.shape
    G = X.T @ X / n
    b = X.T @ y / n
    beta = np.full(d, alpha)
    hist = np.empty((T + 1, d))
    losses = np.empty(T + 1)
    yy = float(y @ y) / n
    with np.errstate(over="ignore", invalid="ignore"):
        _loop(G, b, yy, beta, hist, losses, eta, T)
    return DiagonalRun(beta=hist, loss=losses, eta=eta, alpha=alpha)


def _loop(G, b, yy, beta, hist, losses, eta, T):
    for t in range(T + 1):
        w = beta * beta
        hist[t] = beta
        # L = (1/4n)||Xw - y||^2 = (1/4)(w^T G w - 2 b^T w + y^T y / n)
        g = G @ w - b
        losses[t] = 0.25 * max(float(w @ (g - b)) + yy, 0.0)
        if not np.all(np.isfinite(beta)) or not np.isfinite(losses[t]):
            raise ValueError(f"diagonal descent diverged at step {t} with eta={eta:.3g}; use a smaller eta")
        if t < T:
            beta = beta - eta * g * beta
