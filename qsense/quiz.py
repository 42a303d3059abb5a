r"""Self-check quizzes that work on the static course page, with no kernel.

A thin, validating layer over `jupyterquiz <https://pypi.org/project/jupyterquiz/>`_: the quiz is
rendered into the cell's output as HTML plus JavaScript (the question data and the quiz code are
embedded, nothing is fetched), so it works in the built HTML site, in Jupyter and in Colab.

Build the questions with :func:`multiple_choice` and :func:`numeric` (they check the question is
well formed, so a broken quiz fails the book build rather than the reader) and show them with
:func:`show`::

    from qsense import quiz
    quiz.show([
        quiz.multiple_choice("Which ...?", [("right", True, "Because ..."),
                                            ("wrong", False, "No: ...")]),
        quiz.numeric("How many ...?", value=5050, tol=0, explanation="d(d+1)/2 = 5050."),
    ])

Markdown and ``$...$`` maths are allowed in questions, answers and explanations.
"""
from __future__ import annotations

import numbers

__all__ = ["multiple_choice", "numeric", "show"]


def _text(value, name):
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    return value


def multiple_choice(question: str, answers) -> dict:
    """A multiple-choice question.

    Parameters
    ----------
    question : str
        The question (Markdown, ``$...$`` maths).
    answers : sequence of (str, bool, str)
        Each answer as (text, is_correct, explanation shown after it is chosen). At least two
        answers, at least one correct; every answer needs an explanation.

    Returns
    -------
    dict
        The question in jupyterquiz's format.
    """
    _text(question, "question")
    answers = list(answers)
    if len(answers) < 2:
        raise ValueError(f"answers: need at least two, got {len(answers)}")
    out = []
    for i, item in enumerate(answers):
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise TypeError(f"answers[{i}] must be (text, is_correct, explanation), got {item!r}")
        text, correct, explanation = item
        if not isinstance(correct, bool):
            raise TypeError(f"answers[{i}]: is_correct must be True or False, got {correct!r}")
        out.append({"answer": _text(text, f"answers[{i}] text"), "correct": correct,
                    "feedback": _text(explanation, f"answers[{i}] explanation")})
    n_correct = sum(a["correct"] for a in out)
    if n_correct == 0:
        raise ValueError("answers: no answer is marked correct")
    return {"question": question, "type": "multiple_choice" if n_correct == 1 else "many_choice",
            "answers": out}


def numeric(question: str, value, tol=0.0, explanation: str = "Correct.",
            hint: str = "Not quite: check your working.", precision: int = 6) -> dict:
    r"""A question with a numeric answer, accepted within an absolute tolerance.

    Parameters
    ----------
    question : str
        The question (Markdown, ``$...$`` maths).
    value : float
        The right answer :math:`v`.
    tol : float, default 0
        Answers in :math:`[v - \mathrm{tol}, v + \mathrm{tol}]` are accepted.
    explanation : str
        Shown after a right answer.
    hint : str
        Shown after a wrong answer.
    precision : int
        Significant digits jupyterquiz keeps when comparing.

    Returns
    -------
    dict
        The question in jupyterquiz's format.
    """
    _text(question, "question")
    for name, v in (("value", value), ("tol", tol)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or v != v:
            raise TypeError(f"{name} must be a real number, got {v!r}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    value, tol = float(value), float(tol)
    if tol == 0:
        right = {"type": "value", "value": value, "correct": True,
                 "feedback": _text(explanation, "explanation")}
    else:
        right = {"type": "range", "range": [value - tol, value + tol], "correct": True,
                 "feedback": _text(explanation, "explanation")}
    wrong = {"type": "default", "feedback": _text(hint, "hint")}
    return {"question": question, "type": "numeric", "precision": int(precision),
            "answers": [right, wrong]}


def show(questions, shuffle_answers: bool = False):
    """Display the quiz in the cell's output (HTML and JavaScript, self-contained).

    Parameters
    ----------
    questions : list of dict
        Questions made by :func:`multiple_choice` and :func:`numeric`.
    shuffle_answers : bool, default False
        Shuffle the multiple-choice answers each time the page loads.
    """
    questions = list(questions)
    if not questions:
        raise ValueError("questions: the quiz is empty")
    for i, q in enumerate(questions):
        if not (isinstance(q, dict) and {"question", "type", "answers"} <= set(q)):
            raise TypeError(f"questions[{i}] is not a question made by multiple_choice or numeric")
    from jupyterquiz import display_quiz  # imported here: only quiz cells need it

    display_quiz(questions, shuffle_answers=shuffle_answers, question_alignment="left",
                 max_width=700)
