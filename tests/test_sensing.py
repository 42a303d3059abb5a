import numpy as np
import pytest

from qsense.sensing import DenseOperator, GaussianOperator, PopulationOperator, entry_sampling
from qsense.symmetric import smat, svec, sym_dim

from conftest import random_symmetric

OPERATORS = [
    lambda: GaussianOperator(7, 40, seed=1),
    lambda: PopulationOperator(6),
    lambda: entry_sampling(5, 30, seed=2),
]


def test_svec_is_an_isometry_and_smat_inverts_it(rng):
    X, Y = random_symmetric(rng, 6), random_symmetric(rng, 6)
    assert np.isclose(svec(X) @ svec(Y), np.sum(X * Y))
    assert np.allclose(smat(svec(X)), X)
    assert svec(X).shape == (sym_dim(6),)
    stack = np.stack([X, Y])
    assert np.allclose(smat(svec(stack)), stack)


@pytest.mark.parametrize("make", OPERATORS)
def test_adjoint_identity(make, rng):
    op = make()
    X = random_symmetric(rng, op.d)
    r = rng.standard_normal(op.m)
    assert np.isclose(op.measure(X) @ r, np.sum(X * op.adjoint(r)), rtol=1e-12)


@pytest.mark.parametrize("make", OPERATORS)
def test_operator_matches_its_matrices(make, rng):
    op = make()
    A = op.matrices()
    assert A.shape == (op.m, op.d, op.d)
    assert np.allclose(A, np.swapaxes(A, 1, 2))
    X = random_symmetric(rng, op.d)
    assert np.allclose(op.measure(X), np.einsum("mij,ij->m", A, X))
    r = rng.standard_normal(op.m)
    assert np.allclose(op.adjoint(r), np.einsum("m,mij->ij", r, A))
    U = rng.standard_normal((op.d, 3))
    assert np.allclose(op.measure_factor(U), op.measure(U @ U.T))
    assert np.allclose(op.adjoint_apply(r, U), op.adjoint(r) @ U)


@pytest.mark.parametrize("make", OPERATORS)
def test_stacks_are_measured_one_by_one(make, rng):
    op = make()
    Xs = np.stack([random_symmetric(rng, op.d) for _ in range(3)])
    assert np.allclose(op.measure(Xs), np.stack([op.measure(X) for X in Xs]))
    R = rng.standard_normal((3, op.m))
    assert np.allclose(op.adjoint(R), np.stack([op.adjoint(r) for r in R]))


def test_gaussian_matrices_have_the_symmetrised_gaussian_law():
    op = GaussianOperator(3, 100_000, seed=0)
    A = op.matrices()
    assert abs(A[:, 0, 0].var() - 1.0) < 0.02          # diagonal of (G + G^T)/2: N(0, 1)
    assert abs(A[:, 0, 1].var() - 0.5) < 0.01          # off-diagonal: N(0, 1/2)
    assert abs(np.corrcoef(A[:, 0, 1], A[:, 1, 2])[0, 1]) < 0.02


def test_dense_operator_from_matrices_round_trips(rng):
    G = rng.standard_normal((10, 4, 4))
    A = (G + np.swapaxes(G, 1, 2)) / 2
    op = DenseOperator(A)
    assert np.allclose(op.matrices(), A)


def test_isotropy_on_average_at_m_5dr(rng):
    d, r = 20, 2
    op = GaussianOperator(d, 5 * d * r, seed=3)
    ratios = []
    for _ in range(50):
        X = random_symmetric(rng, d, rank=r)
        ratios.append(np.mean(op.measure(X) ** 2) / np.sum(X * X))
    ratios = np.array(ratios)
    assert 0.9 <= ratios.mean() <= 1.1
    assert np.all((ratios > 0.5) & (ratios < 1.5))


def test_population_operator_is_the_identity_map(rng):
    op = PopulationOperator(8)
    X = random_symmetric(rng, 8)
    assert np.allclose(op.normal(X), X, atol=1e-12)
    assert np.isclose(np.mean(op.measure(X) ** 2), np.sum(X * X))


def test_same_seed_same_operator_despite_global_state():
    a = GaussianOperator(6, 20, seed=7).packed.copy()
    np.random.seed(0)
    np.random.standard_normal(1000)
    b = GaussianOperator(6, 20, seed=7).packed
    assert np.array_equal(a, b)


def test_float32_operator_is_close_to_float64():
    op64 = GaussianOperator(10, 50, seed=4)
    op32 = GaussianOperator(10, 50, seed=4, dtype=np.float32)
    assert op32.packed.dtype == np.float32
    X = random_symmetric(np.random.default_rng(0), 10)
    assert np.allclose(op32.measure(X.astype(np.float32)), op64.measure(X), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda op: op.measure(np.ones((4, 4))), "shape"),
    (lambda op: op.measure(np.arange(25.0).reshape(5, 5)), "symmetric"),
    (lambda op: op.measure(np.full((5, 5), np.nan)), "NaN"),
    (lambda op: op.adjoint(np.ones(3)), "r must have shape"),
    (lambda op: op.measure_factor(np.ones((4, 2))), "U must have shape"),
])
def test_bad_input_names_the_parameter(call, match):
    op = GaussianOperator(5, 12, seed=0)
    with pytest.raises(ValueError, match=match):
        call(op)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(d=0, m=3), ValueError, "d must be >= 1"),
    (dict(d=3, m=0), ValueError, "m must be >= 1"),
    (dict(d=3.5, m=3), TypeError, "d must be an integer"),
    (dict(d=3, m=3, dtype=np.int32), ValueError, "dtype"),
    (dict(d=3, m=3, seed="x"), TypeError, "seed"),
])
def test_gaussian_operator_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        GaussianOperator(**kwargs)


def test_dense_operator_rejects_non_symmetric_matrices():
    with pytest.raises(ValueError, match="A must be symmetric"):
        DenseOperator(np.arange(18.0).reshape(2, 3, 3))
