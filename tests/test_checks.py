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
