r"""Baselines that work on :math:`X` directly, to compare with factorised gradient descent.

All of them use the measurement operators of :mod:`qsense.sensing` and the loss of
:mod:`qsense.descent`, written as a function of :math:`X` instead of :math:`U`:

.. math::

    g(X) = \frac1{2m}\sum_{i=1}^m\bigl(\langle A_i, X\rangle - y_i\bigr)^2, \qquad
    \nabla g(X) = \frac1m\mathcal A^*\bigl(\mathcal A(X) - y\bigr) = M,

so that :math:`f(U) = g(UU^\top)`, and :math:`M` is the residual matrix of the engine.

``min_nuclear_norm``
    The convex optimum :math:`\min \operatorname{tr}X` subject to :math:`\mathcal A(X) = y`,
    :math:`X \succeq 0` (for PSD X the trace is the nuclear norm), solved with cvxpy.
``psd_interpolant``
    The same feasible set with any linear objective :math:`\langle C, X\rangle`; for example
    :math:`C = -I` finds the PSD interpolant of *largest* trace.
``min_frobenius_interpolant``
    The closed-form least-norm solution of :math:`\mathcal A(X) = y` (pseudo-inverse).
``gradient_descent_on_x``
    :math:`X_{t+1} = X_t - \eta\nabla g(X_t)` from :math:`X_0 = 0`: it stays in the range of
    :math:`\mathcal A^*` and converges to the minimum-Frobenius interpolant.
``projected_gradient_descent``
    :math:`X_{t+1} = \Pi_{\succeq 0}\bigl(X_t - \eta\nabla g(X_t)\bigr)`, with
    :math:`\Pi_{\succeq 0}` the projection onto the PSD cone (clip negative eigenvalues).
``smoothness``
    :math:`L = \lambda_{\max}(\frac1m\mathcal A^*\mathcal A)`: both loops are stable for
    :math:`0 < \eta < 2/L`.

The two loops on :math:`X` are baselines, not a second engine: factorised descent on :math:`U` only
ever runs through :func:`qsense.descent.gradient_descent`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, check_int, check_positive, check_symmetric
from .descent import DivergenceError, _check_y
from .sensing import DenseOperator, PopulationOperator, SensingOperator
from .symmetric import smat, svec, sym_dim

__all__ = [
    "ConvexSolverError",
    "SolverUnavailableError",
    "ConvexSolution",
    "XRun",
    "psd_interpolant",
    "min_nuclear_norm",
    "min_frobenius_interpolant",
    "project_psd",
    "smoothness",
    "gradient_descent_on_x",
    "projected_gradient_descent",
]


# ----------------------------------------------------------------------------------------------
# Errors and results
# ----------------------------------------------------------------------------------------------
class ConvexSolverError(RuntimeError):
    """The convex solver did not return a trustworthy solution.

    Attributes
    ----------
    status : str or None
        The status cvxpy reported (``"infeasible"``, ``"unbounded"``, ``"optimal_inaccurate"``,
        ``"user_limit"``, ...), or None when the solver did not run.
    solver : str
        The solver that was asked for.
    """

    def __init__(self, message: str, *, status: str | None = None, solver: str | None = None):
        super().__init__(message)
        self.status = status
        self.solver = solver


class SolverUnavailableError(ConvexSolverError, ImportError):
    """cvxpy or the requested conic solver is not installed."""


@dataclass
class ConvexSolution:
    r"""A verified solution of :math:`\min\langle C, X\rangle` s.t. :math:`\mathcal A(X) = y`, :math:`X\succeq0`.

    Attributes
    ----------
    X : ndarray (d, d)
        The solution (symmetrised).
    objective : float
        :math:`\langle C, X\rangle` at the solution (the trace for :func:`min_nuclear_norm`).
    status : str
        The solver's status (always ``"optimal"``: anything else raises).
    solver : str
        Which solver produced it.
    residual : float
        Relative feasibility error :math:`\|\mathcal A(X) - y\|_2/\|y\|_2`.
    min_eigenvalue : float
        :math:`\lambda_{\min}(X)` (at least :math:`-10\epsilon\max(1,\|X\|_2)`).
    """

    X: np.ndarray
    objective: float
    status: str
    solver: str
    residual: float
    min_eigenvalue: float

    @property
    def nuclear_norm(self) -> float:
        r""":math:`\|X\|_* = \operatorname{tr}X` (X is PSD up to solver tolerance)."""
        return float(np.trace(self.X))


@dataclass
class XRun:
    r"""History of a gradient-descent run on :math:`X`.

    Attributes
    ----------
    X : ndarray (d, d)
        The final iterate :math:`X_T`.
    loss : ndarray (T+1,)
        :math:`g(X_t)` at every step.
    error : ndarray (T+1,) or None
        :math:`\|X_t - X_\star\|_F/\|X_\star\|_F` at every step, when a target was given.
    eta : float
        Step size :math:`\eta`.
    """

    X: np.ndarray
    loss: np.ndarray
    error: np.ndarray | None
    eta: float

    @property
    def final_loss(self) -> float:
        """Training loss at the last step."""
        return float(self.loss[-1])

    @property
    def final_error(self) -> float:
        """Relative recovery error at the last step (needs a target)."""
        if self.error is None:
            raise ValueError("this run was made without target=, so it has no recovery error")
        return float(self.error[-1])


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def _check_operator(operator) -> SensingOperator:
    if not isinstance(operator, SensingOperator):
        raise TypeError(f"operator must be a qsense.sensing.SensingOperator, got {type(operator).__name__}")
    return operator


def _check_y1(operator, y) -> np.ndarray:
    y = _check_y(operator, y)
    if y.ndim != 1:
        raise ValueError(f"y must be one vector of m = {operator.m} measurements, got shape {y.shape}")
    return y.astype(np.float64)


def _packed(operator: SensingOperator) -> np.ndarray:
    r"""Rows :math:`\mathrm{svec}(A_i)`, shape (m, d(d+1)/2), in float64."""
    if isinstance(operator, DenseOperator):
        return np.asarray(operator.packed, dtype=np.float64)
    if isinstance(operator, PopulationOperator):
        return np.sqrt(operator.m) * np.eye(operator.m)
    return svec(np.asarray(operator.matrices(), dtype=np.float64))


def _check_square_symmetric(X, name, d) -> np.ndarray:
    X = as_float_array(X, name, ndim=2)
    if X.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got {X.shape}")
    check_symmetric(X, name, rtol=1e-8)
    return (X + X.T) / 2


def _target(target, d):
    if target is None:
        return None, None
    from .problems import as_target
    X_star = as_target(target, "target").X
    if X_star.shape != (d, d):
        raise ValueError(f"target must be {d} x {d}, got {X_star.shape}")
    norm = float(np.linalg.norm(X_star))
    if norm == 0:
        raise ValueError("target must be non-zero to measure a relative error")
    return X_star, norm


def project_psd(X) -> np.ndarray:
    r"""Projection onto the PSD cone in the Frobenius norm: :math:`\Pi_{\succeq0}(X) = V\max(\Lambda, 0)V^\top`.

    Parameters
    ----------
    X : array_like (d, d)
        A symmetric matrix :math:`X = V\Lambda V^\top`.
    """
    X = as_float_array(X, "X", ndim=2)
    check_symmetric(X, "X", rtol=1e-8)
    return _project_psd((X + X.T) / 2)


def _project_psd(X):
    lam, V = np.linalg.eigh(X)
    out = (V * np.maximum(lam, 0.0)) @ V.T
    return (out + out.T) / 2


# ----------------------------------------------------------------------------------------------
# Convex programs
# ----------------------------------------------------------------------------------------------
_STATUS_ADVICE = {
    "infeasible": ("no PSD matrix X satisfies A(X) = y exactly. Check that y was measured from a PSD "
                   "matrix without noise, and that y and the operator belong together"),
    "unbounded": ("the objective <C, X> is unbounded below on the PSD interpolants: a PSD direction H "
                  "with A(H) = 0 lowers it forever. Use more measurements or another C"),
    "optimal_inaccurate": ("the solver stopped short of its accuracy targets, so the point it has is not "
                           "certified optimal. Try a looser tol (e.g. tol=1e-5) or the other solver "
                           "(solver='SCS' or 'CLARABEL'). Interior-point solvers also stall when the "
                           "feasible set has no positive definite point, for instance when X_star is the "
                           "only PSD interpolant; then projected_gradient_descent finds it"),
    "infeasible_inaccurate": ("the solver suspects infeasibility but could not certify it; check y "
                              "(noise? measured from a non-PSD matrix?) or try another solver"),
    "unbounded_inaccurate": ("the solver suspects unboundedness but could not certify it; try another "
                             "solver or another C"),
    "user_limit": ("the solver hit an iteration or time limit. Raise it through solver_options "
                   "(e.g. {'max_iter': ...}) or try another solver"),
}


def _import_cvxpy(solver: str):
    try:
        import cvxpy as cp
    except ImportError as exc:
        raise SolverUnavailableError(
            "cvxpy is not installed, so the convex baseline cannot run. Install it with "
            "`pip install cvxpy` (it brings the Clarabel and SCS solvers).", solver=solver) from exc
    installed = cp.installed_solvers()
    if solver not in installed:
        raise SolverUnavailableError(
            f"the conic solver {solver!r} is not installed in this environment (installed: "
            f"{', '.join(installed) or 'none'}). Install it (`pip install {solver.lower()}`) or pass "
            f"one of the installed SDP solvers, e.g. solver='CLARABEL' or solver='SCS'.", solver=solver)
    return cp


def psd_interpolant(operator: SensingOperator, y, C=None, *, solver: str = "CLARABEL", tol: float = 1e-6,
                    solver_options: dict | None = None) -> ConvexSolution:
    r"""Solve :math:`\min_X \langle C, X\rangle` subject to :math:`\mathcal A(X) = y`, :math:`X \succeq 0`.

    The equality constraint is built from the operator's packed rows,
    :math:`\mathrm{svec}(A_i)\cdot\mathrm{svec}(X) = y_i`, with :math:`\mathrm{svec}(X)` a sparse
    linear map of the cvxpy variable, so the problem has :math:`m` linear constraints and one
    :math:`d\times d` semidefinite block.

    Parameters
    ----------
    operator : SensingOperator
        Measurement operator :math:`\mathcal A`.
    y : array_like (m,)
        Measurements :math:`y`.
    C : array_like (d, d), optional
        Symmetric cost matrix :math:`C`; default the identity (minimum trace = minimum nuclear
        norm). ``-numpy.eye(d)`` asks for the PSD interpolant of largest trace.
    solver : str
        A cvxpy SDP solver: ``"CLARABEL"`` (default, interior point) or ``"SCS"`` (first order).
        Other installed SDP solvers are accepted; set their tolerances through ``solver_options``.
    tol : float
        Accuracy :math:`\epsilon` asked of the solver (Clarabel's feasibility and relative/absolute
        gap tolerances, SCS's ``eps_abs``/``eps_rel``). The default 1e-6 is what interior-point
        methods reach reliably here: the optimum has low rank, so it sits on the boundary of the
        PSD cone, and at 1e-8 Clarabel often stalls a hair short of its targets. The returned
        point is checked afterwards: :math:`\|\mathcal A(X) - y\|_2 \le 10\epsilon\|y\|_2` and
        :math:`\lambda_{\min}(X) \ge -10\epsilon\max(1, \|X\|_2)`.
    solver_options : dict, optional
        Extra keyword arguments for ``cvxpy.Problem.solve`` (e.g. ``{"max_iter": 500}``); they
        override the tolerances set from ``tol``.

    Returns
    -------
    ConvexSolution

    Raises
    ------
    SolverUnavailableError
        cvxpy or the solver is not installed (the message says what to install).
    ConvexSolverError
        The solver failed, reported a status other than ``"optimal"`` (infeasible, unbounded,
        inaccurate, iteration limit), or returned a point that violates the constraints; the
        message names the status and what to do. A non-solution is never returned.
    """
    operator = _check_operator(operator)
    y = _check_y1(operator, y)
    d = operator.d
    C = np.eye(d) if C is None else _check_square_symmetric(C, "C", d)
    tol = check_positive(tol, "tol")
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a solver name such as 'CLARABEL', got {type(solver).__name__}")
    solver = solver.upper()
    if solver_options is not None and not isinstance(solver_options, dict):
        raise TypeError(f"solver_options must be a dict, got {type(solver_options).__name__}")
    cp = _import_cvxpy(solver)
    options = dict(_TOLERANCE_KEYS.get(solver, lambda t: {})(tol))
    options.update(solver_options or {})

    import scipy.sparse as sp
    rows, cols = np.triu_indices(d)
    weight = np.where(rows == cols, 1.0, np.sqrt(2.0))
    # svec(X) = S vec(X), with vec in column-major order (cvxpy's default).
    S = sp.csr_matrix((weight, (np.arange(rows.size), rows + cols * d)), shape=(sym_dim(d), d * d))
    packed = _packed(operator)
    X = cp.Variable((d, d), PSD=True)
    constraints = [packed @ (S @ cp.vec(X, order="F")) == y]
    problem = cp.Problem(cp.Minimize(cp.trace(C @ X)), constraints)
    try:
        with warnings.catch_warnings():
            # cvxpy warns "Solution may be inaccurate"; we raise on that status instead.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
            problem.solve(solver=solver, **options)
    except cp.error.SolverError as exc:
        raise ConvexSolverError(
            f"the solver {solver} failed without a status ({exc}). Try the other solver (solver='SCS' or "
            "'CLARABEL'), a looser tol, or check the problem data for extreme scales.",
            status="solver_error", solver=solver) from exc
    status = problem.status
    if status != "optimal" or X.value is None:
        advice = _STATUS_ADVICE.get(status, "try another solver or check the problem data")
        raise ConvexSolverError(f"the solver {solver} returned status {status!r}: {advice}.",
                                status=status, solver=solver)

    Xv = np.asarray(X.value, dtype=np.float64)
    Xv = (Xv + Xv.T) / 2
    ynorm = max(float(np.linalg.norm(y)), np.finfo(float).tiny)
    residual = float(np.linalg.norm(packed @ svec(Xv) - y) / ynorm)
    lam_min = float(np.linalg.eigvalsh(Xv)[0])
    scale = max(1.0, float(np.linalg.norm(Xv, 2)))
    if residual > 10 * tol or lam_min < -10 * tol * scale:
        raise ConvexSolverError(
            f"the solver {solver} reported 'optimal' but its point violates the constraints beyond "
            f"10 tol = {10 * tol:g}: ||A(X) - y||/||y|| = {residual:.2e}, lambda_min(X) = {lam_min:.2e}. "
            "Tighten the solver's tolerances through solver_options or try another solver.",
            status=status, solver=solver)
    return ConvexSolution(X=Xv, objective=float(np.sum(C * Xv)), status=status, solver=solver,
                          residual=residual, min_eigenvalue=lam_min)


_TOLERANCE_KEYS = {
    "CLARABEL": lambda t: {"tol_gap_abs": t, "tol_gap_rel": t, "tol_feas": t},
    "SCS": lambda t: {"eps_abs": t, "eps_rel": t},
}


def min_nuclear_norm(operator: SensingOperator, y, *, solver: str = "CLARABEL", tol: float = 1e-6,
                     solver_options: dict | None = None) -> ConvexSolution:
    r"""The minimum nuclear-norm PSD interpolant: :math:`\min\operatorname{tr}X` s.t. :math:`\mathcal A(X) = y`, :math:`X\succeq0`.

    For PSD :math:`X`, :math:`\|X\|_* = \operatorname{tr}X`, so this is the convex relaxation of
    rank minimisation and the solution that Gunasekar et al. conjectured gradient descent from an
    infinitesimal initialisation converges to. Parameters, result and errors as in
    :func:`psd_interpolant` with :math:`C = I`.
    """
    return psd_interpolant(operator, y, None, solver=solver, tol=tol, solver_options=solver_options)


def min_frobenius_interpolant(operator: SensingOperator, y) -> np.ndarray:
    r"""The least-norm solution :math:`\arg\min\{\|X\|_F : \mathcal A(X) = y\}`, in closed form.

    In packed coordinates :math:`\mathcal A(X) = P\,\mathrm{svec}(X)` and svec is an isometry, so
    the answer is :math:`\mathrm{smat}(P^+ y)` with :math:`P^+` the pseudo-inverse (when
    :math:`\mathcal A(X) = y` has no solution it is the least-squares fit of least norm).

    Parameters
    ----------
    operator : SensingOperator
        Measurement operator :math:`\mathcal A` (its packed matrix :math:`P`, m x d(d+1)/2, is formed).
    y : array_like (m,)
        Measurements :math:`y`.
    """
    operator = _check_operator(operator)
    y = _check_y1(operator, y)
    v, *_ = np.linalg.lstsq(_packed(operator), y, rcond=None)
    return smat(v, operator.d)


# ----------------------------------------------------------------------------------------------
# Gradient descent on X
# ----------------------------------------------------------------------------------------------
def _descent_on_x(operator, y, eta, steps, X0, target, project):
    operator = _check_operator(operator)
    y = _check_y1(operator, y)
    eta = check_positive(eta, "eta")
    T = check_int(steps, "steps", minimum=0)
    d, m = operator.d, operator.m
    X = np.zeros((d, d)) if X0 is None else _check_square_symmetric(X0, "X0", d)
    if project:
        X = _project_psd(X)
    X_star, target_norm = _target(target, d)

    losses = np.empty(T + 1)
    errors = None if X_star is None else np.empty(T + 1)
    blowup = None
    for t in range(T + 1):
        res = operator._measure(X) - y
        f = 0.5 * float(res @ res) / m
        losses[t] = f
        if blowup is None:
            blowup = 1e8 * max(f, 1.0)
        if not np.isfinite(f) or f > blowup:
            _raise_divergence(operator, eta, t, f)
        if errors is not None:
            errors[t] = np.linalg.norm(X - X_star) / target_norm
        if t == T:
            break
        X = X - (eta / m) * operator._adjoint(res)
        if project:
            X = _project_psd(X)
    return XRun(X=X, loss=losses, error=errors, eta=eta)


def smoothness(operator: SensingOperator) -> float:
    r"""The smoothness constant :math:`L = \lambda_{\max}\bigl(\tfrac1m\mathcal A^*\mathcal A\bigr)` of :math:`g`.

    :math:`g(X) = \frac1{2m}\|\mathcal A(X) - y\|^2` is a quadratic with Hessian
    :math:`\frac1m\mathcal A^*\mathcal A`, so gradient descent on :math:`X` (projected or not)
    converges for :math:`0 < \eta < 2/L`; :math:`\eta = 1/L` is the textbook choice.

    Parameters
    ----------
    operator : SensingOperator
        Measurement operator :math:`\mathcal A` (its packed m x d(d+1)/2 matrix P is formed;
        :math:`L = \sigma_{\max}(P)^2/m`).
    """
    operator = _check_operator(operator)
    return float(np.linalg.norm(_packed(operator), 2) ** 2 / operator.m)


def _raise_divergence(operator, eta, t, f):
    L = smoothness(operator)
    raise DivergenceError(
        f"gradient descent on X diverged at step {t}: the loss reached {f:.3g} with step size "
        f"eta={eta:.3g}. Use a smaller eta; for this operator (largest eigenvalue of (1/m) A*A = {L:.3g}) "
        f"steps 0 < eta <= {1.0 / L:.2g} are stable.", step=t, eta=eta)


def gradient_descent_on_x(operator: SensingOperator, y, *, eta: float, steps: int, X0=None,
                          target=None) -> XRun:
    r"""Gradient descent on :math:`g(X) = \frac1{2m}\|\mathcal A(X) - y\|^2` over symmetric :math:`X`.

    Step :math:`X_{t+1} = X_t - \eta\,\frac1m\mathcal A^*(\mathcal A(X_t) - y)`. From
    :math:`X_0 = 0` every iterate lies in the range of :math:`\mathcal A^*`, so the limit is the
    minimum-Frobenius interpolant (:func:`min_frobenius_interpolant`). It converges for
    :math:`0 < \eta < 2/L`, :math:`L` the largest eigenvalue of :math:`\frac1m\mathcal A^*\mathcal A`.

    Parameters
    ----------
    operator : SensingOperator
        Measurement operator :math:`\mathcal A`.
    y : array_like (m,)
        Measurements :math:`y`.
    eta : float
        Step size :math:`\eta > 0`.
    steps : int
        Number of steps T.
    X0 : array_like (d, d), optional
        Symmetric starting point :math:`X_0` (default 0).
    target : array_like (d, d) or LowRankPSD, optional
        :math:`X_\star`, to record the relative recovery error.

    Returns
    -------
    XRun

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or explodes; the message names :math:`\eta` and a stable range.
    """
    return _descent_on_x(operator, y, eta, steps, X0, target, project=False)


def projected_gradient_descent(operator: SensingOperator, y, *, eta: float, steps: int, X0=None,
                               target=None) -> XRun:
    r"""PSD-projected gradient descent: :math:`X_{t+1} = \Pi_{\succeq0}\bigl(X_t - \eta\,\tfrac1m\mathcal A^*(\mathcal A(X_t) - y)\bigr)`.

    Uses only the two facts "the data fit" and "X is PSD". When the measurements are many enough
    that :math:`X_\star` is the only PSD interpolant, that suffices (Geyer, Kyrillidis and Kalev);
    below that it converges to *some* PSD interpolant, which one depending on :math:`X_0`.

    Parameters
    ----------
    operator : SensingOperator
        Measurement operator :math:`\mathcal A`.
    y : array_like (m,)
        Measurements :math:`y`.
    eta : float
        Step size :math:`\eta > 0` (stable for :math:`\eta < 2/L` as in :func:`gradient_descent_on_x`).
    steps : int
        Number of steps T.
    X0 : array_like (d, d), optional
        Symmetric starting point (projected first; default 0).
    target : array_like (d, d) or LowRankPSD, optional
        :math:`X_\star`, to record the relative recovery error.

    Returns
    -------
    XRun

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or explodes; the message names :math:`\eta` and a stable range.
    """
    return _descent_on_x(operator, y, eta, steps, X0, target, project=True)
