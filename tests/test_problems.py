import numpy as np
import pytest

from qsense.problems import as_target, planted_psd, spectrum_with_condition


def test_planted_psd_has_the_requested_spectrum():
    P = planted_psd(20, spectrum=[1.0, 0.4, 0.7], seed=0)
    assert np.allclose(P.eigenvalues, [1.0, 0.7, 0.4])
    lam = np.linalg.eigvalsh(P.X)[::-1]
    assert np.allclose(lam[:3], [1.0, 0.7, 0.4]) and np.allclose(lam[3:], 0, atol=1e-12)
    assert np.allclose(P.Z.T @ P.Z, np.eye(3))
    assert np.allclose(P.U @ P.U.T, P.X)
    assert P.rank == 3 and P.d == 20


def test_condition_number():
    P = planted_psd(15, 4, kappa=10.0, seed=1)
    assert np.isclose(P.condition_number, 10.0)
    assert np.isclose(P.eigenvalues[0], 1.0)
    assert np.allclose(spectrum_with_condition(3, 4.0), [1.0, 0.5, 0.25])


def test_seeded_and_independent_of_global_state():
    a = planted_psd(10, 2, seed=5).X
    np.random.seed(1)
    np.random.rand(100)
    b = planted_psd(10, 2, seed=5).X
    assert np.array_equal(a, b)
    assert not np.allclose(a, planted_psd(10, 2, seed=6).X)


@pytest.mark.parametrize("kwargs, match", [
    (dict(d=5, r=6), "r must be <= d"),
    (dict(d=5, r=0), "r must be >= 1"),
    (dict(d=5), "r .* is required"),
    (dict(d=5, spectrum=[1.0, -1.0]), "positive"),
    (dict(d=5, spectrum=[1.0, np.nan]), "NaN"),
    (dict(d=5, r=2, kappa=0.5), "kappa must be >= 1"),
    (dict(d=5, r=2, spectrum=[1.0, 0.5], kappa=2.0), "either spectrum or kappa"),
    (dict(d=5, r=3, spectrum=[1.0, 0.5]), "does not match"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        planted_psd(**kwargs)


@pytest.mark.parametrize("X, match", [
    (np.arange(9.0).reshape(3, 3), "symmetric"),
    (np.diag([1.0, -1.0, 0.0]), "positive semidefinite"),
    (np.diag([1.0, np.inf, 0.0]), "NaN or infinite"),
    (np.ones((2, 3)), "square"),
])
def test_as_target_rejects_bad_matrices(X, match):
    with pytest.raises(ValueError, match=match):
        as_target(X)
