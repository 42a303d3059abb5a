"""Write the student edition of the course: the same book without solutions.

    python scripts/make_student.py [--out _build/student] [--execute]

From the instructor notebooks in chapters/ it writes, under OUT, a complete book (``_config.yml``,
``_toc.yml``, the Markdown pages, ``references.bib`` and the notebooks) that builds with
``jupyter-book build OUT``. In each notebook

* every ``{solution}`` directive is removed from the Markdown;
* everything between ``{solution-start}`` and ``{solution-end}`` is removed (the explanation and
  any code cell in between, including hidden cells that check the solution), EXCEPT code cells
  that contain nbgrader markers: in those, each ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
  region becomes a stub that raises ``NotImplementedError`` naming the exercise, the rest of the
  cell (for example the call of the ``qsense.checks`` function) is kept, and the cell is tagged
  ``raises-exception`` (nbval and myst-nb then expect the error);
* code cells tagged ``solution-check`` are removed wherever they are (hidden checks of a solution
  that sit outside a gated solution); code cells tagged ``exercise-dependent`` (they use what a
  student writes) get ``raises-exception`` too;
* everything else is kept as it is.

With ``--execute`` each student notebook is run once (nbclient, a fresh ``python3`` kernel) and
saved with its outputs; any error other than in a ``raises-exception`` cell stops the script. The
student book then excludes the notebooks from execution, so ``jupyter-book build OUT`` renders
those outputs instead of running the notebooks again (the Markdown pages with code still run).

The instructor guide is left out of the student table of contents, and the launch and repository
buttons are switched off (they would open the instructor notebooks).
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR_ONLY = {"chapters/instructor_guide"}

FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")


def stub(indent: str, label: str) -> list[str]:
    return [f"{indent}# YOUR CODE HERE (exercise {label}; see its text above)\n",
            f'{indent}raise NotImplementedError("exercise {label}: replace this line with '
            f'your solution")\n']


def stub_solution_regions(source: str, label: str) -> str:
    """Replace every BEGIN/END SOLUTION region of a code cell by a stub."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        m = BEGIN.match(line)
        if m and not inside:
            inside = True
            out.extend(stub(m.group("indent"), label))
        elif END.match(line) and inside:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"exercise {label}: '### BEGIN SOLUTION' without '### END SOLUTION'")
    return "".join(out)


def directive_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the directive opened at ``start`` (or len(lines))."""
    close = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    depth = 0
    for j in range(start + 1, len(lines)):
        m = FENCE_OPEN.match(lines[j].rstrip("\n"))
        if m and m.group("fence")[0] == fence[0] and len(m.group("fence")) == len(fence):
            depth += 1
        elif close.match(lines[j].rstrip("\n")):
            if depth == 0:
                return j
            depth -= 1
    return len(lines)


def directive_label(lines: list[str], start: int, end: int) -> str | None:
    for line in lines[start + 1:end]:
        m = re.match(r"^:label:\s*(\S+)", line)
        if m:
            return m.group(1)
        if not line.startswith(":"):
            break
    return None


class Converter:
    """Walks a notebook's cells in order, tracking the current exercise and gated solution."""

    def __init__(self, name: str):
        self.name = name
        self.exercise = None   # label of the last exercise seen
        self.gate = None       # label of the open {solution-start}, if any

    def markdown(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        out, i = [], 0
        while i < len(lines):
            m = FENCE_OPEN.match(lines[i].rstrip("\n"))
            name = m.group("name") if m else None
            if self.gate is not None:
                if name == "solution-end":
                    i = directive_end(lines, i, m.group("fence")) + 1
                    self.gate = None
                    continue
                i += 1
                continue
            if name in ("exercise", "exercise-start"):
                end = directive_end(lines, i, m.group("fence"))
                self.exercise = directive_label(lines, i, end) or self.exercise
            if name == "solution":
                i = directive_end(lines, i, m.group("fence")) + 1
                continue
            if name == "solution-start":
                self.gate = m.group("arg").strip() or self.exercise
                i = directive_end(lines, i, m.group("fence")) + 1
                continue
            out.append(lines[i])
            i += 1
        return "".join(out).strip("\n")

    def code(self, cell: dict) -> dict | None:
        tags = list(cell.get("metadata", {}).get("tags", []))
        source = "".join(cell["source"])
        if any(BEGIN.match(line) for line in source.splitlines()):
            label = self.gate or self.exercise
            if label is None:
                raise ValueError(f"{self.name}: solution markers before any exercise")
            cell = copy.deepcopy(cell)
            cell["source"] = stub_solution_regions(source, label)
            cell["metadata"]["tags"] = tags + [t for t in ("raises-exception",) if t not in tags]
            return cell
        if self.gate is not None or "solution-check" in tags:
            return None
        if "exercise-dependent" in tags:
            cell = copy.deepcopy(cell)
            cell["metadata"]["tags"] = tags + ["raises-exception"]
        return cell


def student_notebook(nb: dict, name: str = "notebook") -> dict:
    """The student edition of one instructor notebook (a new dict; ``nb`` is not changed)."""
    conv = Converter(name)
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = conv.markdown("".join(cell["source"]))
            if text.strip():
                cells.append({**copy.deepcopy(cell), "source": unlink_instructor_pages(text)})
        elif cell["cell_type"] == "code":
            kept = conv.code(cell)
            if kept is not None:
                cells.append(kept)
        else:
            cells.append(copy.deepcopy(cell))
    if conv.gate is not None:
        raise ValueError(f"{name}: {{solution-start}} {conv.gate} has no {{solution-end}}")
    out = copy.deepcopy({k: v for k, v in nb.items() if k != "cells"})
    out["cells"] = cells
    return out


GUIDE_LINK = re.compile(r"\{doc\}`(?:[^`<]*<)?(?:/chapters/)?instructor_guide>?`")


def unlink_instructor_pages(text: str) -> str:
    """Links to the instructor guide become plain text (the page is not in the student book)."""
    return GUIDE_LINK.sub("*Instructor guide* (in the full edition of the course)", text)


def filter_toc(node):
    """Drop instructor-only pages from a _toc.yml structure."""
    if isinstance(node, dict):
        return {k: filter_toc(v) for k, v in node.items()}
    if isinstance(node, list):
        return [filter_toc(x) for x in node
                if not (isinstance(x, dict) and x.get("file") in INSTRUCTOR_ONLY)]
    return node


def student_config(config: dict) -> dict:
    config = copy.deepcopy(config)
    config["title"] = config.get("title", "") + " (student edition)"
    config["launch_buttons"] = {"notebook_interface": "classic", "binderhub_url": "",
                                "colab_url": "", "thebe": False}
    html = config.setdefault("html", {})
    html["use_repository_button"] = False
    html["use_issues_button"] = False
    return config


def execute(path: Path, timeout: int = 600) -> None:
    """Run a notebook in place in a fresh kernel; errors are allowed only in raises-exception cells."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "student"))
    parser.add_argument("--execute", action="store_true",
                        help="run each student notebook once and keep its outputs")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    if out == ROOT or ROOT not in out.parents and not str(out).startswith("/tmp"):
        print(f"refusing to write the student edition to {out}", file=sys.stderr)
        return 2
    if out.exists():
        shutil.rmtree(out)
    (out / "chapters").mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config = student_config(config)
    if args.execute:
        # The notebooks keep the outputs of their one run; the Markdown pages still execute.
        config.setdefault("execute", {})["exclude_patterns"] = ["chapters/*.ipynb"]
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    (out / "_toc.yml").write_text(yaml.safe_dump(filter_toc(toc), sort_keys=False))
    # The site's own extension and static files, and the browser assets it serves (MathJax,
    # require.js, ...), so that the student site is as self-contained as the course site.
    for folder in ("_ext", "_static"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, out / folder,
                            ignore=shutil.ignore_patterns("__pycache__"))
    if (ROOT / "node_modules").is_dir():
        (out / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    for path in sorted((ROOT / "chapters").iterdir()):
        rel = f"chapters/{path.stem}"
        if path.is_dir() or rel in INSTRUCTOR_ONLY:
            continue
        if path.suffix == ".ipynb":
            nb = student_notebook(json.loads(path.read_text()), path.name)
            (out / "chapters" / path.name).write_text(
                json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        elif path.suffix == ".md":
            (out / "chapters" / path.name).write_text(unlink_instructor_pages(path.read_text()))
        else:
            shutil.copy2(path, out / "chapters" / path.name)
    if args.execute:
        for path in sorted((out / "chapters").glob("*.ipynb")):
            print(f"executing {path.name}")
            execute(path)
    print(f"student edition written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
