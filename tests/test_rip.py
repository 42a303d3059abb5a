import numpy as np
import pytest

from qsense import rip
from qsense.sensing import DenseOperator, GaussianOperator, PopulationOperator, entry_sampling
from qsense.symmetric import svec, sym_dim

from conftest import random_symmetric


def rank_one_operator(d, m, *, centred=False, seed=0):
    """A_i = x_i x_i^T (or (x_i x_i^T - I)/sqrt(2), isotropic on average), x_i ~ N(0, I_d)."""
    x = np.random.default_rng(seed).standard_normal((m, d))
    A = np.einsum("mi,mj->mij", x, x)
    if centred:
        A = (A - np.eye(d)) / np.sqrt(2)
    return DenseOperator(A), x


def orthonormal_basis_operator(d, seed=0):
    """A_i = sqrt(D) E_i for a random orthonormal basis E_1..E_D of Sym(d): (1/m) A*A = id."""
    D = sym_dim(d)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, D)))
    return DenseOperator.from_packed(np.sqrt(D) * Q, d)


def planted_operator(d, X0, s2, base=None):
    r"""Operator with ratio(X) = ||T svec(X)||^2 (times the base's), T = I + (sqrt(s2) - 1) x0 x0^T.

    On top of the population operator the isometry ratios of all symmetric matrices fill exactly
    [min(1, s2), max(1, s2)], the extreme one at X0: delta_r = |s2 - 1| for every r >= rank(X0).
    """
    D = sym_dim(d)
    x0 = svec(X0) / np.linalg.norm(X0)
    T = np.eye(D) + (np.sqrt(s2) - 1.0) * np.outer(x0, x0)
    packed = np.sqrt(D) * np.eye(D) if base is None else base.packed
    return DenseOperator.from_packed(packed @ T, d)


ALL_OPERATORS = {
    "gaussian": lambda: GaussianOperator(8, 60, seed=1),
    "gaussian-float32": lambda: GaussianOperator(8, 60, seed=1, dtype=np.float32),
    "population": lambda: PopulationOperator(7),
    "entry-sampling": lambda: entry_sampling(7, 40, seed=2),
    "rank-one": lambda: rank_one_operator(8, 60)[0],
    "rank-one-centred": lambda: rank_one_operator(8, 60, centred=True)[0],
}


# --- building blocks -----------------------------------------------------------------------------
def test_random_low_rank_has_the_promised_rank_norm_and_symmetry():
    X = rip.random_low_rank(9, 3, 20, seed=0)
    assert X.shape == (20, 9, 9)
    assert np.allclose(X, np.swapaxes(X, 1, 2))
    assert np.allclose(np.linalg.norm(X, axis=(1, 2)), 1.0)
    assert np.all(np.linalg.matrix_rank(X, tol=1e-10) == 3)
    P = rip.random_low_rank(9, 3, 20, psd=True, seed=0)
    assert np.all(np.linalg.eigvalsh(P) > -1e-12)
    assert np.array_equal(rip.random_low_rank(9, 3, seed=4), rip.random_low_rank(9, 3, seed=4))
    assert rip.random_low_rank(9, 3, seed=4).shape == (9, 9)


def test_truncate_rank_is_the_best_rank_r_approximation(rng):
    X = random_symmetric(rng, 8)
    P = rip.truncate_rank(X, 3)
    assert np.linalg.matrix_rank(P, tol=1e-10) == 3
    lam = np.linalg.eigvalsh(X)
    dropped = np.sort(np.abs(lam))[:-3]
    assert np.isclose(np.linalg.norm(X - P), np.sqrt(np.sum(dropped ** 2)))      # Eckart-Young
    for Y in rip.random_low_rank(8, 3, 50, seed=1):
        c = np.sum(X * Y)                                                         # best multiple of Y
        assert np.linalg.norm(X - P) <= np.linalg.norm(X - c * Y) + 1e-12
    assert np.allclose(rip.truncate_rank(P, 3), P)                                 # idempotent
    assert np.allclose(rip.truncate_rank(np.stack([X, P]), 3)[0], P)


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_isometry_ratio_is_the_definition(name, rng):
    op = ALL_OPERATORS[name]()
    A = op.matrices().astype(np.float64)
    X = random_symmetric(rng, op.d, rank=2)
    want = np.sum(np.einsum("mij,ij->m", A, X) ** 2) / op.m / np.sum(X * X)
    tol = 1e-5 if op.dtype == np.float32 else 1e-12
    assert np.isclose(rip.isometry_ratio(op, X), want, rtol=tol)
    assert np.isclose(rip.isometry_ratio(op, 3.0 * X), want, rtol=tol)            # scale invariant
    stack = np.stack([X, random_symmetric(rng, op.d)])
    assert np.allclose(rip.isometry_ratio(op, stack), [rip.isometry_ratio(op, S) for S in stack])


def test_gaussian_probe_ratios_follow_chi_square_over_m():
    # For a fixed X, <A_i, X> ~ N(0, ||X||_F^2) independently, so rho ~ chi^2_m / m: mean 1, var 2/m.
    # Over fresh operators (one probe each) that law is exact.
    m = 50
    rho = np.array([rip.probe_ratios(GaussianOperator(6, m, seed=s), 2, 1, seed=100 + s)[0] for s in range(2000)])
    assert abs(rho.mean() - 1) < 4 * np.sqrt(2 / m / rho.size)
    assert abs(rho.var() / (2 / m) - 1) < 0.15


# --- must hold: delta = 0 for an orthonormal basis ----------------------------------------------
@pytest.mark.parametrize("make", [lambda: PopulationOperator(7), lambda: orthonormal_basis_operator(7)])
@pytest.mark.parametrize("r", [1, 3, 7])
def test_orthonormal_measurement_basis_has_delta_zero(make, r):
    op = make()
    est = rip.estimate_rip(op, r, seed=0)
    assert est.delta < 1e-12
    assert np.all(np.abs(est.probe_ratios - 1) < 1e-12)
    full = rip.unrestricted_isometry(op)
    assert abs(full.lower - 1) < 1e-12 and abs(full.upper - 1) < 1e-12 and full.delta < 1e-12


# --- must hold: a planted bad direction is caught --------------------------------------------------
@pytest.mark.parametrize("s2", [1.5, 0.6, 3.0])
@pytest.mark.parametrize("r", [1, 2])
def test_planted_bad_direction_is_found_exactly(s2, r):
    d = 10
    X0 = rip.random_low_rank(d, r, seed=5)
    op = planted_operator(d, X0, s2)
    planted = abs(s2 - 1)
    assert np.isclose(abs(rip.isometry_ratio(op, X0) - 1), planted)
    est = rip.estimate_rip(op, r, seed=1)
    assert est.delta >= planted * (1 - 1e-9)
    assert est.delta <= planted * (1 + 1e-9)              # here the true delta_r is exactly the planted one
    witness = est.X_upper if s2 > 1 else est.X_lower
    assert abs(np.sum(witness * X0)) > 1 - 1e-6            # and the search points at the planted direction
    assert est.delta_probes < 0.8 * planted                # random probes alone fall well short


def test_bad_direction_planted_in_a_gaussian_operator_is_found():
    d, r = 10, 2
    X0 = rip.random_low_rank(d, r, seed=7)
    op = planted_operator(d, X0, 4.0, base=GaussianOperator(d, 400, seed=3))
    planted = rip.isometry_ratio(op, X0) - 1
    assert planted > 2.5
    est = rip.estimate_rip(op, r, seed=2)
    assert est.delta >= planted - 1e-9
    assert est.delta_probes < planted / 2


# --- must hold: delta decreases with m on average --------------------------------------------------
def test_estimated_delta_decreases_as_m_grows():
    d, r = 10, 2
    ms = [2 * d * r, 4 * d * r, 8 * d * r, 16 * d * r]
    mean_delta = [np.mean([rip.estimate_rip(GaussianOperator(d, m, seed=s), r, n_probes=50, steps=60, seed=s).delta
                           for s in range(3)]) for m in ms]
    assert all(a > b for a, b in zip(mean_delta, mean_delta[1:])), mean_delta
    # roughly like sqrt(dr/m): quadrupling m at least shrinks it by a third
    assert mean_delta[-1] < mean_delta[1] * 2 / 3


# --- must hold: the adversarial estimate is never below the random-probe estimate -------------------
@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_search_is_never_below_the_probes_and_ascends_monotonically(name):
    op = ALL_OPERATORS[name]()
    for seed in range(3):
        est = rip.estimate_rip(op, 2, n_probes=100, seed=seed)
        assert est.delta >= est.delta_probes
        assert est.delta_search >= est.delta_probes - 1e-12       # warm starts + monotone ascent
        assert np.all(np.diff(est.history_upper) >= -1e-12)
        assert np.all(np.diff(est.history_lower) <= 1e-12)
        assert np.isclose(rip.isometry_ratio(op, est.X_upper), est.upper, rtol=1e-5)
        assert np.isclose(rip.isometry_ratio(op, est.X_lower), est.lower, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("m", [40, 80, 200])
def test_search_from_random_starts_beats_many_probes(m):
    # Independent of the probes: a cold search from 4 random starts against 2000 random probes.
    op = GaussianOperator(10, m, seed=m)
    probes = rip.probe_ratios(op, 2, 2000, seed=1)
    delta_probes = max(probes.max() - 1, 1 - probes.min())
    est = rip.estimate_rip(op, 2, n_probes=1, warm_start=False, seed=2)
    assert est.delta_search > delta_probes * 1.2


def test_the_search_finds_the_true_delta_when_r_equals_d():
    # Without the rank restriction delta_d is an eigenvalue problem: the search must reach it.
    op = GaussianOperator(4, 30, seed=1)
    full = rip.unrestricted_isometry(op)
    est = rip.estimate_rip(op, 4, steps=3000, tol=1e-13, seed=0)
    assert np.isclose(est.upper, full.upper, rtol=1e-8)
    assert np.isclose(est.lower, full.lower, rtol=1e-6)


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_no_ratio_escapes_the_unrestricted_range(name):
    op = ALL_OPERATORS[name]()
    full = rip.unrestricted_isometry(op)
    est = rip.estimate_rip(op, 3, seed=0)
    tol = 1e-4 if op.dtype == np.float32 else 1e-10
    assert full.lower - tol <= est.lower and est.upper <= full.upper + tol
    assert est.delta <= full.delta + tol


def test_unrestricted_isometry_matches_the_explicit_gram_matrix():
    op = GaussianOperator(5, 40, seed=0)                    # m >= D = 15
    Phi = svec(op.matrices())
    eig = np.linalg.eigvalsh(Phi.T @ Phi / op.m)
    full = rip.unrestricted_isometry(op)
    assert np.isclose(full.lower, eig[0]) and np.isclose(full.upper, eig[-1])
    small = rip.unrestricted_isometry(GaussianOperator(5, 10, seed=0))
    assert small.lower == 0.0 and small.delta >= 1.0     # m < D: some matrix is not seen at all


def test_unobserved_entry_is_found_by_the_search():
    # Entry sampling with m < D leaves an entry unobserved: a rank-(<= 2) matrix with ratio 0.
    op = entry_sampling(6, 15, seed=0)
    est = rip.estimate_rip(op, 2, seed=0)
    assert est.lower < 1e-12 and est.delta >= 1.0


def test_rank_one_measurements_have_a_spike_along_each_sample():
    # With A_i = (x_i x_i^T - I)/sqrt(2), the direction v = x_j/|x_j| has ratio >= (|x_j|^2 - 1)^2 / (2m).
    op, x = rank_one_operator(20, 100, centred=True)
    norms2 = np.sum(x * x, axis=1)
    j = int(np.argmax(norms2))
    v = x[j] / np.sqrt(norms2[j])
    witness = (norms2[j] - 1) ** 2 / (2 * op.m)
    assert rip.isometry_ratio(op, np.outer(v, v)) >= witness
    est = rip.estimate_rip(op, 1, seed=0)
    assert est.upper >= witness


def test_user_starts_are_used():
    d = 8
    X0 = rip.random_low_rank(d, 1, seed=3)
    op = planted_operator(d, X0, 2.0)
    est = rip.estimate_rip(op, 1, n_probes=1, n_starts=0, warm_start=False, starts=X0[None], steps=1)
    assert np.isclose(est.upper, 2.0)


def test_same_seed_same_estimate():
    op = GaussianOperator(8, 50, seed=0)
    a, b = rip.estimate_rip(op, 2, seed=11), rip.estimate_rip(op, 2, seed=11)
    assert a.delta == b.delta and np.array_equal(a.X_upper, b.X_upper)


# --- must hold: bad input gets a clear error ---------------------------------------------------------
@pytest.mark.parametrize("call, exc, match", [
    (lambda op: rip.estimate_rip(op, 0), ValueError, "r must be >= 1"),
    (lambda op: rip.estimate_rip(op, 7), ValueError, "r must be <= 6"),
    (lambda op: rip.estimate_rip(op, 2.5), TypeError, "r must be an integer"),
    (lambda op: rip.estimate_rip(op, 2, n_probes=0), ValueError, "n_probes must be >= 1"),
    (lambda op: rip.estimate_rip(op, 2, n_starts=-1), ValueError, "n_starts must be >= 0"),
    (lambda op: rip.estimate_rip(op, 2, steps=-1), ValueError, "steps must be >= 0"),
    (lambda op: rip.estimate_rip(op, 2, tol=0), ValueError, "tol must be > 0"),
    (lambda op: rip.estimate_rip(op, 2, seed="x"), TypeError, "seed"),
    (lambda op: rip.estimate_rip(op, 2, starts=np.eye(5)[None]), ValueError, "dimension d = 6"),
    (lambda op: rip.estimate_rip(op, 2, starts=np.zeros((1, 6, 6))), ValueError, "non-zero"),
    (lambda op: rip.probe_ratios(op, 2, 0), ValueError, "n_probes must be >= 1"),
    (lambda op: rip.probe_ratios(op, 0), ValueError, "r must be >= 1"),
    (lambda op: rip.probe_ratios(op, 9), ValueError, "r must be <= 6"),
    (lambda op: rip.isometry_ratio(op, np.eye(5)), ValueError, "dimension d = 6"),
    (lambda op: rip.isometry_ratio(op, np.zeros((6, 6))), ValueError, "non-zero"),
    (lambda op: rip.isometry_ratio(op, np.arange(36.0).reshape(6, 6)), ValueError, "symmetric"),
    (lambda op: rip.estimate_rip(np.eye(6), 2), TypeError, "operator must be"),
    (lambda op: rip.isometry_ratio("A", np.eye(6)), TypeError, "operator must be"),
    (lambda op: rip.truncate_rank(np.eye(6), 0), ValueError, "r must be >= 1"),
    (lambda op: rip.truncate_rank(np.ones((3, 4)), 1), ValueError, "square"),
    (lambda op: rip.random_low_rank(4, 5), ValueError, "r must be <= 4"),
    (lambda op: rip.random_low_rank(4, 2, 0), ValueError, "n must be >= 1"),
])
def test_bad_input_is_rejected_with_a_named_parameter(call, exc, match):
    op = GaussianOperator(6, 30, seed=0)
    with pytest.raises(exc, match=match):
        call(op)
