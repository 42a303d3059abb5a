r"""Feedback on a student's answer to a coding exercise.

Each coding exercise of the course has one check function here. A student calls it on their own
answer, for example ``check_gradient(my_gradient)``; it runs the answer on small fixed test
problems, compares with the right result and, when they differ, recognises the usual mistakes
(a sign error, a missing or extra factor 2 or :math:`1/m`, an unsymmetrised measurement matrix,
swapped arguments, a wrong shape) and says what is wrong and how to look for it. A correct answer
gets a one-line confirmation. Nothing is evaluated from strings and nothing touches the network.

The result is a :class:`Feedback`: it prints as the message (so calling the check as the last line
of a cell shows it), is truthy exactly when the answer is right, and lists the recognised mistakes
as short codes in ``Feedback.codes`` (the tests use them).

Adding a check for a new exercise
---------------------------------
Write a function ``check_<name>(answer, ...) -> Feedback`` and decorate it with
``@exercise_check("ex-label")`` using the exercise's ``:label:``. The instructor guide lists it
next to the exercise. Reuse :func:`_call` and
:func:`_diagnose` for answers that are functions of arrays; add every diagnosis you claim to the
tests in ``tests/test_checks.py`` (a correct answer passes, each wrong answer gets its code).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from typing import Callable

import numpy as np

__all__ = [
    "CHECKS",
    "Feedback",
    "check_adjoint",
    "check_gradient",
    "check_measure",
    "check_start_shape",
    "exercise_check",
]

#: Registry: exercise label -> the check functions of that exercise (in the order defined).
CHECKS: dict[str, list[Callable[..., "Feedback"]]] = {}

RTOL = 1e-7


@dataclass
class Feedback:
    """The outcome of a check: ``ok``, the recognised mistakes (``codes``) and the messages."""

    exercise: str
    ok: bool
    messages: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"[{self.exercise}] " + ("correct" if self.ok else "not yet")
        return "\n".join([head] + [f"  - {m}" for m in self.messages])

    __repr__ = __str__


def exercise_check(label: str):
    """Register the decorated function as a check of exercise ``label`` (see :data:`CHECKS`)."""
    def register(func):
        CHECKS.setdefault(label, []).append(func)
        func.exercise = label
        return func
    return register


# --------------------------------------------------------------------------------------------
# Machinery for answers that are functions of arrays.

def _fail(label, code, message) -> Feedback:
    return Feedback(label, False, [message], [code])


def _require_callable(label, func, name):
    if not callable(func):
        return _fail(label, "not-callable",
                     f"{name} should be a function, got {type(func).__name__}. Pass the function "
                     f"itself, without calling it: check_...({name}), not check_...({name}(...)).")
    return None


def _call(func, args):
    """Call ``func(*args)``; return (array or None, exception or None)."""
    try:
        out = func(*args)
    except Exception as exc:  # the student's code may raise anything
        return None, exc
    if out is None:
        return None, None
    try:
        return np.asarray(out, dtype=float), None
    except (TypeError, ValueError) as exc:
        return None, exc


def _close(a, b) -> bool:
    return a is not None and a.shape == b.shape and np.allclose(a, b, rtol=RTOL,
                                                               atol=RTOL * np.abs(b).max())


def _diagnose(label, name, func, args, arg_names, reference, variants, shape_hints=None):
    """Compare ``func(*args)`` with ``reference``.

    Returns None when it matches, otherwise a failing Feedback. ``variants`` maps a code to
    (wrong array, message): the wrong answers we recognise. ``shape_hints`` maps a wrong shape to
    (code, message). When the call fails or matches nothing, the arguments are tried in every
    other order to detect swapped arguments.
    """
    out, exc = _call(func, args)
    if exc is None and out is None:
        return _fail(label, "returned-none",
                     f"{name} returned None: is the `return` statement missing?")
    if exc is None and _close(out, reference):
        return None
    # Did the student write the parameters in another order?
    for perm in permutations(range(len(args))):
        if perm == tuple(range(len(args))):
            continue
        alt, alt_exc = _call(func, [args[i] for i in perm])
        if alt_exc is None and _close(alt, reference):
            got = ", ".join(arg_names[i] for i in perm)
            want = ", ".join(arg_names)
            return _fail(label, "swapped-arguments",
                         f"{name} gives the right result when called as {name}({got}), but the "
                         f"exercise calls it as {name}({want}). Put the parameters in that order "
                         f"in the `def` line (and use them consistently inside).")
    if exc is not None:
        return _fail(label, "exception",
                     f"calling {name}({', '.join(arg_names)}) raised {type(exc).__name__}: {exc}. "
                     f"Call it yourself on small arrays and print the shape of each intermediate.")
    if out.shape != reference.shape:
        code, hint = (shape_hints or {}).get(out.shape, ("shape", ""))
        return _fail(label, code,
                     f"{name} returned an array of shape {out.shape}, expected {reference.shape}. "
                     + (hint or "Print the shape of each intermediate result to see where it goes "
                                "wrong."))
    if not np.all(np.isfinite(out)):
        return _fail(label, "not-finite", f"{name} returned NaN or infinite values.")
    for code, (wrong, message) in variants.items():
        if _close(out, wrong):
            return _fail(label, code, message)
    rel = np.linalg.norm(out - reference) / np.linalg.norm(reference)
    return _fail(label, "wrong-values",
                 f"{name} has the right shape but wrong values (relative error {rel:.2g}) and "
                 f"none of the usual mistakes explains it. Test it on a case you can do by hand "
                 f"(m = 1, d = 2) and compare with the formula term by term.")


def _problem(seed, m, d, symmetric=True):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, d, d))
    if symmetric:
        A = (A + np.swapaxes(A, 1, 2)) / 2
    return rng, A


# --------------------------------------------------------------------------------------------
# Chapter 1

@exercise_check("ex-measure")
def check_measure(my_measure) -> Feedback:
    r"""Check ``my_measure(A, X)`` :math:`= (\langle A_i, X\rangle)_{i=1}^m`.

    Parameters
    ----------
    my_measure : callable
        Takes a stack ``A`` of shape (m, d, d) (the :math:`A_i`) and a symmetric ``X`` (d, d)
        (:math:`X`) and returns the vector :math:`\mathcal{A}(X)` of shape (m,).

    Returns
    -------
    Feedback
        ``ok`` and, when wrong, one diagnosis. Diagnoses: ``shape``, ``no-sum``, ``sign``,
        ``factor-2-extra``, ``factor-2-missing``, ``normalisation``, ``matrix-product``, ``not-callable``,
        ``swapped-arguments``, ``exception``, ``returned-none``, ``wrong-values``.
    """
    label, name = "ex-measure", "my_measure"
    bad = _require_callable(label, my_measure, name)
    if bad is not None:
        return bad
    for seed, m, d in [(0, 7, 5), (1, 11, 3)]:
        rng, A = _problem(seed, m, d)
        V = rng.standard_normal((d, 2))
        X = V @ V.T
        ref = np.einsum("mij,ij->m", A, X)
        variants = {
            "sign": (-ref, "every measurement has the wrong sign. <A_i, X> = sum_jk (A_i)_jk X_jk "
                           "has no minus sign."),
            "factor-2-extra": (2 * ref, "every measurement is twice too large: the inner product "
                                        "<A_i, X> has no factor 2."),
            "factor-2-missing": (ref / 2, "every measurement is half the right size: look for a "
                                          "stray 1/2."),
            "normalisation": (ref / m, "every measurement is divided by m: the operator itself has "
                                       "no 1/m (that belongs to the loss)."),
            "matrix-product": (np.einsum("mij,jk->m", A, X),
                               "you summed the entries of the matrix product A_i X. The inner "
                               "product is the sum of the ENTRYWISE product, sum_jk (A_i)_jk X_jk "
                               "= trace(A_i^T X)."),
        }
        hints = {(m, d, d): ("no-sum", "You kept the entrywise products: sum them over the last "
                                       "two axes, e.g. np.einsum('mij,ij->m', A, X)."),
                 (m, 1): ("shape", "Return a flat vector of length m (use .ravel())."),
                 (): ("shape", "You returned a single number: there is one measurement per A_i.")}
        bad = _diagnose(label, name, my_measure, [A, X], ["A", "X"], ref, variants, hints)
        if bad is not None:
            return bad
    return Feedback(label, True, ["my_measure matches <A_i, X> on two random test problems "
                                  "(m = 7, d = 5 and m = 11, d = 3)."])


@exercise_check("ex-measure")
def check_adjoint(my_adjoint) -> Feedback:
    r"""Check ``my_adjoint(A, r)`` :math:`= \mathcal{A}^*(r) = \sum_i r_i A_i`.

    Parameters
    ----------
    my_adjoint : callable
        Takes a stack ``A`` (m, d, d) and a vector ``r`` (m,) (:math:`r`) and returns the
        (d, d) matrix :math:`\sum_i r_iA_i`.

    Returns
    -------
    Feedback
        Diagnoses: ``shape``, ``no-sum``, ``sign``, ``factor-2-extra``, ``factor-2-missing``,
        ``normalisation``, ``swapped-arguments``, ``exception``, ``returned-none``,
        ``wrong-values``.
    """
    label, name = "ex-measure", "my_adjoint"
    bad = _require_callable(label, my_adjoint, name)
    if bad is not None:
        return bad
    for seed, m, d in [(2, 7, 5), (3, 11, 3)]:
        rng, A = _problem(seed, m, d)
        r = rng.standard_normal(m)
        ref = np.einsum("m,mij->ij", r, A)
        variants = {
            "sign": (-ref, "the result has the wrong sign: A*(r) = sum_i r_i A_i, with a plus "
                           "sign; check the identity <A(X), r> = <X, A*(r)> on random X and r."),
            "factor-2-extra": (2 * ref, "the result is twice too large: A*(r) = sum_i r_i A_i has "
                                        "no factor 2 (the 2 of the gradient comes later, from "
                                        "UU^T)."),
            "factor-2-missing": (ref / 2, "the result is half the right size: look for a stray "
                                          "1/2, e.g. from symmetrising (A_i + A_i^T)/2 twice."),
            "normalisation": (ref / m, "the result is divided by m: the adjoint has no 1/m "
                                       "(check the identity <A(X), r> = <X, A*(r)>)."),
        }
        hints = {(m, d, d): ("no-sum", "You returned the m matrices r_i A_i: sum them over the "
                                       "first axis.")}
        bad = _diagnose(label, name, my_adjoint, [A, r], ["A", "r"], ref, variants, hints)
        if bad is not None:
            return bad
    return Feedback(label, True, ["my_adjoint matches sum_i r_i A_i on two random test problems, "
                                  "so <A(X), r> = <X, A*(r)> holds."])


def _gradient_reference(A, y, U):
    res = np.einsum("mij,ij->m", A, U @ U.T) - y
    return np.einsum("m,mij->ij", res, A + np.swapaxes(A, 1, 2)) @ U / len(y), res


@exercise_check("ex-gradient-code")
def check_gradient(my_gradient) -> Feedback:
    r"""Check ``my_gradient(A, y, U)`` :math:`= \nabla f(U)` for
    :math:`f(U) = \frac1{2m}\sum_i(\langle A_i, UU^\top\rangle - y_i)^2`.

    The answer is tested with symmetric :math:`A_i` (then :math:`\nabla f = 2MU`) and then with
    non-symmetric ones (then :math:`\nabla f = \frac1m\sum_i r_i(A_i + A_i^\top)U`), on a
    rectangular :math:`U` so that transposes show up as a wrong shape.

    Parameters
    ----------
    my_gradient : callable
        Takes ``A`` (m, d, d), ``y`` (m,) and ``U`` (d, k) and returns :math:`\nabla f(U)`,
        shape (d, k).

    Returns
    -------
    Feedback
        Diagnoses: ``shape``, ``gram-gradient``, ``transposed``, ``sign``, ``factor-2-missing``,
        ``factor-2-extra``, ``normalisation``, ``normalisation-extra``, ``unsymmetrised``,
        ``swapped-arguments``, ``not-callable``,
        ``exception``, ``returned-none``, ``wrong-values``.
    """
    label, name = "ex-gradient-code", "my_gradient"
    bad = _require_callable(label, my_gradient, name)
    if bad is not None:
        return bad
    m, d, k = 9, 5, 3
    for symmetric in (True, False):
        rng, A = _problem(4 if symmetric else 5, m, d, symmetric=symmetric)
        U = rng.standard_normal((d, k))
        V = rng.standard_normal((d, 2))
        y = np.einsum("mij,ij->m", A, V @ V.T)
        ref, res = _gradient_reference(A, y, U)
        variants = {
            "sign": (-ref, "the gradient has the wrong sign. The residual is "
                           "r_i = <A_i, UU^T> - y_i (prediction minus data); and the check wants "
                           "the gradient itself, not the step -eta * gradient."),
            "factor-2-missing": (ref / 2, "the gradient is half the right size: the factor 2 is "
                                          "missing. U appears twice in UU^T, so grad f(U) = 2MU "
                                          "(see the proof of the proposition above)."),
            "factor-2-extra": (2 * ref, "the gradient is twice too large: with the 1/(2m) in f "
                                        "the gradient is (1/m) sum_i r_i (A_i + A_i^T) U = 2MU, "
                                        "one factor 2 in all."),
            "normalisation": (m * ref, "the gradient is m times too large: the 1/m of the loss is "
                                       "missing (average over the measurements, do not sum)."),
            "normalisation-extra": (ref / m, "the gradient is m times too small: you divided by "
                                             "m twice."),
        }
        if not symmetric:
            one_sided = 2 * np.einsum("m,mij->ij", res, A) @ U / m
            other_side = 2 * np.einsum("m,mji->ij", res, A) @ U / m
            msg = ("your gradient is right for symmetric A_i but not for general ones: you used "
                   "2 A_i U, which assumes A_i = A_i^T. The derivative of <A_i, UU^T> is "
                   "(A_i + A_i^T) U. Test with A = np.random.randn(m, d, d) (not symmetrised) "
                   "against finite differences.")
            variants["unsymmetrised"] = (one_sided, msg)
            variants["unsymmetrised-transpose"] = (other_side, msg)
        hints = {(d, d): ("gram-gradient", "A d x d result is M (or the gradient with respect to "
                                           "X = UU^T): the gradient with respect to U has U's "
                                           "shape, 2MU."),
                 (k, d): ("transposed", "You returned the transpose, e.g. U^T M: the gradient "
                                        "is 2 M U, with M on the left.")}
        bad = _diagnose(label, name, my_gradient, [A, y, U], ["A", "y", "U"], ref, variants, hints)
        if bad is not None:
            if not symmetric and bad.codes[0] == "unsymmetrised-transpose":
                bad.codes[0] = "unsymmetrised"
            return bad
    return Feedback(label, True, ["my_gradient matches the exact gradient for symmetric and "
                                  "non-symmetric A_i on a 5 x 3 U."])


@exercise_check("ex-start-shape")
def check_start_shape(base, orth, gaus) -> Feedback:
    r"""Check the three runs of the exercise on the shape of the start.

    Parameters
    ----------
    base, orth, gaus : qsense.descent.Run
        Runs with the same data, :math:`\eta`, number of steps and :math:`\alpha`, started from
        :math:`U_0 = \alpha I`, :math:`\alpha B` with :math:`B` orthogonal, and :math:`\alpha G`
        with :math:`G` Gaussian.

    Returns
    -------
    Feedback
        Diagnoses: ``not-a-run``, ``batched``, ``different-steps``, ``different-scale``,
        ``not-orthogonal-init``, ``not-gaussian-init``, ``orthogonal-differs``, ``no-target``,
        ``not-recovered``.
    """
    label = "ex-start-shape"
    runs = {"base": base, "orth": orth, "gaus": gaus}
    for key, run in runs.items():
        if not all(hasattr(run, a) for a in ("U", "loss", "error")):
            return _fail(label, "not-a-run", f"{key} is a {type(run).__name__}, expected the Run "
                                             f"returned by qsense.gradient_descent.")
        if np.ndim(run.U) != 2:
            return _fail(label, "batched", f"{key} is a batch of runs: pass one alpha, not an "
                                           f"array.")
    if not len(base.loss) == len(orth.loss) == len(gaus.loss):
        return _fail(label, "different-steps",
                     "the runs have different numbers of steps "
                     f"({len(base.loss) - 1}, {len(orth.loss) - 1}, {len(gaus.loss) - 1}): use the "
                     "same `steps` (and eta) so the runs are comparable.")
    if not np.isclose(orth.loss[0], base.loss[0], rtol=1e-9):
        return _fail(label, "different-scale",
                     "base and orth start from different losses, but alpha*B (B orthogonal) and "
                     "alpha*I have the same Gram matrix alpha^2 I: use the same alpha (and data).")
    if np.allclose(orth.U, base.U):
        return _fail(label, "not-orthogonal-init",
                     "orth ended at exactly the same U as base: it was not started from a random "
                     "orthogonal matrix. Pass init=\"orthogonal\" (and a seed).")
    if np.allclose(gaus.U, base.U) or np.isclose(gaus.loss[0], base.loss[0], rtol=1e-9):
        return _fail(label, "not-gaussian-init",
                     "gaus starts from the same Gram matrix as base: pass init=\"gaussian\".")
    diff = np.abs(orth.X - base.X).max()
    if diff > 1e-8 * max(1.0, np.abs(base.X).max()):
        return _fail(label, "orthogonal-differs",
                     f"orth and base should give the same U U^T to rounding error, but differ by "
                     f"{diff:.1e}: check that eta, steps and the data (op, y) are the same.")
    if gaus.error is None:
        return _fail(label, "no-target", "gaus has no error history: pass target=truth.")
    if not gaus.error[-1] < 1e-2:
        return _fail(label, "not-recovered",
                     f"gaus ends at relative error {gaus.error[-1]:.2g}; with alpha = 1e-3 the "
                     f"Gaussian start should recover X_star (error < 1e-2). Check alpha.")
    return Feedback(label, True, [f"orth reproduces base's U U^T (max difference {diff:.0e}) and "
                                  f"the Gaussian start recovers X_star (error "
                                  f"{gaus.error[-1]:.0e})."])



# --------------------------------------------------------------------------------------------
# Chapter 4 (small-initialisation dynamics)

def _ch4_population_problem():
    """The population problem of exercise ex-dyn-eta: d = 10, eigenvalues (1, 0.5)."""
    from .problems import planted_psd
    from .sensing import PopulationOperator
    truth = planted_psd(10, spectrum=[1.0, 0.5], seed=0)
    pop = PopulationOperator(10)
    return truth, pop, pop.measure(truth.X)


def _ch4_run_status(eta, steps=1000, alpha=1e-3):
    """'converged', 'stalled' (finite but not converged) or 'diverged' for the population run."""
    from .descent import DivergenceError, gradient_descent
    truth, pop, y = _ch4_population_problem()
    try:
        run = gradient_descent(pop, y, eta=eta, steps=steps, alpha=alpha, target=truth, record=[])
    except DivergenceError:
        return "diverged"
    return "converged" if run.final_error < 1e-3 else "stalled"


#: Step sizes at which check_converges tests a student's ``converges``: one below the stability
#: limit 1/(2 lambda_1) = 0.5, one between it and the divergence threshold (the iterates
#: oscillate without blowing up), one far beyond (the engine raises DivergenceError).
_CH4_ETAS = {"stable": 0.3, "oscillating": 0.6, "divergent": 1.5}


@exercise_check("ex-dyn-eta")
def check_converges(converges) -> Feedback:
    r"""Check ``converges(eta)``: True exactly when gradient descent converges to :math:`X_\star`.

    The answer is called at three step sizes of the exercise's population problem
    (:math:`\lambda_1 = 1`): one below the stability limit :math:`\eta = 1/(2\lambda_1)`, one
    above it where the iterates oscillate but stay bounded, and one where the loss explodes.
    The check first confirms (by running ``qsense.gradient_descent`` itself) that the three step
    sizes behave that way.

    Parameters
    ----------
    converges : callable
        Takes a step size :math:`\eta` and returns True or False.

    Returns
    -------
    Feedback
        Diagnoses: ``not-callable``, ``divergence-not-caught``, ``exception``, ``not-bool``,
        ``rejects-stable``, ``accepts-oscillating``, ``accepts-divergent``.
    """
    label, name = "ex-dyn-eta", "converges"
    bad = _require_callable(label, converges, name)
    if bad is not None:
        return bad
    from .descent import DivergenceError
    expected = {"stable": "converged", "oscillating": "stalled", "divergent": "diverged"}
    for kind, eta in _CH4_ETAS.items():  # the premise of the check itself
        status = _ch4_run_status(eta)
        if status != expected[kind]:  # pragma: no cover - guards the check, not the student
            raise RuntimeError(f"check_converges: eta = {eta} gave {status}, expected "
                               f"{expected[kind]}; the check's test points need updating")
    answers = {}
    for kind, eta in _CH4_ETAS.items():
        try:
            out = converges(eta)
        except DivergenceError:
            return _fail(label, "divergence-not-caught",
                         f"converges({eta}) raised qsense.DivergenceError. Put the call of "
                         f"qsense.gradient_descent in try: ... except qsense.DivergenceError: "
                         f"return False, so that a diverging run counts as a failure.")
        except Exception as exc:  # the student's code may raise anything
            return _fail(label, "exception",
                         f"converges({eta}) raised {type(exc).__name__}: {exc}. Call it yourself "
                         f"on eta = {eta} and read the traceback.")
        if not isinstance(out, (bool, np.bool_)):
            return _fail(label, "not-bool",
                         f"converges({eta}) returned a {type(out).__name__}, expected True or "
                         f"False. Return a comparison such as run.final_error < 1e-3, not the "
                         f"run or the error itself.")
        answers[kind] = bool(out)
    if not answers["stable"]:
        return _fail(label, "rejects-stable",
                     f"converges({_CH4_ETAS['stable']}) is False, but with eta = "
                     f"{_CH4_ETAS['stable']} < 1/(2 lambda_1) = 0.5 the run converges. Print "
                     f"run.final_error: too few steps (use a few thousand), a too strict "
                     f"tolerance, or a missing target=truth are the usual causes.")
    if answers["divergent"]:
        return _fail(label, "accepts-divergent",
                     f"converges({_CH4_ETAS['divergent']}) is True, but that run diverges "
                     f"(qsense.DivergenceError): the except branch must return False.")
    if answers["oscillating"]:
        return _fail(label, "accepts-oscillating",
                     f"converges({_CH4_ETAS['oscillating']}) is True, but that run does not "
                     f"converge: above eta = 0.5 the iterates oscillate around X_star without "
                     f"blowing up, so no DivergenceError is raised. Test the end of the run "
                     f"too, e.g. return run.final_error < 1e-3.")
    return Feedback(label, True, [f"converges is True at eta = {_CH4_ETAS['stable']}, False at "
                                  f"{_CH4_ETAS['oscillating']} (oscillation) and at "
                                  f"{_CH4_ETAS['divergent']} (divergence)."])


@exercise_check("ex-dyn-eta")
def check_stable_step(eta_max) -> Feedback:
    r"""Check the bisected largest stable step size of the population problem (:math:`\lambda_1 = 1`).

    The right answer is close to, and not above, the linear-stability limit
    :math:`1/(2\lambda_1) = 0.5` of :math:`\sigma \mapsto \sigma(1 + 2\eta(\lambda_1 - \sigma^2))`
    (within 0.01: near the limit the contraction :math:`|1 - 4\eta\lambda_1|` is close to 1, so a
    finite run stops converging slightly below 0.5).

    Parameters
    ----------
    eta_max : float
        The student's :math:`\eta_{\max}`.

    Returns
    -------
    Feedback
        Diagnoses: ``not-a-number``, ``accepts-oscillating``, ``accepts-divergent``,
        ``too-small``.
    """
    label = "ex-dyn-eta"
    if isinstance(eta_max, (bool, np.bool_)) or not np.isscalar(eta_max) or \
            not isinstance(eta_max, (int, float, np.integer, np.floating)) or \
            not np.isfinite(eta_max):
        return _fail(label, "not-a-number",
                     f"eta_max should be one finite number, got {eta_max!r}: pass the end of "
                     f"the bisection (lo), not the function or a list.")
    eta_max = float(eta_max)
    limit = 1.0 / (2 * 1.0)  # 1/(2 lambda_1): |1 - 4 eta lambda_1| < 1
    if limit - 0.01 <= eta_max <= limit:
        return Feedback(label, True, [f"eta_max = {eta_max:.4f}, just below the linear "
                                      f"stability limit 1/(2 lambda_1) = 0.5."])
    if eta_max > limit:
        status = _ch4_run_status(eta_max)
        if status == "diverged":
            return _fail(label, "accepts-divergent",
                         f"at eta = {eta_max:.3g} the run diverges: your bisection kept a "
                         f"diverging step. Check that the except branch returns False and "
                         f"that the bisection moves `hi` down when converges(mid) is False.")
        return _fail(label, "accepts-oscillating",
                     f"eta_max = {eta_max:.3g} is above 0.5, where the run does not diverge "
                     f"but does not converge either (it oscillates). Catching "
                     f"DivergenceError is not enough: also require run.final_error < 1e-3. "
                     f"(If you took 1/lambda_1 = 1 from the formula: that is the limit for the "
                     f"paper's step eta' = 2 eta; qsense's step is U <- U - eta * 2MU.)")
    return _fail(label, "too-small",
                 f"eta_max = {eta_max:.3g} is well below the limit 0.5. Near the limit the "
                 f"error contracts by |1 - 4 eta| per step, close to 1, so a short run or a "
                 f"strict tolerance rejects steps that do converge: use a few thousand steps "
                 f"and tolerance 1e-3, and check that the bisection starts from a bracket "
                 f"[lo, hi] with converges(lo) True and converges(hi) False.")


def _ch4_exponent_reference(steps, error_perp, t_rec, alphas, d, cutoff=True, last=False,
                            normalise=True):
    """The growth exponent, and (with the flags) the usual ways to get it wrong."""
    g = []
    for j, a in enumerate(alphas):
        keep = steps <= t_rec[j] if cutoff else np.ones(len(steps), bool)
        values = error_perp[j, keep]
        v = values[-1] if last else values.max()
        g.append(v / (a * np.sqrt(d)) if normalise else v)
    x, yv = np.log(1 / np.asarray(alphas)), np.log(g)
    return float(np.polyfit(x, yv, 1)[0])


def _ch4_synthetic_sweep(c, c_after, alphas, d, speed):
    """Records shaped like the chapter's sweep, with a known growth exponent ``c``.

    Before recovery the error reaches alpha sqrt(d) (1/alpha)^c at 0.7 t_rec, stays there until
    0.8 t_rec (so the peak lies on the record grid) and falls back to
    exponent 0.7c at t_rec; after recovery it climbs to exponent ``c_after`` (the tilt of the
    learned directions). ``t_rec`` lies on the record grid (every 2 steps).
    """
    steps = np.arange(0, 1201, 2)
    alphas = np.asarray(alphas, float)
    t_rec = 2 * np.round(speed * np.log(1 / alphas) / 2)
    err = np.empty((len(alphas), len(steps)))
    for j, a in enumerate(alphas):
        s = steps / t_rec[j]
        h = np.where(s <= 0.8, c * np.minimum(s / 0.7, 1), c * (1 - 1.5 * (s - 0.8)))
        h = np.where(s <= 1, h, 0.7 * c + (c_after - 0.7 * c) * np.minimum(s - 1, 1))
        err[j] = a * np.sqrt(d) * (1 / a) ** h
    return steps, err, t_rec


@exercise_check("ex-dyn-exponent")
def check_growth_exponent(growth_exponent) -> Feedback:
    r"""Check ``growth_exponent(steps, error_perp, t_rec, alphas, d)``: the fitted exponent
    :math:`c` in :math:`\max_{t\le T_{\mathrm{rec}}}\|E_t(I-P_t)\|_F \approx
    \alpha\sqrt d\,(1/\alpha)^c`.

    The answer is run on synthetic records with a known exponent, shaped like the chapter's
    sweep: the error peaks before recovery, dips at :math:`T_{\mathrm{rec}}` and grows again
    afterwards, so that each usual mistake gives a different number.

    Parameters
    ----------
    growth_exponent : callable
        Takes ``steps`` (n,) (the recorded steps :math:`t`), ``error_perp`` (k, n)
        (:math:`\|E_t(I-P_t)\|_F` for each of the k initial scales), ``t_rec`` (k,)
        (:math:`T_{\mathrm{rec}}` per scale), ``alphas`` (k,) (:math:`\alpha`) and ``d``
        (:math:`d`), and returns the slope :math:`c` of :math:`\log g` against
        :math:`\log(1/\alpha)`, :math:`g = \max_{t\le T_{\mathrm{rec}}}\|E_t(I-P_t)\|_F/(\alpha\sqrt d)`.

    Returns
    -------
    Feedback
        Diagnoses: ``sign``, ``not-normalised``, ``no-cutoff``, ``last-not-max``,
        ``returned-fit``, ``shape``, ``not-callable``, ``swapped-arguments``, ``exception``,
        ``returned-none``, ``wrong-values``.
    """
    label, name = "ex-dyn-exponent", "growth_exponent"
    bad = _require_callable(label, growth_exponent, name)
    if bad is not None:
        return bad
    for c, c_after, alphas, d, speed in [(0.3, 0.6, np.logspace(-2, -5, 4), 40, 20.0),
                                         (0.45, 0.8, np.logspace(-1, -6, 6), 25, 15.0)]:
        steps, err, t_rec = _ch4_synthetic_sweep(c, c_after, alphas, d, speed)
        args = [steps, err, t_rec, alphas, d]
        ref = np.asarray(_ch4_exponent_reference(*args))
        variants = {
            "sign": (-ref, "the exponent has the wrong sign: fit log g against log(1/alpha), "
                           "not log(alpha). The error grows MORE from a smaller alpha, so c > 0."),
            "not-normalised": (np.asarray(_ch4_exponent_reference(*args, normalise=False)),
                               "you fitted the raw maximum of ||E_t(I-P_t)||_F, which is "
                               "alpha sqrt(d) (1/alpha)^c and gives slope c - 1. Divide by the "
                               "starting size alpha sqrt(d) first: c measures the GROWTH."),
            "no-cutoff": (np.asarray(_ch4_exponent_reference(*args, cutoff=False)),
                          "you took the maximum over the whole run. After recovery the learned "
                          "directions are tilted and the error grows for another reason: keep "
                          "only the steps t <= t_rec of each alpha (steps <= t_rec[j])."),
            "last-not-max": (np.asarray(_ch4_exponent_reference(*args, last=True)),
                             "you used the error at t_rec, not its maximum over t <= t_rec: the "
                             "error can peak before recovery. Take .max() over those steps."),
        }
        hints = {(3,): ("returned-fit", "qsense.analysis.fit_line returns (slope, intercept, "
                                        "R^2): return only the slope, fit_line(x, y)[0]."),
                 (2,): ("returned-fit", "np.polyfit returns (slope, intercept): return only the "
                                        "slope, np.polyfit(x, y, 1)[0]."),
                 (len(alphas),): ("shape", "you returned one number per alpha (the growth "
                                           "factors?): fit log g against log(1/alpha) and return "
                                           "the slope.")}
        with np.errstate(all="ignore"):  # the tries with permuted arguments may divide by 0
            bad = _diagnose(label, name, growth_exponent, args,
                            ["steps", "error_perp", "t_rec", "alphas", "d"], ref, variants, hints)
        if bad is not None:
            return bad
    return Feedback(label, True, ["growth_exponent recovers the exponent of two synthetic sweeps "
                                  "(c = 0.3 and 0.45)."])
