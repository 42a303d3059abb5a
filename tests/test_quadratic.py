import numpy as np
import pytest

from qsense import quadratic
from qsense.descent import gradient_descent, loss as sensing_loss
from qsense.sensing import DenseOperator, RankOneOperator

from conftest import random_symmetric


def dense_rank_one(x, centred=False):
    """The explicit construction A_i = x_i x_i^T (- I, or - (1/n) sum_j x_j x_j^T), as a DenseOperator."""
    A = np.einsum("ni,nj->nij", x, x)
    if centred == "empirical":
        A = A - np.einsum("ni,nj->ij", x, x) / x.shape[0]
    elif centred:
        A = A - np.eye(x.shape[1])
    return DenseOperator(A)


# --- the operator --------------------------------------------------------------------------------
@pytest.mark.parametrize("centred", [False, True, "empirical"])
def test_matrix_free_operator_agrees_with_dense_construction(centred, rng):
    n, d, k = 30, 6, 4
    x = rng.standard_normal((n, d))
    op, dense = RankOneOperator(x, centred=centred), dense_rank_one(x, centred)
    X = random_symmetric(rng, d)
    r = rng.standard_normal(n)
    U = rng.standard_normal((d, k))
    assert np.allclose(op.measure(X), dense.measure(X), rtol=1e-12, atol=1e-12)
    assert np.allclose(op.adjoint(r), dense.adjoint(r), rtol=1e-12, atol=1e-12)
    assert np.allclose(op.measure_factor(U), dense.measure_factor(U), rtol=1e-12, atol=1e-12)
    assert np.allclose(op.adjoint_apply(r, U), dense.adjoint_apply(r, U), rtol=1e-12, atol=1e-12)
    assert np.allclose(op.matrices(), dense.matrices(), atol=1e-12)
    # the adjoint identity <A(X), r> = <X, A*(r)>
    assert np.isclose(op.measure(X) @ r, np.sum(X * op.adjoint(r)), rtol=1e-12)


@pytest.mark.parametrize("centred", [False, True, "empirical"])
def test_matrix_free_operator_works_on_stacks(centred, rng):
    n, d, k, b = 25, 5, 3, 4
    op = RankOneOperator(rng.standard_normal((n, d)), centred=centred)
    Xs = np.stack([random_symmetric(rng, d) for _ in range(b)])
    Us = rng.standard_normal((b, d, k))
    R = rng.standard_normal((b, n))
    assert np.allclose(op.measure(Xs), np.stack([op.measure(X) for X in Xs]))
    assert np.allclose(op.adjoint(R), np.stack([op.adjoint(r) for r in R]))
    assert np.allclose(op.measure_factor(Us), np.stack([op.measure_factor(U) for U in Us]))
    assert np.allclose(op.adjoint_apply(R, Us), np.stack([op.adjoint_apply(r, U) for r, U in zip(R, Us)]))
    # broadcasting a batch of residuals against one factor, and one residual against a batch
    assert np.allclose(op.adjoint_apply(R, Us[0]), np.stack([op.adjoint_apply(r, Us[0]) for r in R]))
    assert np.allclose(op.adjoint_apply(R[0], Us), np.stack([op.adjoint_apply(R[0], U) for U in Us]))


@pytest.mark.parametrize("centred", [False, True, "empirical"])
def test_gd_iterates_agree_with_dense_construction(centred, rng):
    n, d = 40, 6
    x = rng.standard_normal((n, d))
    P = quadratic.teacher(d, 2, seed=0)
    op, dense = RankOneOperator(x, centred=centred), dense_rank_one(x, centred)
    y = op.measure(P.X)
    assert np.allclose(y, dense.measure(P.X))
    for steps in (1, 2, 5, 20):
        a = gradient_descent(op, y, eta=0.02, steps=steps, alpha=0.1, init="orthogonal", seed=3)
        b = gradient_descent(dense, y, eta=0.02, steps=steps, alpha=0.1, init="orthogonal", seed=3)
        assert np.allclose(a.U, b.U, rtol=1e-10, atol=1e-12)
        assert np.allclose(a.loss, b.loss, rtol=1e-10)
    # and a batch of runs (different alpha) matches the runs one by one
    batch = gradient_descent(op, y, eta=0.02, steps=10, alpha=[0.1, 0.3])
    for i, alpha in enumerate([0.1, 0.3]):
        one = gradient_descent(dense, y, eta=0.02, steps=10, alpha=alpha)
        assert np.allclose(batch[i].U, one.U, rtol=1e-10, atol=1e-12)


def test_rank_one_moments_trace_term():
    # E<xx^T, X>^2 = 2||X||_F^2 + tr(X)^2 and (1/n) A*A(X) -> 2X + tr(X) I; centring gives 2X.
    d, n = 4, 400_000
    rng = np.random.default_rng(0)
    X = random_symmetric(rng, d) + 2 * np.eye(d)
    x = rng.standard_normal((n, d))
    for centred, second_moment, normal in [
        (False, 2 * np.sum(X * X) + np.trace(X) ** 2, 2 * X + np.trace(X) * np.eye(d)),
        (True, 2 * np.sum(X * X), 2 * X),
        ("empirical", 2 * np.sum(X * X), 2 * X),
    ]:
        op = RankOneOperator(x, centred=centred)
        assert abs(np.mean(op.measure(X) ** 2) / second_moment - 1) < 0.02
        assert np.linalg.norm(op.normal(X) - normal) / np.linalg.norm(normal) < 0.03


def test_float32_rank_one_operator_is_close_to_float64(rng):
    x = rng.standard_normal((50, 8))
    U = rng.standard_normal((8, 3))
    a = RankOneOperator(x).measure_factor(U)
    b = RankOneOperator(x, dtype=np.float32).measure_factor(U.astype(np.float32))
    assert b.dtype == np.float32
    assert np.allclose(a, b, rtol=1e-4)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((np.ones(5),), {}, ValueError, "x must be a 2-dimensional"),
    ((np.ones((0, 3)),), {}, ValueError, "at least one row"),
    ((np.full((4, 3), np.inf),), {}, ValueError, "x contains NaN or infinite"),
    ((np.ones((4, 3)),), dict(centred="yes"), ValueError, "centred must be False, True or 'empirical'"),
    ((np.ones((4, 3)),), dict(dtype=np.int64), ValueError, "dtype"),
])
def test_rank_one_operator_rejects_bad_arguments(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RankOneOperator(*args, **kwargs)


def test_rank_one_operator_rejects_factor_of_wrong_height(rng):
    op = RankOneOperator(rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match="U must have shape"):
        op.measure_factor(np.ones((5, 2)))
    with pytest.raises(ValueError, match="r must have shape"):
        op.adjoint_apply(np.ones(9), np.ones((4, 2)))


# --- the network ---------------------------------------------------------------------------------
def test_prediction_is_the_rank_one_measurement(rng):
    d, k, n = 9, 5, 50
    U = rng.standard_normal((d, k))
    x = rng.standard_normal((n, d))
    yhat = quadratic.predict(U, x)
    direct = np.array([sum((U[:, j] @ xi) ** 2 for j in range(k)) for xi in x])  # sum_j (u_j^T x)^2
    inner = np.einsum("ni,nj,ij->n", x, x, U @ U.T)                               # <x x^T, U U^T>
    assert np.allclose(yhat, direct, rtol=0, atol=1e-10)
    assert np.allclose(yhat, inner, rtol=0, atol=1e-10)
    assert np.allclose(yhat, RankOneOperator(x).measure_factor(U), rtol=0, atol=1e-10)
    assert np.isclose(quadratic.predict(U, x[0]), direct[0], rtol=0, atol=1e-10)


def test_network_loss_is_the_sensing_loss(rng):
    d, k, n = 7, 3, 40
    U = rng.standard_normal((d, k))
    x, y = quadratic.sample(quadratic.teacher(d, 2, seed=1), n, seed=2)
    direct = 0.5 * np.mean((quadratic.predict(U, x) - y) ** 2)
    assert np.isclose(quadratic.loss(U, x, y), direct, rtol=1e-12)
    assert np.isclose(sensing_loss(RankOneOperator(x), y, U), direct, rtol=1e-12)


def test_network_gradient_matches_finite_differences(rng):
    d, k, n, h = 6, 4, 30, 1e-6
    U = rng.standard_normal((d, k))
    x, y = quadratic.sample(quadratic.teacher(d, 2, seed=1), n, seed=2)
    _, g = quadratic.loss_and_gradient(U, x, y)
    g_fd = np.zeros_like(U)
    for idx in np.ndindex(U.shape):
        E = np.zeros_like(U)
        E[idx] = h
        g_fd[idx] = (quadratic.loss(U + E, x, y) - quadratic.loss(U - E, x, y)) / (2 * h)
    assert np.linalg.norm(g - g_fd) / np.linalg.norm(g_fd) < 1e-6
    # and against the formula written out unit by unit: dL/du_j = (2/n) sum_i res_i (u_j^T x_i) 2 x_i / 2
    res = quadratic.predict(U, x) - y
    by_hand = (2 / n) * (x.T * res) @ (x @ U)
    assert np.allclose(g, by_hand, rtol=1e-12)


def test_population_loss_closed_form_matches_fresh_samples():
    P = quadratic.teacher(5, 2, seed=0)
    U = np.random.default_rng(1).standard_normal((5, 3)) * 0.5
    x, y = quadratic.sample(P, 400_000, seed=2)
    empirical = quadratic.loss(U, x, y)
    assert abs(empirical / quadratic.population_loss(U, P) - 1) < 0.02
    assert quadratic.population_loss(P.U, P) == pytest.approx(0, abs=1e-24)


def test_sample_is_seeded_and_labelled_by_the_teacher():
    P = quadratic.teacher(8, 3, seed=4)
    x1, y1 = quadratic.sample(P, 20, seed=5)
    x2, y2 = quadratic.sample(P, 20, seed=5)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.shape == (20, 8)
    assert np.allclose(y1, np.einsum("ni,ij,nj->n", x1, P.X, x1))


def test_training_recovers_width_two_teacher_from_10dr_samples():
    d, r = 20, 2
    n = 10 * d * r
    P = quadratic.teacher(d, r, seed=0)
    x, y = quadratic.sample(P, n, seed=1)
    run = quadratic.train(x, y, width=d, eta=0.02, steps=1500, alpha=1e-3, target=P)
    assert run.U.shape == (d, d)
    assert run.final_error < 1e-2
    assert run.final_loss < 1e-4 * run.loss[0]


def test_training_is_the_engine_on_the_rank_one_operator():
    P = quadratic.teacher(10, 2, seed=0)
    x, y = quadratic.sample(P, 120, seed=1)
    a = quadratic.train(x, y, width=10, eta=0.02, steps=30, alpha=0.01)
    b = gradient_descent(RankOneOperator(x), y, eta=0.02, steps=30, alpha=0.01, width=10)
    assert np.array_equal(a.U, b.U)
    c = quadratic.train(x, y, width=10, eta=0.02, steps=30, alpha=0.01, centred=True)
    e = gradient_descent(RankOneOperator(x, centred=True), y - y.mean(), eta=0.02, steps=30,
                         alpha=0.01, width=10)
    assert np.array_equal(c.U, e.U)
    g = quadratic.train(x, y, width=10, eta=0.02, steps=30, alpha=0.01, centred="empirical")
    h = gradient_descent(RankOneOperator(x, centred="empirical"), y - y.mean(), eta=0.02, steps=30,
                         alpha=0.01, width=10)
    assert np.array_equal(g.U, h.U)


def test_empirically_centred_labels_are_exact_measurements():
    P = quadratic.teacher(8, 2, seed=0)
    x, y = quadratic.sample(P, 50, seed=1)
    op = RankOneOperator(x, centred="empirical")
    assert np.allclose(op.measure(P.X), y - y.mean(), atol=1e-12)
    assert np.allclose(op.measure_factor(P.U), y - y.mean(), atol=1e-12)
    assert np.allclose(op.matrices().sum(axis=0), 0, atol=1e-10)


@pytest.mark.parametrize("call, exc, match", [
    (lambda U, x, y: quadratic.predict(U, np.ones((4, 5))), ValueError, "x must have d = 6 columns"),
    (lambda U, x, y: quadratic.predict(np.ones((6, 0)), x), ValueError, "k >= 1"),
    (lambda U, x, y: quadratic.predict(np.ones(6), x), ValueError, "U .* must have shape"),
    (lambda U, x, y: quadratic.predict(U, np.where(x > 1, np.nan, x)), ValueError, "x contains NaN"),
    (lambda U, x, y: quadratic.loss(U, x, y[:-1]), ValueError, "one label per row"),
    (lambda U, x, y: quadratic.loss(U, x, np.full_like(y, np.inf)), ValueError, "y contains NaN"),
    (lambda U, x, y: quadratic.train(x, y, width=0, eta=0.1, steps=1, alpha=0.1), ValueError, "width must be >= 1"),
    (lambda U, x, y: quadratic.train(x, y, width=2.5, eta=0.1, steps=1, alpha=0.1), TypeError, "width must be an integer"),
    (lambda U, x, y: quadratic.train(x[:, :3], y, width=3, eta=0.1, steps=1, alpha=0.1, target=np.eye(6)),
     ValueError, "target must be 3 x 3"),
    (lambda U, x, y: quadratic.train(x, y, eta=0.1, steps=1, alpha=0.1, centred=1), ValueError, "centred must be"),
    (lambda U, x, y: quadratic.sample_inputs(0, 3), ValueError, "n must be >= 1"),
    (lambda U, x, y: quadratic.population_loss(np.ones((5, 2)), np.eye(6)), ValueError, "U must have shape"),
])
def test_bad_input_gets_a_clear_error(call, exc, match, rng):
    U = rng.standard_normal((6, 3))
    x = rng.standard_normal((12, 6))
    y = rng.standard_normal(12)
    with pytest.raises(exc, match=match):
        call(U, x, y)


def test_cached_product_is_reused_only_for_the_same_factor(rng):
    x = rng.standard_normal((20, 5))
    op = RankOneOperator(x)
    U, V = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    r = rng.standard_normal(20)
    expected_U = x.T @ (r[:, None] * (x @ U))
    expected_V = x.T @ (r[:, None] * (x @ V))
    op.measure_factor(U)
    assert np.allclose(op.adjoint_apply(r, U), expected_U, rtol=1e-13)   # cache hit
    op.measure_factor(U)
    assert np.allclose(op.adjoint_apply(r, V), expected_V, rtol=1e-13)   # different factor: recomputed
    W = U.copy()
    op.measure_factor(W)
    W[0, 0] += 1.0                                                        # changed in place after measuring
    assert np.allclose(op.adjoint_apply(r, W), x.T @ (r[:, None] * (x @ W)), rtol=1e-13)
    Us = rng.standard_normal((3, 5, 3))
    R = rng.standard_normal((3, 20))
    op.measure_factor(Us)
    assert np.allclose(op.adjoint_apply(R, Us), np.stack([x.T @ (rr[:, None] * (x @ u)) for rr, u in zip(R, Us)]))
    op.measure_factor(U)
    assert np.allclose(op.adjoint_apply(R, U), np.stack([x.T @ (rr[:, None] * (x @ U)) for rr in R]))


def test_divergence_hint_accounts_for_a_large_start():
    """At alpha = 1 with k = d the rank-one curvature is ~ 2 + d, far above the data's scale."""
    import re

    from qsense.descent import DivergenceError, gradient_descent
    from qsense.sensing import RankOneOperator

    rng = np.random.default_rng(0)
    d = 20
    x = rng.standard_normal((400, d))
    op = RankOneOperator(x)
    Z = np.linalg.qr(rng.standard_normal((d, 2)))[0]
    y = op.measure(Z @ Z.T)
    with pytest.raises(DivergenceError) as info:
        gradient_descent(op, y, eta=0.05, steps=400, alpha=1.0)
    safe = float(re.search(r"eta <= ([0-9.e+-]+) should", str(info.value)).group(1))
    run = gradient_descent(op, y, eta=safe, steps=400, alpha=1.0)
    assert np.isfinite(run.final_loss)
