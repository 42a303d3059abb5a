r"""The gradient-descent engine: factorised GD on :math:`UU^\top` over any measurement operator.

Loss and step convention (used everywhere in qsense and the book):

.. math::

    f(U) = \frac1{2m}\sum_{i=1}^m\bigl(\langle A_i, UU^\top\rangle - y_i\bigr)^2,\qquad
    \nabla f(U) = 2\,M U,\quad M = \frac1m\sum_i\bigl(\langle A_i,UU^\top\rangle - y_i\bigr)A_i,

    U_{t+1} = U_t - \eta\,\nabla f(U_t) = (I - 2\eta M_t)\,U_t .

Papers often write the step as :math:`(I - \eta' M_t)U_t`; that is our rule with
:math:`\eta' = 2\eta`.

There is exactly one descent loop, :func:`gradient_descent`; every operator in
:mod:`qsense.sensing` (and every model built on one) runs through it. It can advance a batch of
runs that share one operator (different :math:`\alpha`, :math:`\eta` or initial matrices), which
turns the operator's matrix-vector work into matrix-matrix work.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ._validation import as_float_array, check_int, check_positive, check_rng
from .sensing import SensingOperator

__all__ = [
    "Run",
    "DivergenceError",
    "loss",
    "loss_and_gradient",
    "initial_factor",
    "record_schedule",
    "gradient_descent",
]


class DivergenceError(ValueError):
    """Gradient descent blew up: the loss became non-finite or grew by many orders of magnitude."""

    def __init__(self, message: str, *, step: int, eta: float, run: int | None = None):
        super().__init__(message)
        self.step = step
        self.eta = eta
        self.run = run


@dataclass
class Run:
    r"""History of one gradient-descent run (or a batch of runs; then every array gains a leading
    batch axis).

    Attributes
    ----------
    U : ndarray (d, k)
        The final iterate :math:`U_T`.
    steps : ndarray (n,)
        The steps t at which the history below was recorded (always includes 0 and T).
    loss : ndarray (T+1,)
        Training loss :math:`f(U_t)` at every step (it comes for free with the gradient).
    error : ndarray (n,) or None
        Relative error :math:`\|U_tU_t^\top - X_\star\|_F/\|X_\star\|_F` at the recorded steps,
        when a target was given.
    eigenvalues : ndarray (n, min(d, k))
        Eigenvalues of :math:`U_tU_t^\top` (squared singular values of :math:`U_t`), in
        decreasing order, at the recorded steps.
    records : dict
        Whatever the ``observers`` returned, stacked along the recorded steps.
    eta, alpha : float or ndarray
        Step size :math:`\eta` and initial scale :math:`\alpha` (None when ``U0`` was given).
    """

    U: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    error: np.ndarray | None
    eigenvalues: np.ndarray
    records: dict = field(default_factory=dict)
    eta: float | np.ndarray = None
    alpha: float | np.ndarray | None = None

    @property
    def X(self) -> np.ndarray:
        r"""The final estimate :math:`U_TU_T^\top`."""
        return self.U @ np.swapaxes(self.U, -1, -2)

    @property
    def final_loss(self):
        """Training loss at the last step (a float, or an array over a batch)."""
        return _scalar(self.loss[..., -1])

    @property
    def final_error(self):
        """Relative recovery error at the last step (needs a target)."""
        if self.error is None:
            raise ValueError("this run was made without target=, so it has no recovery error")
        return _scalar(self.error[..., -1])

    def __getitem__(self, i: int) -> "Run":
        """Run ``i`` of a batch, as a plain Run."""
        if self.loss.ndim != 2:
            raise TypeError("indexing selects one run of a batch; this Run is a single run")
        pick = lambda a: None if a is None else a[i]  # noqa: E731
        return Run(U=self.U[i], steps=self.steps, loss=self.loss[i], error=pick(self.error),
                   eigenvalues=self.eigenvalues[i], records={k: v[i] for k, v in self.records.items()},
                   eta=np.broadcast_to(self.eta, self.loss.shape[:1])[i],
                   alpha=None if self.alpha is None else np.broadcast_to(self.alpha, self.loss.shape[:1])[i])


def _scalar(a):
    return float(a) if np.ndim(a) == 0 else a


def _check_y(operator: SensingOperator, y) -> np.ndarray:
    y = as_float_array(y, "y", ndim=(1, 2), dtype=operator.dtype)
    if y.shape[-1] != operator.m:
        raise ValueError(f"y must have length m = {operator.m} (one value per measurement), got shape {y.shape}")
    return y


def _residual(operator, y, U):
    return operator._measure_factor(U) - y


def _loss_from_residual(res):
    return 0.5 * np.mean(res * res, axis=-1)


def _gradient_from_residual(operator, res, U):
    return (2.0 / operator.m) * operator._adjoint_apply(res, U)


def loss(operator: SensingOperator, y, U) -> float | np.ndarray:
    r"""Training loss :math:`f(U) = \frac1{2m}\sum_i(\langle A_i,UU^\top\rangle - y_i)^2`."""
    y = _check_y(operator, y)
    U = operator._check_factor(U)
    return _loss_from_residual(_residual(operator, y, U))


def loss_and_gradient(operator: SensingOperator, y, U):
    r"""Return :math:`f(U)` and its exact gradient :math:`\nabla f(U) = 2MU`.

    Parameters
    ----------
    operator : SensingOperator
        The measurement operator :math:`\mathcal A`.
    y : array_like (m,)
        Measurements :math:`y_i`.
    U : array_like (d, k)
        The factor :math:`U`.
    """
    y = _check_y(operator, y)
    U = operator._check_factor(U)
    res = _residual(operator, y, U)
    return _loss_from_residual(res), _gradient_from_residual(operator, res, U)


def initial_factor(d: int, alpha: float, *, init="identity", width: int | None = None, seed=None) -> np.ndarray:
    r"""The initial factor :math:`U_0 = \alpha B`.

    Parameters
    ----------
    d : int
        Dimension :math:`d`.
    alpha : float
        Initial scale :math:`\alpha > 0`.
    init : {"identity", "orthogonal", "gaussian"} or array_like (d, k)
        :math:`B`: the identity (first k columns), a random matrix with orthonormal columns, a
        Gaussian matrix with :math:`N(0, 1/d)` entries, or a matrix you give.
    width : int, optional
        Number of columns k of U (default d: the fully over-parameterised model).
    seed : int or numpy.random.Generator, optional
        Randomness for ``"orthogonal"`` and ``"gaussian"``.
    """
    d = check_int(d, "d", minimum=1)
    alpha = check_positive(alpha, "alpha")
    if isinstance(init, str):
        k = d if width is None else check_int(width, "width", minimum=1)
        if init == "identity":
            B = np.eye(d, k)
        elif init == "orthogonal":
            rng = check_rng(seed)
            Q, R = np.linalg.qr(rng.standard_normal((max(d, k), min(d, k))))
            Q = Q * np.sign(np.diag(R))
            B = Q if d >= k else Q.T
        elif init == "gaussian":
            B = check_rng(seed).standard_normal((d, k)) / np.sqrt(d)
        else:
            raise ValueError(f"init must be 'identity', 'orthogonal', 'gaussian' or a (d, k) array, got {init!r}")
    else:
        B = as_float_array(init, "init", ndim=2)
        if B.shape[0] != d:
            raise ValueError(f"init must have d = {d} rows, got shape {B.shape}")
        if width is not None and B.shape[1] != width:
            raise ValueError(f"init has {B.shape[1]} columns but width={width}")
    return alpha * B


def record_schedule(steps: int, record="log", *, points: int = 120) -> np.ndarray:
    """The steps at which history is recorded: always 0 and ``steps``.

    ``record`` is ``"log"`` (about ``points`` log-spaced steps, the default), ``"all"``, an int n
    (every n-th step) or an explicit list of steps.
    """
    steps = check_int(steps, "steps", minimum=0)
    if isinstance(record, str):
        if record == "log":
            grid = np.geomspace(1, max(steps, 1), num=points) if steps else np.zeros(1)
            out = np.concatenate([[0], np.round(grid), [steps]])
        elif record == "all":
            out = np.arange(steps + 1)
        else:
            raise ValueError(f"record must be 'log', 'all', an int or a list of steps, got {record!r}")
    elif isinstance(record, numbers.Integral) and not isinstance(record, bool):
        every = check_int(record, "record", minimum=1)
        out = np.concatenate([np.arange(0, steps + 1, every), [steps]])
    else:
        out = np.asarray(record)
        if out.size == 0:
            out = out.astype(np.int64)
        if out.ndim != 1 or not np.issubdtype(out.dtype, np.integer):
            raise TypeError("record must be 'log', 'all', an int or a 1-D list of integer steps")
        if out.size and (out.min() < 0 or out.max() > steps):
            raise ValueError(f"record steps must lie in [0, steps={steps}], got {out.min()}..{out.max()}")
        out = np.concatenate([[0], out, [steps]])
    return np.unique(out.astype(np.int64))


def _broadcast_param(value, name, b):
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D array (one per run), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value}")
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {value}")
    if arr.ndim == 1 and b is not None and arr.shape[0] != b:
        raise ValueError(f"{name} has {arr.shape[0]} values but the batch has {b} runs")
    return arr


# Overflow on the way to a divergence is reported by DivergenceError, not by numpy warnings.
@np.errstate(over="ignore", invalid="ignore")
def gradient_descent(operator: SensingOperator, y, *, eta, steps: int, alpha=None, init="identity",
                     width: int | None = None, U0=None, target=None, record="log",
                     observers: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
                     seed=None) -> Run:
    r"""Run gradient descent on :math:`f(U)` from :math:`U_0 = \alpha B`.

    Step rule :math:`U_{t+1} = U_t - \eta\nabla f(U_t)` with the exact gradient
    :math:`\nabla f(U) = 2MU` (see the module docstring for the map to the :math:`(I-\eta'M)U`
    convention).

    Parameters
    ----------
    operator : SensingOperator
        Measurement operator :math:`\mathcal A`.
    y : array_like (m,) or (b, m)
        Measurements :math:`y = \mathcal A(X_\star)` (one vector per run, or shared).
    eta : float or array_like (b,)
        Step size :math:`\eta > 0`. An array runs a batch, one step size per run.
    steps : int
        Number of steps T.
    alpha : float or array_like (b,)
        Initial scale :math:`\alpha > 0` (required unless ``U0`` is given). An array runs a batch.
    init : str or array_like
        :math:`B` in :math:`U_0 = \alpha B`; see :func:`initial_factor`.
    width : int, optional
        Columns k of U; default d.
    U0 : array_like (d, k) or (b, d, k), optional
        An explicit initial factor; replaces ``alpha``/``init``.
    target : array_like (d, d) or LowRankPSD, optional
        :math:`X_\star`, to record the relative recovery error.
    record : "log", "all", int or list of int
        When to record history (see :func:`record_schedule`).
    observers : dict of name -> callable(U) -> array, optional
        Extra quantities computed at the recorded steps from the single-run iterate
        :math:`U_t` (d, k); results are stacked in ``Run.records``.
    seed : int or numpy.random.Generator, optional
        Randomness for a random ``init``.

    Returns
    -------
    Run

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or explodes; the message names :math:`\eta` and a
        step size that should be stable.
    """
    if not isinstance(operator, SensingOperator):
        raise TypeError(f"operator must be a qsense.sensing.SensingOperator, got {type(operator).__name__}")
    y = _check_y(operator, y)
    T = check_int(steps, "steps", minimum=0)
    eta_arr = _broadcast_param(eta, "eta", None)

    if U0 is not None:
        if alpha is not None:
            raise ValueError("give either U0 or alpha, not both")
        U = as_float_array(U0, "U0", ndim=(2, 3), dtype=operator.dtype).copy()
        if U.shape[-2] != operator.d:
            raise ValueError(f"U0 must have d = {operator.d} rows, got shape {U.shape}")
        alpha_arr = None
        batched = U.ndim == 3 or eta_arr.ndim == 1 or y.ndim == 2
    else:
        if alpha is None:
            raise ValueError("alpha (the initial scale) is required unless U0 is given")
        alpha_arr = _broadcast_param(alpha, "alpha", None)
        batched = alpha_arr.ndim == 1 or eta_arr.ndim == 1 or y.ndim == 2
        rng = check_rng(seed)
        if alpha_arr.ndim == 0:
            U = initial_factor(operator.d, float(alpha_arr), init=init, width=width, seed=rng)
        else:
            B = initial_factor(operator.d, 1.0, init=init, width=width, seed=rng)
            U = alpha_arr[:, None, None] * B
        U = U.astype(operator.dtype)

    sizes = set()
    if eta_arr.ndim == 1:
        sizes.add(eta_arr.shape[0])
    if alpha_arr is not None and alpha_arr.ndim == 1:
        sizes.add(alpha_arr.shape[0])
    if U.ndim == 3:
        sizes.add(U.shape[0])
    if y.ndim == 2:
        sizes.add(y.shape[0])
    if len(sizes) > 1:
        raise ValueError(f"batched arguments disagree on the number of runs: {sorted(sizes)}")
    b = sizes.pop() if sizes else 1
    if U.ndim == 2:
        U = np.broadcast_to(U, (b,) + U.shape).copy()
    U_init = U.copy()  # kept only to suggest a stable step size if the run diverges
    eta_b = np.broadcast_to(eta_arr, (b,)).astype(operator.dtype)
    yb = np.broadcast_to(y, (b, operator.m))

    X_star = None
    if target is not None:
        from .problems import as_target
        X_star = as_target(target, "target").X
        if X_star.shape != (operator.d, operator.d):
            raise ValueError(f"target must be {operator.d} x {operator.d}, got {X_star.shape}")
        target_norm = np.linalg.norm(X_star)
        if target_norm == 0:
            raise ValueError("target must be non-zero to measure a relative error")

    observers = dict(observers or {})
    for name, fn in observers.items():
        if not callable(fn):
            raise TypeError(f"observers[{name!r}] must be callable, got {type(fn).__name__}")

    schedule = record_schedule(T, record)
    is_recorded = np.zeros(T + 1, dtype=bool)
    is_recorded[schedule] = True
    losses = np.empty((b, T + 1))
    eigs, errs, recs = [], [], {name: [] for name in observers}
    blowup = None

    for t in range(T + 1):
        res = _residual(operator, yb, U)
        f = _loss_from_residual(res)
        losses[:, t] = f
        if blowup is None:
            blowup = 1e8 * np.maximum(f, 1.0)
        bad = ~np.isfinite(f) | (f > blowup)
        if bad.any():
            _raise_divergence(operator, yb, eta_b, U_init, t, f, int(np.argmax(bad)), b)
        if is_recorded[t]:
            eigs.append(np.linalg.svd(U, compute_uv=False) ** 2)
            if X_star is not None:
                X = U @ np.swapaxes(U, -1, -2)
                errs.append(np.linalg.norm(X - X_star, axis=(-2, -1)) / target_norm)
            for name, fn in observers.items():
                recs[name].append(np.stack([np.asarray(fn(U[i])) for i in range(b)]))
        if t == T:
            break
        U -= eta_b[:, None, None] * _gradient_from_residual(operator, res, U)

    squeeze = (lambda a: a) if batched else (lambda a: a[0])
    move = lambda lst: np.moveaxis(np.asarray(lst), 0, 1)  # (n, b, ...) -> (b, n, ...)  # noqa: E731
    return Run(
        U=squeeze(U),
        steps=schedule,
        loss=squeeze(losses),
        error=squeeze(move(errs)) if X_star is not None else None,
        eigenvalues=squeeze(move(eigs)),
        records={name: squeeze(move(v)) for name, v in recs.items()},
        eta=eta_arr if batched else float(eta_arr),
        alpha=None if alpha_arr is None else (alpha_arr if batched else float(alpha_arr)),
    )


def _raise_divergence(operator, yb, eta_b, U_init, t, f, i, b):
    # Curvature scale: the population dynamics are stable for eta < 1/(2 lambda_1), where lambda_1
    # is the largest eigenvalue of what M multiplies U by. Estimate it from the data,
    # ||(1/m) A*(y)||_2 (about ||X_star||_2, or 2||X_star|| + tr X_star for rank-one measurements),
    # and from the start, ||(1/m) A*A(U_0 U_0^T)||_2 (large when the initial factor is large), and
    # suggest half of the resulting bound.
    with np.errstate(all="ignore"):
        data = float(np.linalg.norm(operator._adjoint(yb[i]) / operator.m, 2))
        start = float(np.linalg.norm(
            operator._adjoint(operator._measure_factor(U_init[i])) / operator.m, 2))
    scale = max(data, start, 1e-12)
    safe = 0.25 / scale
    which = f" (run {i} of the batch)" if b > 1 else ""
    raise DivergenceError(
        f"gradient descent diverged at step {t}{which}: the loss reached {f[i]:.3g} with step size "
        f"eta={eta_b[i]:.3g}. Use a smaller eta: for this problem and this start (curvature scale "
        f"~ {scale:.2g}) steps 0 < eta <= {safe:.2g} should be stable.",
        step=t, eta=float(eta_b[i]), run=i if b > 1 else None)
