"""Checks on the built HTML site (run after `jupyter-book build`; marker `site`)."""
import re
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from bs4 import BeautifulSoup

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_PATH = urlparse(CONFIG["repository"]["url"]).path.strip("/")  # e.g. "org/qsense"
TOC_FILES = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text()) + [
    re.search(r"root:\s*(\S+)", (ROOT / "_toc.yml").read_text()).group(1)]
NOTEBOOK_PAGES = [f for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]


def page(name: str) -> BeautifulSoup:
    path = HTML / f"{name}.html"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the book first (make build-strict)")
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def article(soup):
    main = soup.find("article") or soup.find("main")
    assert main is not None, "page has no <article>/<main>"
    return main


def visible_text_outside_math(node) -> str:
    node = BeautifulSoup(str(node), "html.parser")
    for tag in node.select(".math, pre, code, script, style, .highlight, .output, .cell_output"):
        tag.decompose()
    return node.get_text(" ")


def tracked_files() -> set[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_every_toc_page_was_built():
    for name in TOC_FILES:
        assert (HTML / f"{name}.html").exists(), f"{name}.html missing"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_chapter_has_figures(name):
    imgs = article(page(name)).find_all("img")
    assert len(imgs) >= 2, f"{name}: only {len(imgs)} figures"
    for img in imgs:
        src = img.get("src", "")
        if not src.startswith("data:"):
            assert (HTML / Path(name).parent / src).resolve().exists(), f"{name}: broken image {src}"


@pytest.mark.parametrize("name", TOC_FILES)
def test_math_is_marked_up_and_no_raw_dollars_remain(name):
    body = article(page(name))
    text = visible_text_outside_math(body)
    raw = re.findall(r"\$[^$\n]{1,80}\$", text)
    assert not raw, f"{name}: raw TeX left in text: {raw[:3]}"
    assert "\\(" not in text and "\\[" not in text, f"{name}: unprocessed math delimiters"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_chapter_has_rendered_math(name):
    assert len(article(page(name)).select(".math")) >= 10


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_solutions_are_collapsed_dropdowns(name):
    body = article(page(name))
    exercises = body.select("div.exercise")
    solutions = body.select("div.solution")
    assert len(exercises) >= 3, f"{name}: {len(exercises)} exercises"
    assert len(solutions) >= len(exercises), f"{name}: exercises without solutions"
    for sol in solutions:
        assert "dropdown" in sol.get("class", []), f"{name}: a solution is not a dropdown"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_glued_numbers_were_filled_in(name):
    body = article(page(name))
    assert body.select("span.pasted-text"), f"{name}: no glued numbers"
    text = body.get_text(" ")
    assert "glue:text" not in text and "{glue" not in text


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_launch_links_name_the_repository_and_an_existing_notebook(name):
    links = [a["href"] for a in page(name).find_all("a", href=True)
             if "mybinder.org" in a["href"] or "colab.research.google.com" in a["href"]]
    assert len(links) >= 2, f"{name}: Binder and Colab launch links missing"
    files = tracked_files()
    for href in links:
        assert REPO_PATH in href, f"{href} does not name {REPO_PATH}"
        nb = re.search(r"(chapters/[\w\-.]+\.ipynb)", href)
        assert nb, f"{href} does not point at a notebook"
        assert nb.group(1) in files, f"{href}: {nb.group(1)} is not tracked by git"


def test_no_hidden_check_cells_leak_onto_the_site():
    for name in NOTEBOOK_PAGES:
        text = article(page(name)).get_text(" ")
        assert "qsense-setup" not in text and "%pip install" not in text


def test_bibliography_lists_the_paper():
    text = article(page("chapters/bibliography")).get_text(" ").lower()
    assert "algorithmic regularization in over-parameterized matrix sensing" in text
