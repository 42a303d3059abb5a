import sys

import numpy as np
import pytest

from qsense import baselines
from qsense.baselines import (ConvexSolverError, SolverUnavailableError, gradient_descent_on_x,
                              min_frobenius_interpolant, min_nuclear_norm, project_psd,
                              projected_gradient_descent, psd_interpolant)
from qsense.descent import DivergenceError, gradient_descent
from qsense.problems import planted_psd
from qsense.sensing import GaussianOperator, PopulationOperator, entry_sampling
from qsense.symmetric import svec

cp = pytest.importorskip("cvxpy")


@pytest.fixture(scope="module")
def overdetermined():
    """m above the PSD-uniqueness regime, yet below d(d+1)/2: X_star is the only PSD solution.

    d = 8, r = 2: D = 36 unknowns, 30 measurements; the projected-descent tests below confirm
    that the PSD constraint alone pins X_star down here.
    """
    P = planted_psd(8, spectrum=[1.0, 0.5], seed=0)
    op = GaussianOperator(8, 30, seed=1)
    return P, op, op.measure(P.X)


@pytest.fixture(scope="module")
def small_instance():
    """Few measurements: m = 2dr = 64 < D/2 = 68, below the PSD-uniqueness regime, yet enough
    for the convex program (and small-alpha GD) to recover X_star."""
    P = planted_psd(16, spectrum=[1.0, 0.6], seed=3)
    op = GaussianOperator(16, 64, seed=4)
    return P, op, op.measure(P.X)


# --- the convex program ------------------------------------------------------------------------
def test_convex_solver_returns_the_unique_psd_solution(overdetermined):
    P, op, y = overdetermined
    sol = min_nuclear_norm(op, y)
    assert sol.status == "optimal" and sol.solver == "CLARABEL"
    assert sol.residual < 1e-7
    assert np.linalg.norm(sol.X - P.X) / np.linalg.norm(P.X) < 1e-5
    assert np.isclose(sol.nuclear_norm, P.eigenvalues.sum(), rtol=1e-6)
    assert sol.min_eigenvalue > -1e-5


def test_scs_agrees_with_clarabel(overdetermined):
    P, op, y = overdetermined
    sol = min_nuclear_norm(op, y, solver="scs", solver_options={"eps": 1e-9, "max_iters": 100_000})
    assert sol.solver == "SCS"
    assert np.linalg.norm(sol.X - P.X) / np.linalg.norm(P.X) < 1e-4


def test_constraint_uses_the_operator_inner_products(rng):
    # On the population operator A(X) = sqrt(m) svec(X): the constraint fixes X entirely.
    op = PopulationOperator(4)
    P = planted_psd(4, 1, seed=2)
    sol = min_nuclear_norm(op, op.measure(P.X))
    assert np.allclose(sol.X, P.X, atol=1e-6)
    assert np.allclose(op.measure(sol.X), op.measure(P.X), atol=1e-6)


def test_min_nuclear_norm_is_below_every_psd_interpolant(small_instance):
    P, op, y = small_instance
    sol = min_nuclear_norm(op, y)
    big = psd_interpolant(op, y, -np.eye(op.d))
    assert sol.nuclear_norm <= np.trace(P.X) + 1e-6
    assert sol.nuclear_norm <= np.trace(big.X) + 1e-6
    assert np.isclose(-big.objective, np.trace(big.X))


def test_infeasible_data_raise_naming_the_status():
    op = GaussianOperator(4, 10, seed=0)  # m = D = 10: A is invertible on Sym(4)
    X = np.diag([1.0, 1.0, -1.0, 0.0])     # indefinite: its measurements fit no PSD matrix
    with pytest.raises(ConvexSolverError, match="infeasible") as info:
        min_nuclear_norm(op, op.measure(X))
    assert info.value.status in ("infeasible", "infeasible_inaccurate")
    assert "PSD" in str(info.value)


def test_unbounded_objective_raises():
    op = GaussianOperator(6, 3, seed=0)  # so few measurements that a PSD direction is invisible
    P = planted_psd(6, 1, seed=1)
    with pytest.raises(ConvexSolverError, match="unbounded") as info:
        psd_interpolant(op, op.measure(P.X), -np.eye(6))
    assert info.value.status.startswith("unbounded")


def test_iteration_limit_is_an_error_not_a_solution(small_instance):
    P, op, y = small_instance
    with pytest.raises(ConvexSolverError, match="status") as info:
        min_nuclear_norm(op, y, solver_options={"max_iter": 2})
    assert info.value.status != "optimal"


def test_solver_crash_is_reported_with_advice(monkeypatch, overdetermined):
    P, op, y = overdetermined

    def crash(self, *args, **kwargs):
        raise cp.error.SolverError("Solver 'CLARABEL' failed.")

    monkeypatch.setattr(cp.Problem, "solve", crash)
    with pytest.raises(ConvexSolverError, match=r"CLARABEL failed.*Try the other solver") as info:
        min_nuclear_norm(op, y)
    assert info.value.status == "solver_error" and info.value.solver == "CLARABEL"


def test_missing_solver_says_what_to_install(monkeypatch, overdetermined):
    P, op, y = overdetermined
    monkeypatch.setattr(cp, "installed_solvers", lambda: ["SCS"])
    with pytest.raises(SolverUnavailableError, match=r"CLARABEL.*not installed.*pip install clarabel"):
        min_nuclear_norm(op, y)


def test_missing_cvxpy_says_what_to_install(monkeypatch, overdetermined):
    P, op, y = overdetermined
    monkeypatch.setitem(sys.modules, "cvxpy", None)
    with pytest.raises(ImportError, match="pip install cvxpy"):
        min_nuclear_norm(op, y)


def test_bad_convex_input():
    op = GaussianOperator(4, 6, seed=0)
    y = np.ones(6)
    with pytest.raises(ValueError, match="y must have length m = 6"):
        min_nuclear_norm(op, np.ones(5))
    with pytest.raises(ValueError, match="C must have shape"):
        psd_interpolant(op, y, np.eye(3))
    with pytest.raises(ValueError, match="C must be symmetric"):
        psd_interpolant(op, y, np.triu(np.ones((4, 4))))
    with pytest.raises(TypeError, match="operator"):
        min_nuclear_norm(np.eye(4), y)
    with pytest.raises(ValueError, match="tol"):
        min_nuclear_norm(op, y, tol=0)
    with pytest.raises(TypeError, match="solver_options"):
        min_nuclear_norm(op, y, solver_options=[1])


# --- gradient descent on X ---------------------------------------------------------------------
def test_gd_on_x_from_zero_is_the_least_norm_interpolant(small_instance):
    P, op, y = small_instance
    v = np.linalg.pinv(op.packed) @ y            # closed form, through the pseudo-inverse
    closed = np.zeros((op.d, op.d))
    closed[np.triu_indices(op.d)] = v / np.where(np.eye(op.d)[np.triu_indices(op.d)] == 1, 1, np.sqrt(2))
    closed = closed + np.triu(closed, 1).T
    assert np.allclose(svec(closed), v)
    assert np.allclose(min_frobenius_interpolant(op, y), closed, atol=1e-12)
    # Linear convergence in the range of A*: contraction 1 - eta * lam_min per step.
    lam = np.linalg.svd(op.packed, compute_uv=False) ** 2 / op.m
    eta = 1 / lam[0]
    steps = int(np.ceil(np.log(1e-12) / np.log(1 - eta * lam[-1])))
    run = gradient_descent_on_x(op, y, eta=eta, steps=steps, target=P)
    assert run.final_loss < 1e-22 * run.loss[0]
    assert np.linalg.norm(run.X - closed) / np.linalg.norm(closed) < 1e-8
    assert np.all(np.diff(run.loss) <= 1e-15)
    # It interpolates, yet it is neither PSD nor close to the truth.
    assert np.linalg.eigvalsh(run.X)[0] < -0.05
    assert run.final_error > 0.3
    # Every interpolant has at least its Frobenius norm.
    assert np.linalg.norm(run.X) <= np.linalg.norm(P.X)


def test_gd_on_x_equals_the_hand_written_update(rng):
    op = GaussianOperator(5, 9, seed=0)
    y = rng.standard_normal(9)
    A = op.matrices()
    X = np.zeros((5, 5))
    for _ in range(4):
        M = np.einsum("i,ijk->jk", np.einsum("ijk,jk->i", A, X) - y, A) / 9
        X = X - 0.05 * M
    run = gradient_descent_on_x(op, y, eta=0.05, steps=4)
    assert np.allclose(run.X, X, atol=1e-12)
    assert run.loss.shape == (5,) and run.error is None


def test_projected_gd_recovers_when_psd_pins_x_star(overdetermined):
    P, op, y = overdetermined
    for X0 in (None, planted_psd(op.d, 5, seed=9).X * 3):
        run = projected_gradient_descent(op, y, eta=0.2, steps=4000, X0=X0, target=P)
        assert run.final_error < 1e-5
        assert np.linalg.eigvalsh(run.X)[0] >= -1e-12


def test_projected_gd_finds_other_psd_interpolants_with_few_measurements(small_instance):
    P, op, y = small_instance
    runs = [projected_gradient_descent(op, y, eta=0.1, steps=3000, X0=X0, target=P)
            for X0 in (None, np.eye(op.d))]
    for run in runs:
        assert run.final_loss < 1e-9 * run.loss[0]          # it fits the data ...
        assert np.linalg.eigvalsh(run.X)[0] >= -1e-12         # ... with a PSD matrix ...
        assert run.final_error > 0.1                          # ... that is not X_star
    # and which one depends on the start: the PSD interpolants are not a single point.
    assert np.linalg.norm(runs[0].X - runs[1].X) > 0.1 * np.linalg.norm(P.X)


def test_smoothness_is_the_top_eigenvalue_of_the_normal_operator(rng):
    op = GaussianOperator(5, 8, seed=0)
    A = op.matrices().reshape(8, 25)
    H = A.T @ A / 8                      # (1/m) A*A on vec(X), restricted to symmetric X below
    sym = np.array([(np.eye(25)[i] + np.eye(25)[(i % 5) * 5 + i // 5]) / 2 for i in range(25)])
    L = np.linalg.eigvalsh(sym @ H @ sym)[-1]
    assert np.isclose(baselines.smoothness(op), L)
    assert np.isclose(baselines.smoothness(PopulationOperator(4)), 1.0)


def test_project_psd():
    X = np.diag([2.0, -1.0, 0.5])
    assert np.allclose(project_psd(X), np.diag([2.0, 0.0, 0.5]))
    P = project_psd(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert np.allclose(P, 0.5 * np.ones((2, 2)))
    with pytest.raises(ValueError, match="symmetric"):
        project_psd(np.array([[0.0, 1.0], [0.0, 0.0]]))


@pytest.mark.parametrize("method", [gradient_descent_on_x, projected_gradient_descent])
def test_divergence_names_eta_and_a_stable_range(method, small_instance):
    P, op, y = small_instance
    with pytest.raises(DivergenceError, match=r"eta=3.*eta <=") as info:
        method(op, y, eta=3.0, steps=2000)
    assert info.value.eta == 3.0
    safe = float(str(info.value).split("eta <= ")[1].split(" ")[0])
    assert method(op, y, eta=safe, steps=300).final_loss < method(op, y, eta=safe, steps=0).final_loss


@pytest.mark.parametrize("method", [gradient_descent_on_x, projected_gradient_descent])
def test_bad_descent_input(method):
    op = GaussianOperator(4, 6, seed=0)
    y = np.ones(6)
    with pytest.raises(ValueError, match="eta"):
        method(op, y, eta=-1.0, steps=5)
    with pytest.raises(TypeError, match="steps"):
        method(op, y, eta=0.1, steps=2.5)
    with pytest.raises(ValueError, match="X0 must have shape"):
        method(op, y, eta=0.1, steps=5, X0=np.eye(3))
    with pytest.raises(ValueError, match="y must be one vector"):
        method(op, np.ones((2, 6)), eta=0.1, steps=5)
    with pytest.raises(ValueError, match="target must be 4 x 4"):
        method(op, y, eta=0.1, steps=5, target=np.eye(3))


def test_baselines_accept_every_operator():
    P = planted_psd(5, 1, seed=0)
    for op in (PopulationOperator(5), entry_sampling(5, 12, seed=1)):
        y = op.measure(P.X)
        X = min_frobenius_interpolant(op, y)
        assert np.allclose(op.measure(X), y, atol=1e-10)
        assert np.isfinite(gradient_descent_on_x(op, y, eta=0.2, steps=10).final_loss)


# --- Gunasekar et al.'s conjecture on a small instance --------------------------------------------
def test_small_alpha_gd_approaches_the_convex_optimum(small_instance):
    P, op, y = small_instance
    sol = min_nuclear_norm(op, y)
    alphas = np.array([1e-2, 1e-3, 1e-4, 1e-5, 1e-6])
    runs = gradient_descent(op, y, eta=0.1, steps=2500, alpha=alphas)
    assert np.all(runs.loss[:, -1] < 1e-4 * runs.loss[:, 0])  # every run (nearly) fits the data
    X = runs.X
    nuc = np.trace(X, axis1=1, axis2=2)
    dist = np.linalg.norm(X - sol.X, axis=(1, 2)) / np.linalg.norm(sol.X)
    for a, n in zip(alphas, nuc):
        if a <= 1e-5:
            assert abs(n - sol.nuclear_norm) <= 0.01 * sol.nuclear_norm
    assert np.all(np.diff(dist) < 0)
    assert dist[-1] < 0.1 * dist[0]
    assert np.linalg.norm(sol.X - P.X) < 1e-4 * np.linalg.norm(P.X)  # here the optimum is X_star
