import numpy as np
import pytest

import qsense
from qsense.analysis import (first_crossing, fit_line, observed_learning_times, predicted_learning_times,
                             principal_angles, recovery_time, signal_error_observers, signal_error_split,
                             signal_strength, subspace_distance)
from qsense.problems import planted_psd
from qsense.sensing import GaussianOperator, PopulationOperator


def test_signal_error_split_is_an_orthogonal_decomposition(rng):
    P = planted_psd(10, 3, seed=0)
    U = rng.standard_normal((10, 10))
    S, E = signal_error_split(U, P.Z)
    assert np.allclose(S + E, U)
    assert np.allclose(S.T @ E, 0, atol=1e-12)
    assert np.allclose(P.Z.T @ E, 0, atol=1e-12)
    assert np.isclose(signal_strength(U, P.Z), np.linalg.svd(P.Z.T @ U, compute_uv=False).min())


def test_principal_angles_of_known_planes():
    e = np.eye(3)
    theta = 0.3
    B = np.stack([e[0], np.cos(theta) * e[1] + np.sin(theta) * e[2]], axis=1)
    assert np.allclose(principal_angles(e[:, :2], B), [0.0, theta])


def test_subspace_distance_uses_the_top_r_eigenspace(rng):
    P = planted_psd(8, 2, seed=1)
    W = np.linalg.qr(np.concatenate([P.Z, rng.standard_normal((8, 6))], axis=1))[0][:, 2:]  # col(Z)^perp
    # a full-rank U (U U^T = 100 X_star + 1e-6 W W^T) whose two large directions span col(X_star)
    U = np.concatenate([10 * P.U, 1e-3 * W], axis=1)
    assert np.linalg.matrix_rank(U) == 8
    assert subspace_distance(U, P.Z) < 1e-10
    # large directions orthogonal to col(X_star), small ones inside it: distance 1
    U = np.concatenate([W[:, :2], 1e-3 * P.Z, 1e-3 * W[:, 2:]], axis=1)
    assert np.isclose(subspace_distance(U, P.Z), 1.0)
    # a rotation by theta out of the plane: sin(theta)
    theta = 0.2
    V = P.Z.copy()
    V[:, 1] = np.cos(theta) * P.Z[:, 1] + np.sin(theta) * W[:, 0]
    assert np.isclose(subspace_distance(V, P.Z), np.sin(theta))


def test_observers_match_direct_computation_on_iterates():
    d = 12
    P = planted_psd(d, spectrum=[1.0, 0.4], seed=2)
    op = GaussianOperator(d, 120, seed=3)
    obs = signal_error_observers(P.Z)
    run = qsense.gradient_descent(op, op.measure(P.X), eta=0.1, steps=40, alpha=1e-2, record=[7, 19],
                                  observers=obs)
    # recompute the iterates at the recorded steps by running exactly that many steps
    for j, t in enumerate(run.steps):
        U = qsense.gradient_descent(op, op.measure(P.X), eta=0.1, steps=int(t), alpha=1e-2, record=[]).U
        S, E = signal_error_split(U, P.Z)
        assert np.isclose(run.records["signal_min"][j], signal_strength(U, P.Z))
        assert np.isclose(run.records["error_fro"][j], np.linalg.norm(E))
        assert np.isclose(run.records["error_op"][j], np.linalg.norm(E, 2))
        assert np.allclose(run.records["signal_diag"][j], np.diag(P.Z.T @ U @ U.T @ P.Z))
        assert np.isclose(run.records["angle"][j], subspace_distance(U, P.Z))


def test_observers_work_on_batched_runs():
    d = 10
    P = planted_psd(d, 2, seed=2)
    op = PopulationOperator(d)
    run = qsense.gradient_descent(op, op.measure(P.X), eta=0.1, steps=20, alpha=[1e-2, 1e-3],
                                  observers=signal_error_observers(P.Z), record="all")
    assert run.records["signal_diag"].shape == (2, 21, 2)
    assert run.records["error_fro"].shape == (2, 21)
    # population dynamics from alpha*I never create an error component beyond the initial one
    assert np.allclose(run.records["error_fro"][:, 0], np.array([1e-2, 1e-3]) * np.sqrt(d - 2))


def test_population_learning_times_match_the_prediction():
    d = 30
    lam = np.array([1.0, 0.5, 0.25, 0.125])
    P = planted_psd(d, spectrum=lam, seed=0)
    op = PopulationOperator(d)
    eta = 0.05
    alphas = np.array([1e-3, 1e-5])
    run = qsense.gradient_descent(op, op.measure(P.X), eta=eta, steps=1100, alpha=alphas, record="all",
                                  observers=signal_error_observers(P.Z))
    for i, a in enumerate(alphas):
        pred = predicted_learning_times(lam, a, eta)
        obs = observed_learning_times(run.steps, run.records["signal_diag"][i], lam)
        assert np.all(np.isfinite(obs))
        assert np.all(np.abs(obs - pred) <= 2.0), (obs, pred)
        # learned in order of decreasing eigenvalue: incremental learning
        assert np.all(np.diff(obs) > 0)


def test_learning_time_scalar_recursion_by_hand():
    # the scalar recursion sigma <- sigma (1 + 2 eta (lam - sigma^2)) crosses lam/2 at t_k (+- 1 step)
    lam, eta, alpha = 0.3, 0.1, 1e-6
    s, t = alpha, 0
    while s * s < lam / 2:
        s *= 1 + 2 * eta * (lam - s * s)
        t += 1
    assert abs(t - predicted_learning_times([lam], alpha, eta)[0]) <= 1.5


def test_finite_measurements_learning_times_and_small_error():
    d = 40
    lam = np.array([1.0, 0.5, 0.25])
    P = planted_psd(d, spectrum=lam, seed=1)
    op = GaussianOperator(d, 5 * d * 3, seed=2)  # 600 < d(d+1)/2 = 820
    eta, alpha = 0.1, 1e-2
    run = qsense.gradient_descent(op, op.measure(P.X), eta=eta, steps=300, alpha=alpha, record="all",
                                  observers=signal_error_observers(P.Z), target=P)
    obs = observed_learning_times(run.steps, run.records["signal_diag"], lam)
    pred = predicted_learning_times(lam, alpha, eta)
    assert np.all(np.abs(obs - pred) <= 0.25 * pred), (obs, pred)
    # the error part stays at the scale of the initialisation until the truth is recovered
    t_rec = recovery_time(run, 0.05)
    assert np.isfinite(t_rec)
    upto = slice(0, int(t_rec) + 1)
    assert run.records["error_fro"][upto].max() <= 4 * alpha * np.sqrt(d)
    assert np.all(run.records["error_perp"] <= run.records["error_fro"] + 1e-15)
    # while the signal grows geometrically
    assert run.records["signal_min"][int(t_rec)] > 20 * run.records["signal_min"][0]
    # and the top-r eigenspace of U U^T lines up with col(X_star)
    assert run.records["angle"][-1] < 0.05 < run.records["angle"][0]


def test_recovery_time_is_linear_in_log_inverse_alpha():
    d = 20
    P = planted_psd(d, spectrum=[1.0, 0.5], seed=6)
    op = PopulationOperator(d)
    eta = 0.1
    alphas = np.logspace(-2, -7, 6)
    run = qsense.gradient_descent(op, op.measure(P.X), eta=eta, steps=600, alpha=alphas, record="all", target=P)
    t = recovery_time(run, 0.05)
    assert np.all(np.isfinite(t))
    slope, _, r2 = fit_line(np.log(1 / alphas), t)
    assert r2 > 0.99
    # the last eigenvalue sets the pace: slope 1/ln(1 + 2 eta lambda_r)
    assert np.isclose(slope, 1 / np.log1p(2 * eta * 0.5), rtol=0.05)


def test_first_crossing_and_recovery_time_edge_cases():
    steps = np.arange(5)
    assert first_crossing(steps, [0, 1, 2, 3, 4], 2.5) == 3
    assert first_crossing(steps, [4, 3, 2, 1, 0], 1, direction="down") == 3
    assert np.isnan(first_crossing(steps, [0, 0, 0, 0, 0], 1))
    out = first_crossing(steps, [[0, 1, 2, 3, 4], [0, 0, 0, 0, 9]], 2)
    assert np.array_equal(out, [2, 4])
    with pytest.raises(ValueError, match="direction"):
        first_crossing(steps, [0, 1, 2, 3, 4], 1, direction="sideways")
    with pytest.raises(ValueError, match="values"):
        first_crossing(steps, [0, 1, 2], 1)
    with pytest.raises(TypeError, match="steps"):
        first_crossing([0.5, 1.5], [0, 1], 1)


def test_fit_line_recovers_a_line_and_reports_r2():
    x = np.linspace(0, 1, 10)
    a, b, r2 = fit_line(x, 3 * x - 2)
    assert np.isclose(a, 3) and np.isclose(b, -2) and np.isclose(r2, 1)
    _, _, r2_noisy = fit_line(x, 3 * x + np.cos(40 * x))
    assert r2_noisy < 0.99
    with pytest.raises(ValueError, match="constant"):
        fit_line(np.ones(3), np.arange(3.0))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: predicted_learning_times([1.0, -0.5], 1e-3, 0.1), ValueError, "eigenvalues"),
    (lambda: predicted_learning_times([1.0], 2.0, 0.1), ValueError, "alpha"),
    (lambda: predicted_learning_times([1.0], 1e-3, 0.0), ValueError, "eta"),
    (lambda: signal_error_observers(np.ones((4, 2))), ValueError, "orthonormal"),
    (lambda: subspace_distance(np.eye(4)[:, :1], np.eye(4)[:, :2]), ValueError, "columns"),
    (lambda: observed_learning_times(np.arange(3), np.ones((3, 2)), [1.0]), ValueError, "signal_diag"),
    (lambda: observed_learning_times(np.arange(3), np.ones((3, 1)), [1.0], fraction=2.0), ValueError, "fraction"),
    (lambda: recovery_time(object(), 0.1), ValueError, "target"),
    (lambda: recovery_time(object(), -1.0), ValueError, "tol"),
])
def test_bad_input_is_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_observer_selection():
    Z = np.eye(5)[:, :2]
    assert set(signal_error_observers(Z, keys=["error_fro"])) == {"error_fro"}
    with pytest.raises(ValueError, match="keys"):
        signal_error_observers(Z, keys=["nope"])
    with pytest.raises(TypeError, match="keys"):
        signal_error_observers(Z, keys="error_fro")
