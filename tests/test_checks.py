"""qsense.checks: every check passes a right answer and recognises each mistake it claims to."""
import re

import numpy as np
import pytest

import qsense
from qsense import checks


def measure(A, X):
    return np.einsum("mij,ij->m", A, X)


def adjoint(A, r):
    return np.einsum("m,mij->ij", r, A)


def gradient(A, y, U):
    res = np.einsum("mij,ij->m", A, U @ U.T) - y
    return np.einsum("m,mij->ij", res, A + A.transpose(0, 2, 1)) @ U / len(y)


def gradient_symmetric_only(A, y, U):
    res = np.einsum("mij,ij->m", A, U @ U.T) - y
    return 2 * np.einsum("m,mij->ij", res, A) @ U / len(y)


def gradient_symmetric_only_transposed(A, y, U):
    res = np.einsum("mij,ij->m", A, U @ U.T) - y
    return 2 * np.einsum("m,mji->ij", res, A) @ U / len(y)


def gradient_gram(A, y, U):
    res = np.einsum("mij,ij->m", A, U @ U.T) - y
    return np.einsum("m,mij->ij", res, A) / len(y)


def raises(*args):
    raise IndexError("boom")


def noop(*args):
    return None


def off_by_a_bit(f):
    return lambda *args: f(*args) + 0.1 * np.ones_like(f(*args))


MEASURE_MISTAKES = {
    "sign": lambda A, X: -measure(A, X),
    "factor-2-extra": lambda A, X: 2 * measure(A, X),
    "factor-2-missing": lambda A, X: measure(A, X) / 2,
    "normalisation": lambda A, X: measure(A, X) / len(A),
    "matrix-product": lambda A, X: np.einsum("mij,jk->m", A, X),
    "no-sum": lambda A, X: A * X,
    "shape": lambda A, X: measure(A, X)[:, None],
    "swapped-arguments": lambda X, A: measure(A, X),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": off_by_a_bit(measure),
    "not-callable": np.zeros(3),
}

ADJOINT_MISTAKES = {
    "sign": lambda A, r: -adjoint(A, r),
    "factor-2-extra": lambda A, r: 2 * adjoint(A, r),
    "factor-2-missing": lambda A, r: adjoint(A, r) / 2,
    "normalisation": lambda A, r: adjoint(A, r) / len(r),
    "no-sum": lambda A, r: r[:, None, None] * A,
    "shape": lambda A, r: adjoint(A, r).ravel(),
    "swapped-arguments": lambda r, A: adjoint(A, r),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": off_by_a_bit(adjoint),
    "not-callable": "adjoint",
}

GRADIENT_MISTAKES = {
    "sign": lambda A, y, U: -gradient(A, y, U),
    "factor-2-missing": lambda A, y, U: gradient(A, y, U) / 2,
    "factor-2-extra": lambda A, y, U: 2 * gradient(A, y, U),
    "normalisation": lambda A, y, U: len(y) * gradient(A, y, U),
    "normalisation-extra": lambda A, y, U: gradient(A, y, U) / len(y),
    "unsymmetrised": gradient_symmetric_only,
    "gram-gradient": gradient_gram,
    "transposed": lambda A, y, U: gradient(A, y, U).T,
    "shape": lambda A, y, U: gradient(A, y, U)[:, :1],
    "swapped-arguments": lambda A, U, y: gradient(A, y, U),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": off_by_a_bit(gradient),
    "not-callable": None,
}


def docstring_codes(func):
    """The diagnosis codes a check's docstring promises."""
    text = " ".join(func.__doc__.split("Diagnoses:")[1].split())
    return set(re.findall(r"``([\w-]+)``", text))


@pytest.mark.parametrize("check, right", [(checks.check_measure, measure),
                                          (checks.check_adjoint, adjoint),
                                          (checks.check_gradient, gradient)])
def test_a_right_answer_passes_with_a_short_confirmation(check, right):
    fb = check(right)
    assert fb.ok and bool(fb) and not fb.codes
    assert "correct" in str(fb) and len(str(fb)) < 300


@pytest.mark.parametrize("check, mistakes", [
    (checks.check_measure, MEASURE_MISTAKES),
    (checks.check_adjoint, ADJOINT_MISTAKES),
    (checks.check_gradient, GRADIENT_MISTAKES),
], ids=["measure", "adjoint", "gradient"])
def test_each_mistake_gets_its_diagnosis(check, mistakes):
    for code, wrong in mistakes.items():
        fb = check(wrong)
        assert not fb.ok and not bool(fb), f"{code}: accepted"
        assert fb.codes == [code], f"{code}: diagnosed as {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40, f"{code}: the message does not explain: {fb}"


@pytest.mark.parametrize("check, mistakes", [
    (checks.check_measure, MEASURE_MISTAKES),
    (checks.check_adjoint, ADJOINT_MISTAKES),
    (checks.check_gradient, GRADIENT_MISTAKES),
], ids=["measure", "adjoint", "gradient"])
def test_every_promised_diagnosis_is_tested(check, mistakes):
    assert docstring_codes(check) <= set(mistakes), docstring_codes(check) - set(mistakes)


def test_the_transposed_symmetric_only_gradient_is_also_unsymmetrised():
    fb = checks.check_gradient(gradient_symmetric_only_transposed)
    assert fb.codes == ["unsymmetrised"] and "A_i + A_i^T" in fb.messages[0]


def test_the_factor_2_message_says_where_it_comes_from():
    msg = str(checks.check_gradient(GRADIENT_MISTAKES["factor-2-missing"]))
    assert "factor 2" in msg and "twice" in msg


def test_the_reference_gradient_matches_finite_differences():
    """The checks' own notion of the right answer is itself checked against the definition."""
    rng = np.random.default_rng(0)
    A, U = rng.standard_normal((6, 4, 4)), rng.standard_normal((4, 3))
    y = rng.standard_normal(6)

    def f(U):
        return np.sum((np.einsum("mij,ij->m", A, U @ U.T) - y) ** 2) / (2 * len(y))

    fd = np.zeros_like(U)
    for idx in np.ndindex(U.shape):
        E = np.zeros_like(U)
        E[idx] = 1e-6
        fd[idx] = (f(U + E) - f(U - E)) / 2e-6
    ref, _ = checks._gradient_reference(A, y, U)
    assert np.allclose(ref, fd, rtol=1e-6, atol=1e-8)
    # ... and with symmetric A_i it is 2MU as qsense computes it.
    S = (A + A.transpose(0, 2, 1)) / 2
    op = qsense.DenseOperator(S)
    _, g = qsense.loss_and_gradient(op, y, U)
    assert np.allclose(checks._gradient_reference(S, y, U)[0], g)


def test_checks_are_registered_under_their_exercise():
    assert checks.CHECKS["ex-measure"] == [checks.check_measure, checks.check_adjoint]
    assert checks.CHECKS["ex-gradient-code"] == [checks.check_gradient]
    assert checks.CHECKS["ex-start-shape"] == [checks.check_start_shape]
    for label, funcs in checks.CHECKS.items():
        assert all(f.exercise == label for f in funcs)


# --- check_start_shape --------------------------------------------------------------------

@pytest.fixture(scope="module")
def start_runs():
    truth = qsense.planted_psd(8, spectrum=[1.0, 0.6], seed=1)
    op = qsense.GaussianOperator(8, 80, seed=2)
    y = op.measure(truth.X)
    kw = dict(eta=0.1, steps=600, alpha=1e-3, target=truth)

    def run(**over):
        return qsense.gradient_descent(op, y, **{**kw, **over})

    runs = {"base": run(), "orth": run(init="orthogonal", seed=4),
            "gaus": run(init="gaussian", seed=4)}
    wrong = {
        "not-a-run": dict(gaus=runs["gaus"].X),
        "batched": dict(orth=run(alpha=np.array([1e-3, 1e-2]))),
        "different-steps": dict(orth=run(init="orthogonal", seed=4, steps=300)),
        "different-scale": dict(orth=run(init="orthogonal", seed=4, alpha=1e-2)),
        "not-orthogonal-init": dict(orth=runs["base"]),
        "not-gaussian-init": dict(gaus=run(init="orthogonal", seed=5)),
        "orthogonal-differs": dict(orth=run(init="orthogonal", seed=4, eta=0.05)),
        "no-target": dict(gaus=run(init="gaussian", seed=4, target=None)),
        "not-recovered": dict(gaus=run(init="gaussian", seed=4, alpha=1.0)),
    }
    return runs, wrong


def test_start_shape_right_answer_passes(start_runs):
    runs, _ = start_runs
    fb = checks.check_start_shape(runs["base"], runs["orth"], runs["gaus"])
    assert fb.ok, fb


def test_start_shape_each_mistake_gets_its_diagnosis(start_runs):
    runs, wrong = start_runs
    assert docstring_codes(checks.check_start_shape) <= set(wrong)
    for code, replace in wrong.items():
        args = {**runs, **replace}
        fb = checks.check_start_shape(args["base"], args["orth"], args["gaus"])
        assert not fb.ok and fb.codes == [code], f"{code}: got {fb.codes}: {fb}"


def test_the_checks_module_uses_no_eval_and_no_network():
    src = open(checks.__file__).read()
    for word in ("eval(", "exec(", "urllib", "requests", "socket", "import http"):
        assert word not in src


# --- qsense.quiz ---------------------------------------------------------------------------

def test_quiz_questions_are_validated():
    from qsense import quiz
    mc = quiz.multiple_choice("Q?", [("a", True, "yes"), ("b", False, "no")])
    assert mc["type"] == "multiple_choice" and [a["correct"] for a in mc["answers"]] == [True, False]
    num = quiz.numeric("N?", value=3.0, tol=0.5)
    assert num["answers"][0]["range"] == [2.5, 3.5]
    with pytest.raises(ValueError, match="no answer is marked correct"):
        quiz.multiple_choice("Q?", [("a", False, "x"), ("b", False, "y")])
    with pytest.raises(TypeError, match="explanation"):
        quiz.multiple_choice("Q?", [("a", True, ""), ("b", False, "y")])
    with pytest.raises(ValueError, match="tol"):
        quiz.numeric("N?", value=1, tol=-1)
    with pytest.raises(TypeError, match="value"):
        quiz.numeric("N?", value="3")
    with pytest.raises(ValueError, match="empty"):
        quiz.show([])


def test_quiz_output_is_self_contained(monkeypatch):
    """The quiz is embedded HTML + JavaScript: no URL is fetched and the questions are inline."""
    import jupyterquiz.dynamic.display as jqd
    from qsense import quiz
    shown = []
    monkeypatch.setattr(jqd, "display", lambda obj: shown.append(obj))
    quiz.show([quiz.numeric("How many free entries?", value=465)])
    html, js = shown[0].data, shown[1].data
    assert "<style>" in html
    assert "How many free entries?" in js and "465" in js
    # The only address in the script is jupyterquiz's fallback that loads MathJax when the page
    # has none; the course pages load MathJax themselves.
    urls = set(re.findall(r"https?://[^'\"\s)]+", js))
    assert urls <= {"https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js"}, urls
    assert "fetch(" not in js and "XMLHttpRequest" not in js


# --- chapter 2: ex-rip-own-search (check_rip_ratio, check_rip_search) ----------------------

def rip_ratio(op, v):
    X = np.outer(v, v)
    return np.mean(op.measure(X) ** 2) / np.sum(X * X)


def rip_search(op, v, steps):
    for _ in range(steps):
        lam, vecs = np.linalg.eigh(op.adjoint(op.measure(np.outer(v, v))) / op.m)
        v = vecs[:, -1]
    return v / np.linalg.norm(v)


def rip_search_magnitude(op, v, steps):
    for _ in range(steps):
        lam, vecs = np.linalg.eigh(op.adjoint(op.measure(np.outer(v, v))) / op.m)
        v = vecs[:, np.argmax(np.abs(lam))]
    return v / np.linalg.norm(v)


def rip_search_variant(pick, shift=0):
    def search(op, v, steps):
        return checks._rip_search_reference(op, v, steps + shift, pick)
    return search


def rip_search_return_in_loop(op, v, steps):
    for _ in range(steps):
        lam, vecs = np.linalg.eigh(op.adjoint(op.measure(np.outer(v, v))) / op.m)
        v = vecs[:, -1]
        return v


def rip_search_no_update(op, v, steps):
    for _ in range(steps):
        lam, vecs = np.linalg.eigh(op.adjoint(op.measure(np.outer(v, v))) / op.m)
        w = vecs[:, -1]  # noqa: F841  (computed, never assigned to v)
    return v / np.linalg.norm(v)


RIP_RATIO_MISTAKES = {
    "normalisation": lambda op, v: np.sum(op.measure(np.outer(v, v)) ** 2) / np.sum(v * v) ** 2,
    "not-normalised": lambda op, v: np.mean(op.measure(np.outer(v, v)) ** 2),
    "half-normalised": lambda op, v: np.mean(op.measure(np.outer(v, v)) ** 2) / np.sum(v * v),
    "not-squared": lambda op, v: np.mean(op.measure(np.outer(v, v))) / np.sum(v * v),
    "square-root": lambda op, v: np.sqrt(rip_ratio(op, v)),
    "deviation": lambda op, v: rip_ratio(op, v) - 1,
    "no-mean": lambda op, v: op.measure(np.outer(v, v)) ** 2 / np.sum(v * v) ** 2,
    "shape": lambda op, v: np.full(2, rip_ratio(op, v)),
    "swapped-arguments": lambda v, op: rip_ratio(op, v),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": lambda op, v: 1.1 * rip_ratio(op, v),
    "not-callable": 1.0,
}

RIP_SEARCH_MISTAKES = {
    "returned-matrix": lambda op, v, s: np.outer(rip_search(op, v, s), rip_search(op, v, s)),
    "shape": lambda op, v, s: rip_search(op, v, s)[:, None],
    "not-finite": lambda op, v, s: rip_search(op, v, s) * np.nan,
    "not-unit": lambda op, v, s: 2 * rip_search(op, v, s),
    "no-steps": rip_search_no_update,
    "return-in-loop": rip_search_return_in_loop,
    "off-by-one": rip_search_variant("top", -1),
    "smallest-eigenvector": rip_search_variant("smallest"),
    "eigenvector-row": rip_search_variant("row"),
    "not-ascent": rip_search_variant("smallest", 2),
    "wrong-values": rip_search_variant("top", 3),
    "swapped-arguments": lambda op, s, v: rip_search(op, v, s),
    "exception": lambda op, v, s: op.measure(v),
    "returned-none": noop,
    "not-callable": "my_search",
}


@pytest.mark.parametrize("check, right", [(checks.check_rip_ratio, rip_ratio),
                                          (checks.check_rip_search, rip_search),
                                          (checks.check_rip_search, rip_search_magnitude)],
                         ids=["ratio", "search", "search-magnitude"])
def test_rip_checks_pass_a_right_answer(check, right):
    fb = check(right)
    assert fb.ok and bool(fb) and not fb.codes, fb
    assert "correct" in str(fb) and len(str(fb)) < 300


@pytest.mark.parametrize("check, mistakes", [(checks.check_rip_ratio, RIP_RATIO_MISTAKES),
                                             (checks.check_rip_search, RIP_SEARCH_MISTAKES)],
                         ids=["ratio", "search"])
def test_rip_checks_diagnose_each_mistake(check, mistakes):
    assert docstring_codes(check) <= set(mistakes), docstring_codes(check) - set(mistakes)
    for code, wrong in mistakes.items():
        fb = check(wrong)
        assert not fb.ok and not bool(fb), f"{code}: accepted"
        assert fb.codes == [code], f"{code}: diagnosed as {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40, f"{code}: the message does not explain: {fb}"


def test_rip_search_off_by_one_is_recognised_both_ways():
    fb = checks.check_rip_search(rip_search_variant("top", +1))
    assert fb.codes == ["off-by-one"] and "too many" in fb.messages[0]


def test_rip_search_check_does_not_let_the_answer_change_its_start():
    """An answer that normalises v in place must not corrupt the check's test vectors."""
    def in_place(op, v, steps):
        v /= np.linalg.norm(v)
        return rip_search(op, v, steps)
    assert checks.check_rip_search(in_place)
    assert checks.check_rip_search(rip_search)


def test_rip_references_agree_with_qsense_and_the_definition():
    """The checks' notion of the right answer is itself checked."""
    from qsense import rip
    for op, v in checks._rip_test_problems():
        X = np.outer(v, v)
        # the ratio equals qsense.rip.isometry_ratio and the definition, summed by hand
        by_hand = sum(np.sum(A * X) ** 2 for A in op.matrices()) / op.m / np.sum(X * X)
        assert np.isclose(checks._rip_ratio_reference(op, v), rip.isometry_ratio(op, X))
        assert np.isclose(checks._rip_ratio_reference(op, v), by_hand)
        # each step of the reference search is an eigenvector of N(vv^T) and never lowers rho
        u, rho = v / np.linalg.norm(v), [checks._rip_ratio_reference(op, v)]
        for _ in range(5):
            w = checks._rip_search_reference(op, u, 1)
            N = op.normal(np.outer(u, u))
            assert np.allclose(N @ w, (w @ N @ w) * w)
            assert np.isclose(w @ N @ w, np.linalg.eigvalsh(N).max())
            u = w
            rho.append(checks._rip_ratio_reference(op, u))
        assert np.all(np.diff(rho) >= -1e-12), rho
        # the wrong variants are really different from the right one on the test problems
        for pick in ("smallest", "row"):
            alt = checks._rip_search_reference(op, v, 3, pick)
            assert not checks._same_direction(alt, checks._rip_search_reference(op, v, 3))


def test_rip_checks_are_registered_under_their_exercise():
    assert checks.CHECKS["ex-rip-own-search"] == [checks.check_rip_ratio, checks.check_rip_search]
    assert {"check_rip_ratio", "check_rip_search"} <= set(checks.__all__)


# --- chapter 5: check_quad_predict, check_quad_gradient (exercise ex-quad-forward) ---------

def quad_predict(U, x):
    return np.sum((x @ U) ** 2, axis=1)


def quad_gradient(U, x, y):
    P = x @ U
    return (2 / len(y)) * x.T @ ((np.sum(P ** 2, axis=1) - y)[:, None] * P)


def quad_predict_dense(U, x):
    """Right, but through the n x d x d stack x_i x_i^T."""
    return np.einsum("nij,ij->n", np.einsum("ni,nj->nij", x, x), U @ U.T)


def quad_gradient_dense(U, x, y):
    A = np.einsum("ni,nj->nij", x, x)
    res = np.einsum("nij,ij->n", A, U @ U.T) - y
    return 2 * np.einsum("n,nij->ij", res, A) @ U / len(y)


def quad_gradient_unsquared(U, x, y):
    P = x @ U
    return (2 / len(y)) * x.T @ ((P.sum(axis=1) - y)[:, None] * P)


def quad_gradient_gram(U, x, y):
    res = quad_predict(U, x) - y
    return x.T @ (res[:, None] * x) / len(y)


QUAD_PREDICT_MISTAKES = {
    "no-square": lambda U, x: (x @ U).sum(axis=1),
    "square-of-sum": lambda U, x: (x @ U).sum(axis=1) ** 2,
    "norm-not-squared": lambda U, x: np.linalg.norm(x @ U, axis=1),
    "factor-2-extra": lambda U, x: 2 * quad_predict(U, x),
    "no-sum": lambda U, x: (x @ U) ** 2,
    "wrong-axis": lambda U, x: np.sum((x @ U) ** 2, axis=0),
    "shape": lambda U, x: quad_predict(U, x)[:, None],
    "swapped-arguments": lambda x, U: quad_predict(U, x),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": off_by_a_bit(quad_predict),
    "not-callable": np.ones(4),
}

QUAD_GRADIENT_MISTAKES = {
    "sign": lambda U, x, y: -quad_gradient(U, x, y),
    "factor-2-missing": lambda U, x, y: quad_gradient(U, x, y) / 2,
    "factor-2-extra": lambda U, x, y: 2 * quad_gradient(U, x, y),
    "normalisation": lambda U, x, y: len(y) * quad_gradient(U, x, y),
    "normalisation-extra": lambda U, x, y: quad_gradient(U, x, y) / len(y),
    "no-square": quad_gradient_unsquared,
    "gram-gradient": quad_gradient_gram,
    "transposed": lambda U, x, y: quad_gradient(U, x, y).T,
    "shape": lambda U, x, y: (quad_predict(U, x) - y)[:, None] * (x @ U),
    "swapped-arguments": lambda U, y, x: quad_gradient(U, x, y),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": off_by_a_bit(quad_gradient),
    "not-callable": "gradient",
}


@pytest.mark.parametrize("check, right", [(checks.check_quad_predict, quad_predict),
                                          (checks.check_quad_gradient, quad_gradient)],
                         ids=["quad-predict", "quad-gradient"])
def test_quad_right_answer_passes_with_a_short_confirmation(check, right):
    fb = check(right)
    assert fb.ok and bool(fb) and not fb.codes
    assert "correct" in str(fb) and len(str(fb)) < 300
    assert "MB" not in str(fb)  # the matrix-free answer gets no note on memory


@pytest.mark.parametrize("check, mistakes", [
    (checks.check_quad_predict, QUAD_PREDICT_MISTAKES),
    (checks.check_quad_gradient, QUAD_GRADIENT_MISTAKES),
], ids=["quad-predict", "quad-gradient"])
def test_quad_each_mistake_gets_its_diagnosis(check, mistakes):
    for code, wrong in mistakes.items():
        fb = check(wrong)
        assert not fb.ok and not bool(fb), f"{code}: accepted"
        assert fb.codes == [code], f"{code}: diagnosed as {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40, f"{code}: the message does not explain: {fb}"


@pytest.mark.parametrize("check, mistakes", [
    (checks.check_quad_predict, QUAD_PREDICT_MISTAKES),
    (checks.check_quad_gradient, QUAD_GRADIENT_MISTAKES),
], ids=["quad-predict", "quad-gradient"])
def test_quad_every_promised_diagnosis_is_tested(check, mistakes):
    assert docstring_codes(check) <= set(mistakes), docstring_codes(check) - set(mistakes)


@pytest.mark.parametrize("check, dense", [(checks.check_quad_predict, quad_predict_dense),
                                          (checks.check_quad_gradient, quad_gradient_dense)],
                         ids=["quad-predict", "quad-gradient"])
def test_quad_dense_answer_is_accepted_with_a_note_on_its_cost(check, dense):
    fb = check(dense)
    assert fb.ok and not fb.codes, fb
    assert len(fb.messages) == 2 and "n x d x d" in fb.messages[1] and "O(n d k)" in fb.messages[1]


def test_quad_references_match_qsense_and_finite_differences():
    """The checks' notion of the right answer agrees with qsense.quadratic and the definition."""
    from qsense import quadratic
    x, U, y = checks._quad_problem(0, 12, 5, 3)
    ref, _, _ = checks._quad_gradient_reference(U, x, y)
    assert np.allclose(quad_predict(U, x), quadratic.predict(U, x))
    _, g = quadratic.loss_and_gradient(U, x, y)
    assert np.allclose(ref, g, rtol=1e-12, atol=1e-12)
    fd = np.zeros_like(U)
    for idx in np.ndindex(U.shape):
        E = np.zeros_like(U)
        E[idx] = 1e-6
        fd[idx] = (quadratic.loss(U + E, x, y) - quadratic.loss(U - E, x, y)) / 2e-6
    assert np.allclose(ref, fd, rtol=1e-6, atol=1e-6)


def test_quad_checks_are_registered_under_their_exercise():
    assert checks.CHECKS["ex-quad-forward"] == [checks.check_quad_predict,
                                                checks.check_quad_gradient]


# --- chapter 3: check_gaussian_start and check_conjecture -----------------------------------

def _call_wrong(check, right, replace):
    args = {**right, **replace}
    return check(*args.values())


@pytest.fixture(scope="module")
def gaussian_runs():
    truth = qsense.planted_psd(8, spectrum=[1.0, 0.6], seed=1)
    op = qsense.GaussianOperator(8, 80, seed=2)
    y = op.measure(truth.X)
    alphas = np.array([1e-1, 1e-3, 1e-6])
    kw = dict(eta=0.1, steps=600, alpha=alphas, target=truth, record=[])

    def run(**over):
        return qsense.gradient_descent(op, y, **{**kw, **over})

    right = {"gauss": run(init="gaussian", seed=7), "ident": run()}
    wrong = {
        "not-a-run": dict(gauss=right["gauss"].X),
        "not-batched": dict(ident=run(alpha=1e-6)),
        "different-alphas": dict(ident=run(alpha=np.array([1e-1, 1e-2, 1e-6]))),
        "different-steps": dict(ident=run(steps=300)),
        "alpha-too-large": dict(gauss=run(init="gaussian", seed=7, alpha=np.array([1.0, 1e-2])),
                                ident=run(alpha=np.array([1.0, 1e-2]))),
        "ident-not-identity": dict(gauss=right["ident"], ident=right["gauss"]),
        "not-gaussian-init": dict(gauss=run(init="orthogonal", seed=7)),
        "no-target": dict(gauss=run(init="gaussian", seed=7, target=None)),
        "not-recovered": dict(gauss=run(init="gaussian", seed=7, steps=40),
                              ident=run(steps=40)),
    }
    return right, wrong


def test_gaussian_start_right_answer_passes(gaussian_runs):
    right, _ = gaussian_runs
    fb = checks.check_gaussian_start(right["gauss"], right["ident"])
    assert fb.ok and not fb.codes, fb
    assert "correct" in str(fb) and len(str(fb)) < 300


def test_gaussian_start_each_mistake_gets_its_diagnosis(gaussian_runs):
    right, wrong = gaussian_runs
    assert docstring_codes(checks.check_gaussian_start) <= set(wrong)
    for code, replace in wrong.items():
        fb = _call_wrong(checks.check_gaussian_start, right, replace)
        assert not fb.ok and fb.codes == [code], f"{code}: got {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40, f"{code}: the message does not explain: {fb}"


@pytest.fixture(scope="module")
def conjecture_answers():
    from qsense import baselines
    d = 20               # as in the chapter: at m = 60 the PSD interpolants are not unique
    truth = qsense.planted_psd(d, spectrum=[1.0, 0.5], seed=3)
    op = qsense.GaussianOperator(d, 60, seed=4)
    y = op.measure(truth.X)
    convex = baselines.min_nuclear_norm(op, y)
    alphas = np.array([1e-4, 1e-6])
    kw = dict(eta=0.1, steps=4000, alpha=alphas, target=truth, record=[])

    def run(operator=op, data=y, **over):
        return qsense.gradient_descent(operator, data, **{**kw, **over})

    right = {"op": op, "y": y, "convex": convex, "runs": run()}
    other = run(alpha=1.0).X        # a PSD interpolant too (factorised GD from a large start)
    op50 = qsense.GaussianOperator(d, 50, seed=4)
    frob = baselines.min_frobenius_interpolant(op, y)
    op_other = qsense.GaussianOperator(d, 60, seed=6)
    wrong = {
        "not-an-operator": dict(op=y, y=op),
        "data-mismatch": dict(y=op50.measure(truth.X)),
        "wrong-m": dict(op=op50, y=op50.measure(truth.X)),
        "not-a-matrix": dict(convex=right["runs"]),
        "convex-infeasible": dict(convex=0.9 * convex.X),
        "convex-not-psd": dict(convex=frob),
        "convex-not-minimal": dict(convex=other),
        "not-a-run": dict(runs=right["runs"].X),
        "not-batched": dict(runs=run(alpha=1e-6)),
        "alpha-too-large": dict(runs=run(alpha=np.array([1e-2, 1e-3]))),
        "different-data": dict(runs=run(op_other, op_other.measure(truth.X))),
        "not-converged": dict(runs=run(steps=50)),
        "no-target": dict(runs=run(target=None)),
    }
    # The wrong answers are wrong in the way their names say.
    assert np.linalg.eigvalsh(frob)[0] < -1e-3
    assert np.linalg.eigvalsh(other)[0] > 0 and np.trace(other) > 2 * convex.nuclear_norm
    assert np.linalg.norm(op.measure(other) - y) < 1e-8 * np.linalg.norm(y)
    return right, wrong


def test_conjecture_right_answer_passes(conjecture_answers):
    right, _ = conjecture_answers
    fb = checks.check_conjecture(*right.values())
    assert fb.ok and not fb.codes, fb
    assert "correct" in str(fb) and len(str(fb)) < 300
    # Passing the matrix instead of the ConvexSolution is fine too.
    assert checks.check_conjecture(right["op"], right["y"], right["convex"].X, right["runs"])


def test_conjecture_each_mistake_gets_its_diagnosis(conjecture_answers):
    right, wrong = conjecture_answers
    assert docstring_codes(checks.check_conjecture) <= set(wrong)
    for code, replace in wrong.items():
        fb = _call_wrong(checks.check_conjecture, right, replace)
        assert not fb.ok and fb.codes == [code], f"{code}: got {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40, f"{code}: the message does not explain: {fb}"


def test_chapter_3_checks_are_registered_under_their_exercise():
    assert checks.CHECKS["ex-ch3-gaussian"] == [checks.check_gaussian_start]
    assert checks.CHECKS["ex-ch3-conjecture"] == [checks.check_conjecture]
    assert {"check_gaussian_start", "check_conjecture"} <= set(checks.__all__)


# --- chapter 4: ex-dyn-eta (check_converges, check_stable_step) and ex-dyn-exponent ----------

def _population_converges(eta, catch=True, final_test=True, steps=1000):
    truth = qsense.planted_psd(10, spectrum=[1.0, 0.5], seed=0)
    pop = qsense.PopulationOperator(10)
    try:
        run = qsense.gradient_descent(pop, pop.measure(truth.X), eta=eta, steps=steps, alpha=1e-3,
                                      target=truth, record=[])
    except qsense.DivergenceError:
        if not catch:
            raise
        return False
    return bool(run.final_error < 1e-3) if final_test else True


CONVERGES_MISTAKES = {
    "not-callable": True,
    "divergence-not-caught": lambda eta: _population_converges(eta, catch=False),
    "exception": raises,
    "not-bool": lambda eta: 0.0,
    "rejects-stable": lambda eta: _population_converges(eta, steps=30),
    "accepts-oscillating": lambda eta: _population_converges(eta, final_test=False),
    "accepts-divergent": lambda eta: not _population_converges(eta) if eta > 1 else
    _population_converges(eta),
}


def test_converges_right_answer_passes():
    fb = checks.check_converges(_population_converges)
    assert fb.ok and not fb.codes and "correct" in str(fb)


def test_converges_each_mistake_gets_its_diagnosis():
    assert docstring_codes(checks.check_converges) <= set(CONVERGES_MISTAKES)
    for code, wrong in CONVERGES_MISTAKES.items():
        fb = checks.check_converges(wrong)
        assert not fb.ok and fb.codes == [code], f"{code}: got {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40


def _bisect(converges, lo=0.1, hi=1.0, n=12):
    for _ in range(n):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if converges(mid) else (lo, mid)
    return lo


def test_stable_step_right_answer_passes_and_the_limit_is_one_over_two_lambda():
    eta_max = _bisect(_population_converges)
    assert 0.49 <= eta_max <= 0.5  # the experiment agrees with the linearisation 1/(2 lambda_1)
    fb = checks.check_stable_step(eta_max)
    assert fb.ok, fb


def test_stable_step_each_mistake_gets_its_diagnosis():
    # The mistakes come from real wrong procedures where there is one.
    oscillating = _bisect(lambda e: _population_converges(e, final_test=False), hi=2.0)
    too_small = _bisect(lambda e: _population_converges(e, steps=40))
    wrong = {
        "not-a-number": [0.5],
        "accepts-oscillating": oscillating,
        "accepts-divergent": 1.9,
        "too-small": too_small,
    }
    assert docstring_codes(checks.check_stable_step) <= set(wrong)
    assert checks.check_stable_step(0.8).codes == ["accepts-oscillating"]
    assert "paper" in str(checks.check_stable_step(1.0))  # 1/lambda_1: the paper's eta' = 2 eta
    for code, value in wrong.items():
        fb = checks.check_stable_step(value)
        assert not fb.ok and fb.codes == [code], f"{code} ({value}): got {fb.codes}: {fb}"
    for value in (True, np.nan, "0.5", _population_converges):
        assert checks.check_stable_step(value).codes == ["not-a-number"]


def growth_exponent(steps, error_perp, t_rec, alphas, d):
    g = [error_perp[j, steps <= t_rec[j]].max() / (a * np.sqrt(d)) for j, a in enumerate(alphas)]
    return qsense.analysis.fit_line(np.log(1 / np.asarray(alphas)), np.log(g))[0]


def _growth(steps, error_perp, t_rec, alphas, d, cutoff=True, last=False, normalise=True):
    g = []
    for j, a in enumerate(alphas):
        i_rec = int(np.searchsorted(steps, t_rec[j]))  # written differently from the check
        values = error_perp[j, : i_rec + 1] if cutoff else error_perp[j]
        v = values[-1] if last else values.max()
        g.append(v / (a * np.sqrt(d)) if normalise else v)
    return np.log(g)


GROWTH_MISTAKES = {
    "sign": lambda s, e, t, a, d: np.polyfit(np.log(a), _growth(s, e, t, a, d), 1)[0],
    "not-normalised": lambda s, e, t, a, d: np.polyfit(np.log(1 / a),
                                                       _growth(s, e, t, a, d, normalise=False), 1)[0],
    "no-cutoff": lambda s, e, t, a, d: np.polyfit(np.log(1 / a), _growth(s, e, t, a, d, cutoff=False),
                                                  1)[0],
    "last-not-max": lambda s, e, t, a, d: np.polyfit(np.log(1 / a), _growth(s, e, t, a, d, last=True),
                                                     1)[0],
    "returned-fit": lambda s, e, t, a, d: qsense.analysis.fit_line(np.log(1 / a), _growth(s, e, t, a, d)),
    "shape": lambda s, e, t, a, d: np.exp(_growth(s, e, t, a, d)),
    "swapped-arguments": lambda s, t, e, a, d: growth_exponent(s, e, t, a, d),
    "exception": raises,
    "returned-none": noop,
    "wrong-values": lambda s, e, t, a, d: np.polyfit(np.log10(1 / a), _growth(s, e, t, a, d), 1)[0],
    "not-callable": 0.3,
}


def test_growth_exponent_right_answer_passes():
    fb = checks.check_growth_exponent(growth_exponent)
    assert fb.ok and not fb.codes and "correct" in str(fb) and len(str(fb)) < 300


def test_growth_exponent_each_mistake_gets_its_diagnosis():
    assert docstring_codes(checks.check_growth_exponent) <= set(GROWTH_MISTAKES)
    for code, wrong in GROWTH_MISTAKES.items():
        fb = checks.check_growth_exponent(wrong)
        assert not fb.ok, f"{code}: accepted"
        assert fb.codes == [code], f"{code}: diagnosed as {fb.codes}: {fb}"
        assert len(fb.messages[0]) > 40


def test_growth_exponent_synthetic_data_has_the_exponent_it_claims():
    """The synthetic sweep's exponent is exact, and a real sweep's records are read the same way."""
    alphas = np.logspace(-2, -5, 4)
    steps, err, t_rec = checks._ch4_synthetic_sweep(0.3, 0.6, alphas, 40, 20.0)
    assert np.isclose(growth_exponent(steps, err, t_rec, alphas, 40), 0.3, rtol=1e-9)
    assert set(t_rec) <= set(steps)


def test_chapter_4_checks_are_registered():
    assert checks.CHECKS["ex-dyn-eta"] == [checks.check_converges, checks.check_stable_step]
    assert checks.CHECKS["ex-dyn-exponent"] == [checks.check_growth_exponent]
