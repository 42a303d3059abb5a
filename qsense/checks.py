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
# Chapter 2 (the restricted isometry property): exercise ex-rip-own-search

__all__ += ["check_rip_ratio", "check_rip_search"]


def _rip_test_problems():
    """Two small Gaussian operators and non-unit start vectors (fixed seeds)."""
    from .sensing import GaussianOperator  # local import: checks needs nothing else from qsense
    problems = []
    for seed, d, m, norm in [(31, 6, 40, 1.7), (32, 5, 25, 0.6)]:
        op = GaussianOperator(d, m, seed=seed)
        v = np.random.default_rng(seed + 100).standard_normal(d)
        problems.append((op, v * norm / np.linalg.norm(v)))
    return problems


def _rip_ratio_reference(op, v):
    X = np.outer(v, v)
    return float(np.mean(op.measure(X) ** 2) / np.sum(X * X))


@exercise_check("ex-rip-own-search")
def check_rip_ratio(my_ratio) -> Feedback:
    r"""Check ``my_ratio(op, v)`` :math:`= \rho(vv^\top) =
    \frac{\frac1m\sum_i \langle A_i, vv^\top\rangle^2}{\|vv^\top\|_F^2}`.

    Tested on two Gaussian operators with start vectors of norm 1.7 and 0.6, so that a missing
    normalisation by :math:`\|vv^\top\|_F^2 = \|v\|^4` shows.

    Parameters
    ----------
    my_ratio : callable
        Takes a sensing operator ``op`` (:math:`\mathcal A`, with ``op.measure``) and a vector
        ``v`` of shape (d,) (:math:`v \neq 0`, any norm) and returns the number
        :math:`\rho(vv^\top)`.

    Returns
    -------
    Feedback
        Diagnoses: ``no-mean``, ``shape``, ``normalisation``, ``not-normalised``,
        ``half-normalised``, ``not-squared``, ``square-root``, ``deviation``, ``not-callable``,
        ``swapped-arguments``, ``exception``, ``returned-none``, ``wrong-values``.
    """
    label, name = "ex-rip-own-search", "my_ratio"
    bad = _require_callable(label, my_ratio, name)
    if bad is not None:
        return bad
    for op, v in _rip_test_problems():
        ref = np.asarray(_rip_ratio_reference(op, v))
        n2, m = float(v @ v), op.m
        meas = op.measure(np.outer(v, v))
        variants = {
            "normalisation": (m * ref, "the ratio is m times too large: you summed the squared "
                                       "measurements. rho averages them: (1/m) sum_i "
                                       "<A_i, vv^T>^2, e.g. np.mean(op.measure(X) ** 2)."),
            "not-normalised": (ref * n2 ** 2, "the ratio is not divided by ||vv^T||_F^2 = ||v||^4: "
                                              "right for a unit v only. The check uses a v of norm "
                                              "different from 1; divide by np.sum(X * X)."),
            "half-normalised": (ref * n2, "you divided by ||v||^2 = ||vv^T||_F, but rho divides by "
                                          "the SQUARED Frobenius norm ||vv^T||_F^2 = ||v||^4."),
            "not-squared": (np.asarray(np.mean(meas) / n2),
                            "you averaged the measurements <A_i, vv^T> themselves, which can cancel "
                            "out. rho averages their SQUARES: "
                            "np.mean(op.measure(X) ** 2) / np.sum(X * X)."),
            "square-root": (np.sqrt(ref), "you returned the square root of the ratio, "
                                          "||A(X)|| / (sqrt(m) ||X||_F). rho compares SQUARED "
                                          "lengths: drop the square root."),
            "deviation": (ref - 1, "you returned rho - 1 (the deviation that delta bounds), not "
                                   "the ratio rho itself: drop the '- 1'."),
        }
        hints = {(m,): ("no-mean", "You returned the m squared measurements (or measurements): "
                                   "average them with np.mean and divide by ||vv^T||_F^2."),
                 (m, 1): ("no-mean", "You returned one number per measurement: average them.")}
        bad = _diagnose(label, name, my_ratio, [op, v], ["op", "v"], ref, variants, hints)
        if bad is not None:
            return bad
    return Feedback(label, True, ["my_ratio matches rho(vv^T) on two Gaussian operators, for "
                                  "vectors of norm 1.7 and 0.6."])


def _rip_search_reference(op, v, steps, pick="top"):
    """The power-type iteration of ex-rip-own-search, and its usual wrong variants (``pick``)."""
    for _ in range(steps):
        N_vv = op.adjoint(op.measure(np.outer(v, v))) / op.m
        lam, vecs = np.linalg.eigh(N_vv)
        if pick == "top":
            v = vecs[:, -1]
        elif pick == "magnitude":
            v = vecs[:, np.argmax(np.abs(lam))]
        elif pick == "smallest":
            v = vecs[:, 0]
        elif pick == "row":
            v = vecs[-1]
        else:
            raise ValueError(f"pick: unknown variant {pick!r}")
    return v / np.linalg.norm(v)


def _same_direction(u, w) -> bool:
    return abs(abs(float(u @ w)) - 1.0) < 1e-8


@exercise_check("ex-rip-own-search")
def check_rip_search(my_search) -> Feedback:
    r"""Check ``my_search(op, v, steps)``: ``steps`` power-type steps
    :math:`v \leftarrow` top eigenvector of :math:`\mathcal N(vv^\top)`,
    :math:`\mathcal N = \frac1m\mathcal A^*\mathcal A`, returning the final unit vector.

    Compared, up to the sign of the eigenvector, with the iteration from the same (non-unit) start
    after 3 steps on one Gaussian operator and 2 on another. Taking the eigenvector of the
    eigenvalue of largest magnitude is accepted too (it is the truncated power step of
    ``qsense.rip.estimate_rip``).

    Parameters
    ----------
    my_search : callable
        Takes ``op`` (:math:`\mathcal A`, with ``op.measure``, ``op.adjoint``, ``op.m``), a start
        ``v`` of shape (d,) and an int ``steps``; returns the unit vector :math:`v` after
        ``steps`` steps, shape (d,).

    Returns
    -------
    Feedback
        Diagnoses: ``returned-matrix``, ``shape``, ``not-finite``, ``not-unit``, ``no-steps``,
        ``return-in-loop``, ``off-by-one``, ``smallest-eigenvector``, ``eigenvector-row``,
        ``not-ascent``, ``not-callable``, ``swapped-arguments``, ``exception``,
        ``returned-none``, ``wrong-values``.
    """
    label, name = "ex-rip-own-search", "my_search"
    bad = _require_callable(label, my_search, name)
    if bad is not None:
        return bad
    for (op, v0), steps in zip(_rip_test_problems(), (3, 2)):
        d = op.d
        refs = [_rip_search_reference(op, v0, steps, pick) for pick in ("top", "magnitude")]
        out, exc = _call(my_search, [op, v0.copy(), steps])
        if exc is None and out is None:
            return _fail(label, "returned-none",
                         f"{name} returned None: is the `return v` statement missing (or "
                         f"indented wrongly)?")
        if exc is not None:
            args = {"op": op, "v": v0, "steps": steps}
            for perm in permutations(args):
                if perm == tuple(args):
                    continue
                alt, alt_exc = _call(my_search, [np.copy(args[k]) if k == "v" else args[k]
                                                 for k in perm])
                if (alt_exc is None and alt is not None and alt.shape == (d,)
                        and np.isclose(np.linalg.norm(alt), 1)
                        and any(_same_direction(alt, ref) for ref in refs)):
                    return _fail(label, "swapped-arguments",
                                 f"{name} gives the right result when called as "
                                 f"{name}({', '.join(perm)}), but the exercise calls it as "
                                 f"{name}(op, v, steps). Put the parameters in that order in "
                                 f"the `def` line.")
            return _fail(label, "exception",
                         f"calling {name}(op, v, steps) raised {type(exc).__name__}: {exc}. Run "
                         f"one step by hand on op = GaussianOperator(6, 40, seed=0) and print "
                         f"the shape of each intermediate (np.outer(v, v) is d x d, "
                         f"op.measure of it has m entries, op.adjoint of those is d x d).")
        if out.shape == (d, d):
            return _fail(label, "returned-matrix",
                         f"{name} returned a {d} x {d} matrix (N(vv^T), or vv^T): return the "
                         f"vector v itself, shape ({d},), e.g. a column vecs[:, -1] of eigh.")
        if out.shape != (d,):
            return _fail(label, "shape",
                         f"{name} returned shape {out.shape}, expected ({d},): one vector. Use "
                         f".ravel() if you built it as a column or row.")
        if not np.all(np.isfinite(out)):
            return _fail(label, "not-finite", f"{name} returned NaN or infinite entries: is a "
                                              f"vector divided by a zero norm somewhere?")
        norm = np.linalg.norm(out)
        if norm == 0:
            return _fail(label, "not-finite", f"{name} returned the zero vector.")
        u = out / norm
        if any(_same_direction(u, ref) for ref in refs):
            if abs(norm - 1) > 1e-8:
                return _fail(label, "not-unit",
                             f"the direction is right but the vector has norm {norm:.3g}: return "
                             f"v / np.linalg.norm(v), a unit vector (rho(vv^T) of a unit v is "
                             f"then just the mean of the squared measurements).")
            continue
        start = v0 / np.linalg.norm(v0)
        wrong = [
            ("no-steps", start,
             f"{name} returns the start itself (normalised): the loop never changed v. Inside the "
             f"loop assign the new vector to v (v = vecs[:, -1]), and loop `steps` times."),
            ("return-in-loop", _rip_search_reference(op, v0, 1),
             f"{name} stops after ONE step whatever `steps` is: the `return` is probably indented "
             f"inside the for loop. Move it out of the loop."),
            ("off-by-one", _rip_search_reference(op, v0, steps - 1),
             f"{name} takes one step too few: loop with `for _ in range(steps)`."),
            ("off-by-one", _rip_search_reference(op, v0, steps + 1),
             f"{name} takes one step too many: loop with `for _ in range(steps)`."),
            ("smallest-eigenvector", _rip_search_reference(op, v0, steps, "smallest"),
             "you took the eigenvector of the SMALLEST eigenvalue: np.linalg.eigh sorts "
             "eigenvalues in ascending order, so the top one is the last, vecs[:, -1]."),
            ("eigenvector-row", _rip_search_reference(op, v0, steps, "row"),
             "you took a ROW of the eigenvector matrix (vecs[-1]): np.linalg.eigh returns the "
             "eigenvectors as COLUMNS, so the top one is vecs[:, -1]. Check with "
             "N @ v = lam[-1] * v."),
        ]
        for code, w, message in wrong:
            if _same_direction(u, w):
                return _fail(label, code, message)
        if _rip_ratio_reference(op, u) < _rip_ratio_reference(op, start) - 1e-12:
            return _fail(label, "not-ascent",
                         f"your vector has a LOWER ratio ({_rip_ratio_reference(op, u):.3f}) than "
                         f"the start ({_rip_ratio_reference(op, start):.3f}), but each step can "
                         f"only raise it. Print rho(vv^T) after every step: it must never fall. "
                         f"Check that you use N(vv^T) = op.adjoint(op.measure(np.outer(v, v))) / "
                         f"op.m and its top eigenvector.")
        return _fail(label, "wrong-values",
                     f"{name} returns a unit vector that is not the iterate of the exercise, and "
                     f"none of the usual mistakes explains it. Do one step by hand: compute "
                     f"N = op.adjoint(op.measure(np.outer(v, v))) / op.m, then "
                     f"lam, vecs = np.linalg.eigh(N) and take vecs[:, -1].")
    return Feedback(label, True, ["my_search reproduces the power-type iteration (3 and 2 steps, "
                                  "two Gaussian operators), up to the eigenvectors' sign."])


# --------------------------------------------------------------------------------------------
# Chapter 5: quadratic-activation networks (exercise ex-quad-forward)

def _quad_problem(seed, n, d, k):
    """Inputs x (n, d), a student U (d, k) and labels of a width-2 teacher."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    U = 0.5 * rng.standard_normal((d, k))
    teacher = rng.standard_normal((d, 2))
    y = np.sum((x @ teacher) ** 2, axis=1)
    return x, U, y


def _quad_dense_note(func, args, n, d):
    """A note when ``func(*args)`` allocates an n x d x d array (allowed, but costly)."""
    import tracemalloc
    was_tracing = tracemalloc.is_tracing()  # someone else's tracing is left running
    if was_tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        func(*args)
        _, peak = tracemalloc.get_traced_memory()
        peak -= before
    except Exception:  # the answer has already been run once; its errors are reported elsewhere
        return None
    finally:
        if not was_tracing:
            tracemalloc.stop()
    dense = n * d * d * 8
    if peak < dense / 2:
        return None
    return (f"it is right, but it allocated about {peak / 2**20:.1f} MB for n = {n}, d = {d}: it "
            f"seems to build the n x d x d stack x_i x_i^T (or n copies of a d x d matrix). That "
            f"costs O(n d^2) memory and time; with P = x @ U everything is O(n d k): look for "
            f"np.outer, np.einsum('ni,nj->nij', ...) or x[:, :, None] * x[:, None, :].")


@exercise_check("ex-quad-forward")
def check_quad_predict(my_predict) -> Feedback:
    r"""Check ``my_predict(U, x)`` :math:`= \bigl(\sum_j (u_j^\top x_i)^2\bigr)_{i=1}^n`.

    The output of the quadratic-activation network of chapter 5 on the rows :math:`x_i` of ``x``.
    Building the :math:`n\times d\times d` stack :math:`x_ix_i^\top` is accepted (the values are
    right) but the feedback then notes its cost (measured with ``tracemalloc``).

    Parameters
    ----------
    my_predict : callable
        Takes the weights ``U`` (d, k) (:math:`U`, hidden unit :math:`u_j` in column j) and the
        inputs ``x`` (n, d) (rows :math:`x_i`) and returns :math:`\hat y` of shape (n,).

    Returns
    -------
    Feedback
        Diagnoses: ``no-square``, ``square-of-sum``, ``norm-not-squared``, ``factor-2-extra``,
        ``no-sum``, ``wrong-axis``, ``shape``, ``not-callable``, ``swapped-arguments``,
        ``exception``, ``returned-none``, ``wrong-values``.
    """
    label, name = "ex-quad-forward", "my_predict"
    bad = _require_callable(label, my_predict, name)
    if bad is not None:
        return bad
    for seed, n, d, k in [(50, 9, 5, 3), (51, 7, 4, 6)]:
        x, U, _ = _quad_problem(seed, n, d, k)
        P = x @ U
        ref = np.sum(P ** 2, axis=1)
        variants = {
            "no-square": (P.sum(axis=1), "the outputs are sum_j u_j^T x_i: the activation "
                                         "sigma(z) = z^2 is missing. Square each unit's "
                                         "pre-activation (x @ U)**2 before summing over units."),
            "square-of-sum": (P.sum(axis=1) ** 2,
                              "you squared after summing over the units, (sum_j u_j^T x_i)^2. "
                              "The network squares each unit, then sums: "
                              "sum_j (u_j^T x_i)^2 = ((x @ U)**2).sum(axis=1)."),
            "norm-not-squared": (np.sqrt(ref), "the outputs are ||U^T x_i||, the norm of row i "
                                               "of x @ U; the output is its SQUARED norm "
                                               "(np.linalg.norm(..., axis=1) needs **2)."),
            "factor-2-extra": (2 * ref, "every output is twice too large: the network has no "
                                        "factor 2 (that appears only in the gradient)."),
        }
        hints = {(n, k): ("no-sum", "You returned the n x k unit outputs (u_j^T x_i)^2: sum "
                                    "them over the units (axis=1)."),
                 (k,): ("wrong-axis", "You summed over the examples (axis 0) instead of the "
                                      "units (axis 1): there is one output per row x_i."),
                 (n, 1): ("shape", "Return a flat vector of length n (use .ravel())."),
                 (): ("shape", "You returned a single number: there is one output per input "
                               "x_i.")}
        bad = _diagnose(label, name, my_predict, [U, x], ["U", "x"], ref, variants, hints)
        if bad is not None:
            return bad
    messages = ["my_predict matches sum_j (u_j^T x_i)^2 on two random networks (k < d and "
                "k > d)."]
    x, U, _ = _quad_problem(52, 200, 40, 2)
    note = _quad_dense_note(my_predict, [U, x], 200, 40)
    if note:
        messages.append(note)
    return Feedback(label, True, messages)


def _quad_gradient_reference(U, x, y):
    P = x @ U
    res = np.sum(P ** 2, axis=1) - y
    return (2 / len(y)) * x.T @ (res[:, None] * P), P, res


@exercise_check("ex-quad-forward")
def check_quad_gradient(my_gradient) -> Feedback:
    r"""Check ``my_gradient(U, x, y)`` :math:`= \nabla L(U) = \frac2n\sum_i r_ix_ix_i^\top U`,
    :math:`r_i = \hat y(x_i) - y_i`, for :math:`L(U) = \frac1{2n}\sum_i(\hat y(x_i) - y_i)^2`.

    Tested on a rectangular :math:`U` (k differs from d and from n) so that a transpose or the
    gradient with respect to :math:`X = UU^\top` shows up as a wrong shape. Building the
    :math:`n\times d\times d` stack is accepted, with a note on its cost.

    Parameters
    ----------
    my_gradient : callable
        Takes ``U`` (d, k), the inputs ``x`` (n, d) and the labels ``y`` (n,) and returns
        :math:`\nabla L(U)`, shape (d, k).

    Returns
    -------
    Feedback
        Diagnoses: ``sign``, ``factor-2-missing``, ``factor-2-extra``, ``normalisation``,
        ``normalisation-extra``, ``no-square``, ``gram-gradient``, ``transposed``, ``shape``,
        ``not-callable``, ``swapped-arguments``, ``exception``, ``returned-none``,
        ``wrong-values``.
    """
    label, name = "ex-quad-forward", "my_gradient"
    bad = _require_callable(label, my_gradient, name)
    if bad is not None:
        return bad
    for seed, n, d, k in [(60, 11, 5, 3), (61, 8, 4, 6)]:
        x, U, y = _quad_problem(seed, n, d, k)
        ref, P, res = _quad_gradient_reference(U, x, y)
        unsquared = (2 / n) * x.T @ ((P.sum(axis=1) - y)[:, None] * P)
        variants = {
            "sign": (-ref, "the gradient has the wrong sign. The residual is r_i = yhat_i - y_i "
                           "(prediction minus label), and the check wants the gradient itself, "
                           "not the step -eta * gradient."),
            "factor-2-missing": (ref / 2, "the gradient is half the right size: the factor 2 is "
                                          "missing. Each unit's output (u_j^T x)^2 has derivative "
                                          "2 (u_j^T x) x, so grad L = (2/n) x^T (r * (x U))."),
            "factor-2-extra": (2 * ref, "the gradient is twice too large: the 1/2 of the loss "
                                        "cancels the 2 of the square's derivative, leaving one "
                                        "factor 2 from the activation: (2/n) x^T (r * (x U))."),
            "normalisation": (n * ref, "the gradient is n times too large: the 1/n of the loss "
                                       "is missing (average over the examples, do not sum)."),
            "normalisation-extra": (ref / n, "the gradient is n times too small: you divided by "
                                             "n twice."),
            "no-square": (unsquared, "the residuals use unsquared outputs sum_j u_j^T x_i: "
                                     "compute yhat_i = sum_j (u_j^T x_i)^2 (square, then sum) "
                                     "before subtracting y_i. Compare your residuals with "
                                     "quadratic.predict(U, x) - y."),
        }
        hints = {(d, d): ("gram-gradient", "A d x d result is M = (1/n) sum_i r_i x_i x_i^T, "
                                           "the gradient with respect to X = UU^T. The gradient "
                                           "with respect to U has U's shape: 2 M U."),
                 (k, d): ("transposed", "You returned the transpose, e.g. (x U)^T (r * x): "
                                        "the result is x^T (r * (x U)), of shape (d, k)."),
                 (n, k): ("shape", "An n x k result has not been summed over the examples: "
                                   "multiply by x^T on the left, x.T @ (r[:, None] * (x @ U))."),
                 (d,): ("shape", "A vector of length d: the gradient is a d x k matrix, one "
                                 "column per hidden unit. Keep the (n, k) array x @ U.")}
        bad = _diagnose(label, name, my_gradient, [U, x, y], ["U", "x", "y"], ref, variants,
                        hints)
        if bad is not None:
            return bad
    messages = ["my_gradient matches (2/n) x^T (r * (x U)) on two random networks (k < d and "
                "k > d)."]
    x, U, y = _quad_problem(62, 200, 40, 2)
    note = _quad_dense_note(my_gradient, [U, x, y], 200, 40)
    if note:
        messages.append(note)
    return Feedback(label, True, messages)


# --------------------------------------------------------------------------------------------
# Chapter 3 (over-parameterisation): ex-ch3-gaussian and ex-ch3-conjecture

__all__ += ["check_gaussian_start", "check_conjecture"]


def _batch_problem(label, key, run, min_runs):
    """A failing Feedback unless ``run`` is a batched Run (at least ``min_runs`` alphas)."""
    if not all(hasattr(run, a) for a in ("U", "loss", "error", "eigenvalues", "alpha")):
        return _fail(label, "not-a-run", f"{key} is a {type(run).__name__}, expected the Run "
                                         f"returned by qsense.gradient_descent.")
    if np.ndim(run.U) != 3 or run.alpha is None or np.ndim(run.alpha) != 1 \
            or len(run.alpha) < min_runs:
        return _fail(label, "not-batched",
                     f"{key} should be one batched run over at least {min_runs} initial scales: "
                     f"pass an array, alpha=np.array([1e-1, 1e-4, 1e-7]), not a single number "
                     f"(and not U0=...).")
    return None


def _gram_is_scaled_identity(run) -> np.ndarray:
    """Per run of a batch: does U_0 U_0^T equal alpha^2 I (identity or orthogonal start)?"""
    lam0 = run.eigenvalues[:, 0, :]                       # eigenvalues of U_0 U_0^T
    a2 = np.asarray(run.alpha, dtype=float)[:, None] ** 2
    return np.all(np.abs(lam0 - a2) <= 1e-8 * a2, axis=1)


@exercise_check("ex-ch3-gaussian")
def check_gaussian_start(gauss, ident) -> Feedback:
    r"""Check the two batched runs of the exercise on a Gaussian start.

    Parameters
    ----------
    gauss, ident : qsense.descent.Run
        Batched runs over the same initial scales :math:`\alpha` (an array, several decades, down
        to :math:`10^{-5}` or below), same data, :math:`\eta` and number of steps, started from
        :math:`U_0 = \alpha G` with :math:`G` Gaussian (``init="gaussian"``) and from
        :math:`U_0 = \alpha I`, with ``target=`` the truth.

    Returns
    -------
    Feedback
        Diagnoses: ``not-a-run``, ``not-batched``, ``different-alphas``, ``different-steps``,
        ``alpha-too-large``, ``ident-not-identity``, ``not-gaussian-init``, ``no-target``,
        ``not-recovered``.
    """
    label = "ex-ch3-gaussian"
    for key, run in (("gauss", gauss), ("ident", ident)):
        bad = _batch_problem(label, key, run, 2)
        if bad is not None:
            return bad
    a_g, a_i = np.asarray(gauss.alpha, float), np.asarray(ident.alpha, float)
    if a_g.shape != a_i.shape or not np.allclose(a_g, a_i, rtol=1e-12):
        return _fail(label, "different-alphas",
                     f"gauss and ident use different initial scales ({a_g} and {a_i}): pass the "
                     f"same alpha array to both, so each Gaussian run has an identity twin.")
    if gauss.loss.shape[-1] != ident.loss.shape[-1] or \
            not np.allclose(np.asarray(gauss.eta, float), np.asarray(ident.eta, float)):
        return _fail(label, "different-steps",
                     f"gauss and ident differ in the number of steps ({gauss.loss.shape[-1] - 1} "
                     f"and {ident.loss.shape[-1] - 1}) or in eta: use the same `steps` and `eta` "
                     f"so that only the shape of the start differs.")
    if a_g.min() > 1e-4:
        return _fail(label, "alpha-too-large",
                     f"the smallest alpha is {a_g.min():.0e}: to see the limit alpha -> 0 the "
                     f"scales must reach 1e-5 or below (e.g. np.array([1e-1, 1e-4, 1e-7])).")
    if not np.all(_gram_is_scaled_identity(ident)):
        return _fail(label, "ident-not-identity",
                     "ident does not start from U_0 = alpha I (its U_0 U_0^T is not alpha^2 I): "
                     "drop init= (the default is the identity) and U0= from that call. Did you "
                     "swap the two arguments? The order is check_gaussian_start(gauss, ident).")
    if np.any(_gram_is_scaled_identity(gauss)):
        return _fail(label, "not-gaussian-init",
                     "gauss starts from U_0 with U_0 U_0^T = alpha^2 I, which is the identity (or "
                     "an orthogonal) start, and by the orthogonal-start exercise gives the same "
                     "runs: pass init=\"gaussian\" and a seed.")
    if gauss.error is None or ident.error is None:
        return _fail(label, "no-target", "a run has no error history: pass target=truth to "
                                         "qsense.gradient_descent in both calls.")
    i_min = int(np.argmin(a_g))
    err = gauss.error[i_min, -1]
    if not err < 1e-2:
        return _fail(label, "not-recovered",
                     f"from the smallest alpha ({a_g[i_min]:.0e}) the Gaussian start ends at "
                     f"relative error {err:.2g}; it should recover X_star (error < 1e-2). Check "
                     f"the final loss: if it has not fallen by orders of magnitude, the run needs "
                     f"more steps (the chapter uses 3000 with eta = 0.1).")
    return Feedback(label, True, [f"from alpha = {a_g[i_min]:.0e} the Gaussian start ends at "
                                  f"error {err:.0e} (identity start: "
                                  f"{ident.error[i_min, -1]:.0e})."])


@exercise_check("ex-ch3-conjecture")
def check_conjecture(op, y, convex, runs) -> Feedback:
    r"""Check the mini-project on where Gunasekar et al.'s conjecture bites.

    Parameters
    ----------
    op : qsense.sensing.SensingOperator
        The operator :math:`\mathcal A` with the :math:`m = 60` measurements (``first(60)``).
    y : ndarray (m,)
        Its data :math:`y = \mathcal A(X_\star)`.
    convex : qsense.baselines.ConvexSolution or ndarray (d, d)
        The minimum nuclear-norm PSD interpolant :math:`X_{\mathrm{cvx}}` of
        :math:`(\mathcal A, y)`.
    runs : qsense.descent.Run
        Factorised gradient descent on :math:`(\mathcal A, y)` from :math:`U_0 = \alpha I`, batched
        over small :math:`\alpha` (down to :math:`10^{-5}` or below), with ``target=`` the truth.

    Returns
    -------
    Feedback
        Diagnoses: ``not-an-operator``, ``data-mismatch``, ``wrong-m``, ``not-a-matrix``,
        ``convex-infeasible``, ``convex-not-psd``, ``convex-not-minimal``, ``not-a-run``,
        ``not-batched``, ``alpha-too-large``, ``different-data``, ``not-converged``,
        ``no-target``.
    """
    from .baselines import min_nuclear_norm
    from .descent import loss_and_gradient

    label = "ex-ch3-conjecture"
    if not all(hasattr(op, a) for a in ("m", "d", "measure")):
        return _fail(label, "not-an-operator",
                     f"op is a {type(op).__name__}, expected the sensing operator op60 = "
                     f"first(60). The order is check_conjecture(op60, y60, convex60, runs60).")
    y = np.asarray(y, dtype=float)
    if y.shape != (op.m,):
        return _fail(label, "data-mismatch",
                     f"y has shape {y.shape}, but op has {op.m} measurements: use "
                     f"y60 = op60.measure(truth.X), the data of the same operator.")
    if op.m != 60:
        return _fail(label, "wrong-m",
                     f"op has m = {op.m} measurements; the exercise is at m = 60 (op60 = "
                     f"first(60)), below the m where the convex relaxation recovers X_star. At "
                     f"larger m the convex optimum is X_star and the comparison says nothing.")
    X = getattr(convex, "X", convex)
    if not isinstance(X, np.ndarray) or X.shape != (op.d, op.d):
        return _fail(label, "not-a-matrix",
                     f"convex should be the result of baselines.min_nuclear_norm(op60, y60) (or "
                     f"its (d, d) matrix .X), got {type(convex).__name__}.")
    X = (X + X.T) / 2
    residual = np.linalg.norm(op.measure(X) - y) / np.linalg.norm(y)
    if residual > 1e-4:
        return _fail(label, "convex-infeasible",
                     f"convex does not fit the m = 60 measurements (relative residual "
                     f"{residual:.1e}): it was solved for other data. Call "
                     f"baselines.min_nuclear_norm(op60, y60), with y60 = op60.measure(truth.X).")
    scale = max(1.0, np.abs(X).max())
    if np.linalg.eigvalsh(X)[0] < -1e-6 * scale:
        return _fail(label, "convex-not-psd",
                     "convex fits the data but has negative eigenvalues, so it is not the "
                     "minimum nuclear-norm PSD interpolant (the minimum-Frobenius interpolant "
                     "looks like this): use baselines.min_nuclear_norm.")
    best = min_nuclear_norm(op, y).nuclear_norm
    if np.trace(X) > best * (1 + 1e-4):
        return _fail(label, "convex-not-minimal",
                     f"convex is a PSD interpolant, but its trace {np.trace(X):.5f} exceeds the "
                     f"minimum {best:.5f}: projected descent and factorised descent return PSD "
                     f"interpolants too, not the convex optimum. Use baselines.min_nuclear_norm.")
    bad = _batch_problem(label, "runs", runs, 2)
    if bad is not None:
        return bad
    alphas = np.asarray(runs.alpha, dtype=float)
    if alphas.min() > 1e-4:
        return _fail(label, "alpha-too-large",
                     f"the smallest alpha is {alphas.min():.0e}: the conjecture is about "
                     f"alpha -> 0, so go down to 1e-5 or below (say 1e-4, 1e-5, 1e-6).")
    start = np.array([loss_and_gradient(op, y, a * np.eye(op.d))[0] for a in alphas])
    if runs.U.shape[1:] != (op.d, op.d) or \
            not np.allclose(runs.loss[:, 0], start, rtol=1e-9, atol=1e-14):
        return _fail(label, "different-data",
                     "runs did not start from U_0 = alpha I on (op60, y60): its initial loss is "
                     "not f(alpha I) for these data. Run qsense.gradient_descent(op60, y60, ...) "
                     "with the default init.")
    drop = runs.loss[:, -1] / runs.loss[:, 0]
    if not np.all(drop < 1e-6):
        return _fail(label, "not-converged",
                     f"some runs have not fitted the data (final loss / initial loss up to "
                     f"{drop.max():.1e}): from a small alpha gradient descent needs more steps to "
                     f"leave the origin; use 4000 steps with eta = 0.1.")
    if runs.error is None:
        return _fail(label, "no-target", "runs has no error history: pass target=truth.")
    i = int(np.argmin(alphas))
    dist = np.linalg.norm(runs.X[i] - X) / np.linalg.norm(X)
    return Feedback(label, True, [f"the convex optimum and the runs are right. From alpha = "
                                  f"{alphas[i]:.0e}: error to X_star {runs.error[i, -1]:.2g}, "
                                  f"distance to the convex optimum {dist:.2g}."])


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
