"""Notebook hygiene: committed without outputs, kernelspec python3, set-up cell in line with _config.yml."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_python3_kernel(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_table_of_contents(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"chapters/{path.stem}" in toc


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_hidden_checks(path):
    """Quantitative prose is backed by hidden assert cells: each chapter must have some."""
    nb = json.loads(path.read_text())
    hidden_asserts = [c for c in nb["cells"] if c["cell_type"] == "code"
                      and "remove-cell" in c.get("metadata", {}).get("tags", [])
                      and "assert" in "".join(c["source"])]
    assert hidden_asserts, f"{path.name} has no hidden check cells"


def test_setup_cells_match_the_repository_setting():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_repo.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for path in NOTEBOOKS:
        assert url in path.read_text(), f"{path.name} does not name {url}"
