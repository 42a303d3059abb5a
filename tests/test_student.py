"""The student edition (scripts/make_student.py) and the exercise convention.

Fast tests (run with the unit tests) convert the notebooks into a temporary folder. Tests marked
``student`` inspect the executed student edition and its site in ``_build/student`` (``make
student`` first).
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import exercises  # noqa: E402
import make_student  # noqa: E402

NOTEBOOKS = exercises.toc_notebooks()
STUDENT = ROOT / "_build" / "student"
FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}\s*(.*)$")


def solution_and_kept_lines(nb):
    """Split an instructor notebook's lines into solution content and everything else.

    Written independently of make_student.py: a line-by-line reading of the convention.
    """
    solution, kept = [], []
    gate, directive_fence = False, None
    for cell in nb["cells"]:
        lines = "".join(cell["source"]).splitlines()
        if cell["cell_type"] == "markdown":
            for line in lines:
                m = FENCE.match(line)
                if directive_fence:                       # inside a {solution} directive
                    solution.append(line)
                    if re.fullmatch(rf"{re.escape(directive_fence)}\s*", line):
                        directive_fence = None
                elif m and m.group(2) == "solution":
                    directive_fence = m.group(1)
                    solution.append(line)
                elif m and m.group(2) == "solution-start":
                    gate = True
                elif m and m.group(2) == "solution-end":
                    gate = False
                else:
                    (solution if gate else kept).append(line)
        else:
            marked = any("### BEGIN SOLUTION" in line for line in lines)
            inside = False
            for line in lines:
                if "### BEGIN SOLUTION" in line:
                    inside = True
                elif "### END SOLUTION" in line:
                    inside = False
                elif inside or (gate and not marked):
                    solution.append(line)
                else:
                    kept.append(line)
    return solution, kept


def significant(lines, kept):
    kept = {k.strip() for k in kept}
    return {s.strip() for s in lines
            if len(s.strip()) >= 12 and s.strip() not in kept and not FENCE.match(s.strip())
            and not s.strip().startswith(":")}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student.py"),
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def text_of(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"])


def test_the_exercise_convention_holds_and_the_guide_is_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "exercises.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_chapter_has_a_coding_exercise_with_a_check_and_a_quiz():
    for path in NOTEBOOKS:
        ch = exercises.chapter_exercises(path)
        assert any(e["kind"] == "coding" and e["checks"] for e in ch["exercises"]), path.name
        nb = json.loads(path.read_text())
        assert "## Self-check quiz" in text_of(nb), f"{path.name} has no self-check quiz"
        assert any("quiz.show(" in "".join(c["source"]) and
                   "remove-input" in c["metadata"].get("tags", [])
                   for c in nb["cells"] if c["cell_type"] == "code"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_student_edition_contains_no_solution_text_or_code(edition, path):
    nb = json.loads(path.read_text())
    solution, kept = solution_and_kept_lines(nb)
    needles = significant(solution, kept)
    assert len(needles) >= 10, "too few solution lines found: the test would be vacuous"
    student = text_of(json.loads((edition / "chapters" / path.name).read_text()))
    leaked = sorted(n for n in needles if n in student)
    assert not leaked, f"solution content in the student edition: {leaked[:5]}"
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "{solution", "solution-check"):
        assert marker not in student


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_student_edition_keeps_everything_else(edition, path):
    nb = json.loads(path.read_text())
    _, kept = solution_and_kept_lines(nb)
    student = text_of(json.loads((edition / "chapters" / path.name).read_text()))
    missing = [k for k in kept if k.strip() and k.strip() not in student]
    assert not missing, f"lost from the student edition: {missing[:5]}"
    for ex in exercises.chapter_exercises(path)["exercises"]:
        assert f":label: {ex['label']}" in student


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_solution_region_becomes_a_tagged_stub_naming_its_exercise(edition, path):
    nb = json.loads(path.read_text())
    n_regions = text_of(nb).count("### BEGIN SOLUTION")
    labels = {e["label"] for e in exercises.chapter_exercises(path)["exercises"]
              if e["kind"] == "coding"}
    student = json.loads((edition / "chapters" / path.name).read_text())
    stubs = [c for c in student["cells"] if "raise NotImplementedError" in "".join(c["source"])]
    assert sum("".join(c["source"]).count("raise NotImplementedError") for c in stubs) == n_regions
    named = set()
    for c in stubs:
        assert "raises-exception" in c["metadata"]["tags"]
        named |= set(re.findall(r'NotImplementedError\("exercise ([\w-]+):',
                                "".join(c["source"])))
    assert named == labels


def test_the_student_book_drops_the_instructor_guide_and_launch_buttons(edition):
    import yaml
    toc = (edition / "_toc.yml").read_text()
    assert "instructor_guide" not in toc and not (edition / "chapters" /
                                                  "instructor_guide.md").exists()
    config = yaml.safe_load((edition / "_config.yml").read_text())
    assert not config["launch_buttons"]["colab_url"] and not config["launch_buttons"]["thebe"]
    assert config["bibtex_bibfiles"] == ["chapters/references.bib"]
    assert (edition / "chapters" / "references.bib").exists()
    for page in (edition / "chapters").glob("*.*"):
        if page.suffix in (".md", ".ipynb"):
            assert "instructor_guide" not in page.read_text(), f"{page.name} links the guide"


def test_stubbing_keeps_indentation_and_rejects_an_unclosed_region():
    src = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nf()\n"
    out = make_student.stub_solution_regions(src, "ex-x")
    assert "return 1" not in out and '    raise NotImplementedError("exercise ex-x' in out
    compile(out, "<stub>", "exec")
    with pytest.raises(ValueError, match="without"):
        make_student.stub_solution_regions("### BEGIN SOLUTION\nx = 1\n", "ex-x")


def test_solution_checks_and_dependent_cells_are_handled():
    cell = lambda src, tags=(): {"cell_type": "code", "metadata": {"tags": list(tags)},
                                 "source": src, "outputs": [], "execution_count": None}
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source":
            "```{exercise} T\n:label: ex-a\n\nDo it.\n```\n\n```{solution} ex-a\n:class: dropdown\n\nSecret.\n```\n"},
        cell("### BEGIN SOLUTION\nans = 1\n### END SOLUTION\nprint(ans)"),
        cell("assert ans == 1", ["remove-cell", "solution-check"]),
        cell("print(ans + 1)", ["exercise-dependent"]),
        cell("print('independent')"),
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = make_student.student_notebook(nb)
    srcs = ["".join(c["source"]) for c in out["cells"]]
    assert "Secret." not in "\n".join(srcs) and "Do it." in srcs[0]
    assert not any("assert ans" in s for s in srcs)
    assert out["cells"][2]["metadata"]["tags"] == ["exercise-dependent", "raises-exception"]
    assert "raises-exception" not in out["cells"][3]["metadata"]["tags"]


# --- the executed student edition and its site (after `make student`) ----------------------

def student_built():
    if not (STUDENT / "_build" / "html").exists():
        pytest.fail("the student edition is not built: run `make student` first")


@pytest.mark.student
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebooks_run_with_only_the_stubs_failing(path):
    student_built()
    nb = json.loads((STUDENT / "chapters" / path.name).read_text())
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        assert c.get("execution_count"), f"cell {i} did not run"
        errors = [o for o in c["outputs"] if o["output_type"] == "error"]
        tags = c["metadata"].get("tags", [])
        if "raise NotImplementedError" in "".join(c["source"]):
            assert len(errors) == 1 and errors[0]["ename"] == "NotImplementedError", f"cell {i}"
            assert re.search(r"exercise ex-[\w-]+", errors[0]["evalue"])
        elif "exercise-dependent" not in tags:
            assert not errors, f"cell {i} failed: {errors[0]['ename']}: {errors[0]['evalue']}"


@pytest.mark.student
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_site_has_the_exercises_and_quiz_but_no_solutions(path):
    from bs4 import BeautifulSoup
    student_built()
    page = STUDENT / "_build" / "html" / "chapters" / f"{path.stem}.html"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    body = soup.find("article") or soup.find("main")
    n_ex = len(exercises.chapter_exercises(path)["exercises"])
    assert len(body.select("div.exercise")) == n_ex
    assert not body.select("div.solution")
    text = body.get_text(" ")
    solution, kept = solution_and_kept_lines(json.loads(path.read_text()))
    prose = [s for s in significant(solution, kept) if re.fullmatch(r"[A-Za-z ,.:;'()-]{25,}", s)]
    assert not [p for p in prose if p in text]
    assert "jupyterquiz" in str(soup) or "questions" in str(soup.select("script"))
