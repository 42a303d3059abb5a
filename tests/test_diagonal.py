import numpy as np
import pytest

from qsense.diagonal import (cross_talk, diagonal_descent, diagonal_loss_and_gradient, diagonal_problem)


def test_gradient_matches_finite_differences(rng):
    p = diagonal_problem(7, 5, sparsity=2, seed=0)
    beta = rng.standard_normal(7)
    f, g = diagonal_loss_and_gradient(p.features, p.y, beta)
    h = 1e-6
    fd = np.array([(diagonal_loss_and_gradient(p.features, p.y, beta + h * e)[0]
                    - diagonal_loss_and_gradient(p.features, p.y, beta - h * e)[0]) / (2 * h) for e in np.eye(7)])
    assert np.allclose(g, fd, rtol=1e-6, atol=1e-9)
    direct = np.mean((p.features @ (beta * beta) - p.y) ** 2) / 4
    assert np.isclose(f, direct)


def test_descent_loss_and_steps_agree_with_the_gradient(rng):
    p = diagonal_problem(6, 4, sparsity=1, seed=1)
    run = diagonal_descent(p.features, p.y, eta=0.05, steps=5, alpha=0.1)
    beta = np.full(6, 0.1)
    for t in range(6):
        f, g = diagonal_loss_and_gradient(p.features, p.y, beta)
        assert np.allclose(run.beta[t], beta) and np.isclose(run.loss[t], f)
        beta = beta - 0.05 * g


def test_population_signal_follows_the_scalar_recursion_and_noise_never_grows():
    p = diagonal_problem(20, sparsity=2)
    assert np.allclose(p.gram, np.eye(20)) and cross_talk(p) == 0.0
    eta, alpha = 0.1, 1e-4
    run = diagonal_descent(p.features, p.y, eta=eta, steps=200, alpha=alpha)
    s = alpha
    for t in range(200):
        assert np.isclose(run.beta[t, 0], s, rtol=1e-12)
        s *= 1 + eta * (1 - s * s)
    assert np.all(np.abs(run.beta[:, 2:]) <= alpha)
    assert np.allclose(run.beta[-1, :2], 1, atol=1e-6)
    # early growth like (1 + eta)^t alpha
    assert np.isclose(run.beta[30, 0] / (alpha * (1 + eta) ** 30), 1, rtol=1e-3)


def test_finite_samples_recover_the_sparse_truth_and_noise_waits_about_1_over_eta_delta():
    p = diagonal_problem(100, 100, sparsity=1, seed=0)
    eta, alpha = 0.1, 1e-3
    delta = cross_talk(p)
    run = diagonal_descent(p.features, p.y, eta=eta, steps=400, alpha=alpha)
    noise = np.abs(run.beta[:, 1:]).max(axis=1)
    t_exit = int(np.argmax(noise > np.e * alpha))
    assert t_exit >= 0.9 / (eta * delta)
    assert np.abs(run.beta[-1] ** 2 - p.beta_star ** 2).max() < 0.1
    assert run.loss[-1] < 1e-4 * run.loss[0]


@pytest.mark.parametrize("call, exc, match", [
    (lambda: diagonal_problem(0), ValueError, "d"),
    (lambda: diagonal_problem(5, 3, sparsity=6), ValueError, "sparsity"),
    (lambda: diagonal_problem(5, 2.5), TypeError, "n"),
    (lambda: diagonal_descent(np.ones((3, 2)), np.ones(4), eta=0.1, steps=2, alpha=0.1), ValueError, "y"),
    (lambda: diagonal_descent(np.ones((3, 2)), np.ones(3), eta=-0.1, steps=2, alpha=0.1), ValueError, "eta"),
    (lambda: diagonal_descent(np.ones((3, 2)), np.ones(3), eta=0.1, steps=2, alpha=0.0), ValueError, "alpha"),
    (lambda: diagonal_loss_and_gradient(np.ones((3, 2)), np.ones(3), np.ones(3)), ValueError, "beta"),
    (lambda: cross_talk("problem"), TypeError, "problem"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_divergence_names_eta():
    p = diagonal_problem(5, sparsity=1)
    with pytest.raises(ValueError, match="eta"):
        diagonal_descent(p.features, p.y, eta=50.0, steps=200, alpha=0.5)
