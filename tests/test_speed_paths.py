"""Every fast path against a plain reference on small sizes.

The reference is the definition: explicit d x d matrices A_i, <A_i, X> = sum(A_i * X) and
A*(r) = sum_i r_i A_i, and a plain gradient-descent loop written out here (test code only; the
package has exactly one engine). In float64 the fast paths must give the same iterates to 1e-10.
"""
import numpy as np
import pytest

from qsense.descent import gradient_descent, loss_and_gradient
from qsense.problems import planted_psd
from qsense.sensing import DenseOperator, GaussianOperator, PopulationOperator, entry_sampling
from qsense.symmetric import smat, svec

from conftest import random_symmetric

GEMV_ONLY, GEMM_ALWAYS = 10**9, 1


def with_path(op, threshold):
    """The same operator with its GEMM/GEMV switch forced (instance attribute)."""
    op.gemm_min_batch = threshold
    return op


def reference_step(A, y, U, eta):
    """One plain GD step on the full layout: U - eta * 2 M U, M = (1/m) sum_i res_i A_i."""
    res = np.einsum("mij,ij->m", A, U @ U.T) - y
    M = np.einsum("m,mij->ij", res, A) / len(y)
    return U - eta * 2.0 * M @ U, 0.5 * np.mean(res ** 2)


def reference_gd(A, y, U0, eta, steps):
    U, losses = U0.copy(), []
    for _ in range(steps):
        U, f = reference_step(A, y, U, eta)
        losses.append(f)
    return U, np.array(losses)


def close(a, b, tol=1e-10):
    return np.linalg.norm(a - b) <= tol * max(np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("threshold", [GEMV_ONLY, GEMM_ALWAYS], ids=["gemv", "gemm"])
@pytest.mark.parametrize("b", [1, 2, 3, 4, 8])
def test_dense_kernels_on_stacks_match_the_definition(threshold, b, rng):
    op = with_path(GaussianOperator(9, 70, seed=3), threshold)
    A = op.matrices()
    U = rng.standard_normal((b, 9, 4))
    X = U @ np.swapaxes(U, 1, 2)
    R = rng.standard_normal((b, 70))
    assert close(op.measure_factor(U), np.einsum("mij,bij->bm", A, X), 1e-12)
    assert close(op.measure(X), np.einsum("mij,bij->bm", A, X), 1e-12)
    assert close(op.adjoint(R), np.einsum("bm,mij->bij", R, A), 1e-12)
    assert close(op.adjoint_apply(R, U), np.einsum("bm,mij->bij", R, A) @ U, 1e-12)
    # a stack gives, run by run, what the single-matrix (GEMV) call gives
    for i in range(b):
        assert close(op.measure_factor(U)[i], op.measure_factor(U[i]), 1e-13)
        assert close(op.adjoint_apply(R, U)[i], op.adjoint_apply(R[i], U[i]), 1e-13)


def test_dense_kernels_keep_extra_leading_axes(rng):
    op = with_path(GaussianOperator(5, 20, seed=0), GEMM_ALWAYS)
    U = rng.standard_normal((2, 3, 5, 2))
    out = op.measure_factor(U)
    assert out.shape == (2, 3, 20)
    assert close(out[1, 2], op.measure_factor(U[1, 2]), 1e-13)
    R = rng.standard_normal((2, 3, 20))
    assert op.adjoint_apply(R, U).shape == (2, 3, 5, 2)


@pytest.mark.parametrize("make", [lambda: GaussianOperator(8, 60, seed=1), lambda: entry_sampling(8, 50, seed=2),
                                  lambda: PopulationOperator(8)], ids=["gaussian", "entries", "population"])
def test_one_engine_step_equals_the_plain_full_layout_step(make, rng):
    op = make()
    A = op.matrices()
    P = planted_psd(8, 2, seed=0)
    y = op.measure(P.X)
    U0 = 0.3 * rng.standard_normal((8, 8))
    U_ref, losses = reference_gd(A, y, U0, eta=0.05, steps=25)
    run = gradient_descent(op, y, eta=0.05, steps=25, U0=U0)
    assert close(run.U, U_ref)
    assert np.allclose(run.loss[:-1], losses, rtol=1e-10, atol=0)


@pytest.mark.parametrize("threshold", [GEMV_ONLY, GEMM_ALWAYS], ids=["gemv", "gemm"])
@pytest.mark.parametrize("b", [2, 3, 8])
def test_batched_runs_give_the_iterates_of_plain_sequential_runs(threshold, b):
    d = 10
    P = planted_psd(d, 2, seed=0)
    op = with_path(GaussianOperator(d, 60, seed=1), threshold)
    A = op.matrices()
    y = op.measure(P.X)
    alphas = np.geomspace(1e-3, 1e-1, b)
    etas = np.linspace(0.05, 0.1, b)
    batch = gradient_descent(op, y, eta=etas, alpha=alphas, steps=60, target=P, record="all")
    assert batch.U.shape == (b, d, d)
    for i in range(b):
        U_ref, losses = reference_gd(A, y, alphas[i] * np.eye(d), etas[i], 60)
        assert close(batch.U[i], U_ref)
        assert np.allclose(batch.loss[i, :-1], losses, rtol=1e-10, atol=0)
        single = gradient_descent(op, y, eta=etas[i], alpha=alphas[i], steps=60, target=P, record="all")
        assert close(batch.U[i], single.U)
        assert np.allclose(batch.error[i], single.error, rtol=1e-10, atol=1e-15)
        assert np.allclose(batch.eigenvalues[i], single.eigenvalues, rtol=1e-9, atol=1e-14)


def test_gradient_of_a_batch_is_the_batch_of_gradients(rng):
    op = with_path(GaussianOperator(7, 40, seed=5), GEMM_ALWAYS)
    y = rng.standard_normal(40)
    U = rng.standard_normal((5, 7, 3))
    f, g = loss_and_gradient(op, y, U)
    for i in range(5):
        fi, gi = loss_and_gradient(op, y, U[i])
        assert np.isclose(f[i], fi, rtol=1e-12)
        assert close(g[i], gi, 1e-12)


def test_packed_storage_is_half_the_full_layout():
    op = GaussianOperator(30, 100, seed=0)
    assert op.packed.shape == (100, 30 * 31 // 2)
    assert op.nbytes == 100 * 465 * 8
    op32 = GaussianOperator(30, 100, seed=0, dtype=np.float32)
    assert op32.nbytes * 2 == op.nbytes


def test_no_silent_upcast_copies_of_the_operator(rng):
    """A float32 operator computes in float32 (a float64 product would copy the operator)."""
    op = GaussianOperator(6, 30, seed=0, dtype=np.float32)
    U = rng.standard_normal((3, 6, 2))
    for threshold in (GEMV_ONLY, GEMM_ALWAYS):
        with_path(op, threshold)
        assert op.measure_factor(U).dtype == np.float32
        assert op.adjoint_apply(rng.standard_normal((3, 30)), U).dtype == np.float32
    run = gradient_descent(op, np.ones(30, dtype=np.float32), eta=0.01, steps=3, alpha=[0.1, 0.2, 0.3, 0.4])
    assert run.U.dtype == np.float32


def test_svec_smat_on_stacks_match_one_by_one(rng):
    X = np.stack([random_symmetric(rng, 6) for _ in range(4)])
    V = svec(X)
    assert np.array_equal(V[2], svec(X[2]))
    assert np.allclose(smat(V, 6), X, rtol=0, atol=1e-15)


def test_svec_smat_accept_integer_matrices():
    X = np.arange(9).reshape(3, 3)
    X = X + X.T
    assert np.allclose(smat(svec(X)), X, rtol=0, atol=1e-14)
    assert np.isclose(svec(X) @ svec(X), np.sum(X * X))


def test_float32_accuracy_floor():
    """float32 is the same operator rounded; GD recovers X_star down to a floor of a few eps32.

    With m large enough that float64 reaches ~4e-9, float32 stalls around 2e-7 (measured:
    between eps32/10 and 50 eps32), and its iterates stay within 50 eps32 of float64's.
    """
    d = 20
    P = planted_psd(d, spectrum=[1.0, 0.7, 0.4], seed=1)
    op64 = GaussianOperator(d, 1000, seed=2)
    op32 = GaussianOperator(d, 1000, seed=2, dtype=np.float32)
    assert np.array_equal(op32.packed, op64.packed.astype(np.float32))
    y = op64.measure(P.X)
    kw = dict(eta=0.1, steps=1500, alpha=1e-6, target=P, record=[])
    r64 = gradient_descent(op64, y, **kw)
    r32 = gradient_descent(op32, y, **kw)
    eps32 = float(np.finfo(np.float32).eps)
    assert r64.final_error < 1e-8
    assert eps32 / 10 < r32.final_error < 50 * eps32
    gap = np.linalg.norm(r32.X.astype(np.float64) - r64.X) / np.linalg.norm(P.X)
    assert gap < 50 * eps32
