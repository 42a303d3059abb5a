import numpy as np
import pytest

from qsense.descent import (DivergenceError, gradient_descent, initial_factor, loss,
                            loss_and_gradient, record_schedule)
from qsense.problems import planted_psd
from qsense.sensing import GaussianOperator, PopulationOperator, entry_sampling


def fd_gradient(op, y, U, h=1e-6):
    G = np.zeros_like(U)
    for idx in np.ndindex(U.shape):
        E = np.zeros_like(U)
        E[idx] = h
        G[idx] = (loss(op, y, U + E) - loss(op, y, U - E)) / (2 * h)
    return G


@pytest.mark.parametrize("op", [GaussianOperator(6, 30, seed=0), PopulationOperator(5),
                                entry_sampling(5, 25, seed=1)], ids=repr)
@pytest.mark.parametrize("k", [2, None])
def test_gradient_matches_central_finite_differences(op, k, rng):
    y = rng.standard_normal(op.m)
    U = rng.standard_normal((op.d, k or op.d))
    f, g = loss_and_gradient(op, y, U)
    g_fd = fd_gradient(op, y, U)
    assert np.linalg.norm(g - g_fd) / np.linalg.norm(g_fd) < 1e-6


def test_loss_is_half_mean_squared_residual(rng):
    op = GaussianOperator(4, 10, seed=0)
    A = op.matrices()
    y = rng.standard_normal(10)
    U = rng.standard_normal((4, 4))
    direct = 0.5 * np.mean([(np.sum(Ai * (U @ U.T)) - yi) ** 2 for Ai, yi in zip(A, y)])
    assert np.isclose(loss(op, y, U), direct)


def test_population_step_is_the_population_dynamics(rng):
    P = planted_psd(6, spectrum=[1.0, 0.5], seed=0)
    op = PopulationOperator(6)
    U = rng.standard_normal((6, 6)) * 0.3
    _, g = loss_and_gradient(op, op.measure(P.X), U)
    assert np.allclose(g, 2 * (U @ U.T - P.X) @ U)


@pytest.mark.parametrize("d", [30, 50])
def test_recovers_low_rank_truth_from_few_measurements(d):
    P = planted_psd(d, spectrum=[1.0, 0.7, 0.4], seed=1)
    m = 5 * d * 3
    assert m < d * (d + 1) / 2  # far fewer measurements than unknowns
    op = GaussianOperator(d, m, seed=2)
    run = gradient_descent(op, op.measure(P.X), eta=0.1, steps=1200, alpha=1e-3, target=P)
    assert run.final_error < 1e-2
    assert run.final_loss < 1e-5 * run.loss[0]
    assert run.U.shape == (d, d)  # fully over-parameterised


def test_large_initialisation_interpolates_but_does_not_recover():
    d = 40
    P = planted_psd(d, spectrum=[1.0, 0.7, 0.4], seed=1)
    op = GaussianOperator(d, 400, seed=2)  # 400 measurements, 820 unknowns
    small = gradient_descent(op, op.measure(P.X), eta=0.1, steps=1200, alpha=1e-3, target=P)
    large = gradient_descent(op, op.measure(P.X), eta=0.1, steps=1200, alpha=1.0, target=P)
    assert large.final_loss < 1e-6 * large.loss[0]
    assert small.final_error < 1e-2
    assert large.final_error > 1.0


def test_same_seed_same_run_despite_global_random_state():
    def once():
        P = planted_psd(12, 2, seed=3)
        op = GaussianOperator(12, 60, seed=4)
        return gradient_descent(op, op.measure(P.X), eta=0.1, steps=50, alpha=1e-2,
                                init="orthogonal", seed=5).U
    a = once()
    np.random.seed(99)
    np.random.standard_normal(5000)
    b = once()
    assert np.array_equal(a, b)


def test_orthogonal_B_does_not_change_UUt():
    P = planted_psd(10, 2, seed=0)
    op = GaussianOperator(10, 60, seed=1)
    y = op.measure(P.X)
    a = gradient_descent(op, y, eta=0.1, steps=200, alpha=1e-2)
    for s in range(3):
        b = gradient_descent(op, y, eta=0.1, steps=200, alpha=1e-2, init="orthogonal", seed=s)
        assert not np.allclose(a.U, b.U)
        assert np.allclose(a.X, b.X, atol=1e-12)


def test_history_is_recorded_on_the_schedule():
    P = planted_psd(8, 2, seed=0)
    op = PopulationOperator(8)
    run = gradient_descent(op, op.measure(P.X), eta=0.1, steps=300, alpha=1e-3, target=P.X,
                           observers={"trace": lambda U: np.sum(U * U)})
    assert run.steps[0] == 0 and run.steps[-1] == 300
    assert np.all(np.diff(run.steps) > 0)
    assert run.loss.shape == (301,)
    assert run.error.shape == run.steps.shape
    assert run.eigenvalues.shape == (len(run.steps), 8)
    assert np.allclose(run.records["trace"], run.eigenvalues.sum(axis=1))
    assert np.all(np.diff(run.eigenvalues, axis=1) <= 1e-15)


def test_record_schedule_options():
    assert list(record_schedule(5, "all")) == [0, 1, 2, 3, 4, 5]
    assert list(record_schedule(10, 4)) == [0, 4, 8, 10]
    assert list(record_schedule(10, [3, 7])) == [0, 3, 7, 10]
    log = record_schedule(10_000)
    assert log[0] == 0 and log[-1] == 10_000 and len(log) < 130


def test_batched_runs_equal_single_runs():
    P = planted_psd(10, 2, seed=0)
    op = GaussianOperator(10, 50, seed=1)
    y = op.measure(P.X)
    batch = gradient_descent(op, y, eta=[0.05, 0.1], steps=80, alpha=[1e-2, 1e-1], target=P)
    for i, (eta, alpha) in enumerate([(0.05, 1e-2), (0.1, 1e-1)]):
        single = gradient_descent(op, y, eta=eta, steps=80, alpha=alpha, target=P)
        assert np.allclose(batch[i].U, single.U, rtol=1e-10, atol=1e-13)
        assert np.allclose(batch.loss[i], single.loss)


def test_divergence_names_eta_and_a_safe_range():
    P = planted_psd(10, 2, seed=0)
    op = GaussianOperator(10, 60, seed=1)
    with pytest.raises(DivergenceError, match=r"eta=2.*eta <=") as info:
        gradient_descent(op, op.measure(P.X), eta=2.0, steps=500, alpha=1e-2)
    assert info.value.eta == 2.0
    safe = float(str(info.value).split("eta <= ")[1].split(" ")[0])
    run = gradient_descent(op, op.measure(P.X), eta=safe, steps=500, alpha=1e-2)
    assert np.isfinite(run.final_loss)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(alpha=0.0), ValueError, "alpha must be > 0"),
    (dict(alpha=-1e-3), ValueError, "alpha must be > 0"),
    (dict(eta=0.0), ValueError, "eta must be > 0"),
    (dict(eta=-0.1), ValueError, "eta must be > 0"),
    (dict(eta=np.nan), ValueError, "eta must be finite"),
    (dict(steps=-1), ValueError, "steps must be >= 0"),
    (dict(alpha=None), ValueError, "alpha .* is required"),
    (dict(y=np.full(40, np.nan)), ValueError, "y contains NaN"),
    (dict(y=np.ones(39)), ValueError, "y must have length m = 40"),
    (dict(U0=np.ones((5, 5)), alpha=None), ValueError, "U0 must have d = 6 rows"),
    (dict(target=np.ones((6, 5))), ValueError, "target"),
    (dict(target=-np.eye(6)), ValueError, "positive semidefinite"),
    (dict(init="banana"), ValueError, "init must be"),
    (dict(operator="not an operator"), TypeError, "operator must be"),
])
def test_bad_input_is_rejected_with_a_named_parameter(kwargs, exc, match):
    op = GaussianOperator(6, 40, seed=0)
    args = dict(operator=op, y=np.ones(40), eta=0.1, steps=10, alpha=1e-3)
    args.update(kwargs)
    operator = args.pop("operator")
    y = args.pop("y")
    with pytest.raises(exc, match=match):
        gradient_descent(operator, y, **args)


def test_initial_factor_variants():
    assert np.allclose(initial_factor(4, 0.5), 0.5 * np.eye(4))
    B = initial_factor(6, 1.0, init="orthogonal", width=3, seed=0)
    assert np.allclose(B.T @ B, np.eye(3))
    with pytest.raises(ValueError, match="init must have d = 4 rows"):
        initial_factor(4, 1.0, init=np.ones((3, 3)))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(eta=[]), ValueError, "eta must have at least one value"),
    (dict(alpha=[]), ValueError, "alpha must have at least one value"),
    (dict(eta="0.1"), TypeError, "eta must be a real number"),
    (dict(alpha="1e-3"), TypeError, "alpha must be a real number"),
    (dict(eta=True), TypeError, "eta must be a real number"),
    (dict(y=np.ones(40) * 1j), TypeError, "y must be real"),
])
def test_batch_and_type_mistakes_are_rejected(kwargs, exc, match):
    op = GaussianOperator(6, 40, seed=0)
    args = dict(y=np.ones(40), eta=0.1, steps=5, alpha=1e-3)
    args.update(kwargs)
    y = args.pop("y")
    with pytest.raises(exc, match=match):
        gradient_descent(op, y, **args)


@pytest.mark.parametrize("alpha", [1e50, 1e200])
def test_a_huge_start_reports_divergence_and_suggests_a_smaller_alpha(alpha):
    P = planted_psd(10, 2, seed=0)
    op = GaussianOperator(10, 60, seed=1)
    with pytest.raises(DivergenceError, match="smaller initial scale alpha"):
        gradient_descent(op, op.measure(P.X), eta=0.1, steps=10, alpha=alpha)
