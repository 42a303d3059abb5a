"""Keep every notebook's set-up cell in line with the one repository setting in _config.yml.

    python scripts/sync_repo.py          rewrite the set-up cells
    python scripts/sync_repo.py --check  exit 1 (listing the notebooks) if any cell disagrees

The set-up cell is the code cell tagged ``qsense-setup``; Colab runs it, the site hides it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "qsense-setup"


def repository() -> tuple[str, str]:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = cfg["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_source(url: str, branch: str) -> str:
    return (
        "# Set-up for Colab and other fresh kernels: installs qsense when it is missing.\n"
        "# (The course site and Binder already have it; this cell is hidden on the site.)\n"
        "try:\n"
        "    import qsense\n"
        "except ImportError:\n"
        f'    %pip install --quiet "qsense @ git+{url}@{branch}"'
    )


def setup_cell(url: str, branch: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": "qsense-setup",
            "metadata": {"tags": ["remove-cell", TAG]}, "outputs": [],
            "source": setup_source(url, branch)}


def notebooks():
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def main(argv: list[str]) -> int:
    url, branch = repository()
    want = setup_source(url, branch)
    stale = []
    for path in notebooks():
        nb = json.loads(path.read_text())
        cells = [c for c in nb["cells"] if TAG in c.get("metadata", {}).get("tags", [])]
        source = "".join(cells[0]["source"]) if cells else None
        if source == want:
            continue
        stale.append(path)
        if "--check" not in argv:
            if cells:
                cells[0]["source"] = want
            else:
                nb["cells"].insert(0, setup_cell(url, branch))
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    if "--check" in argv and stale:
        print("set-up cell missing or out of date (run `make sync-repo`):")
        for p in stale:
            print("  " + str(p.relative_to(ROOT)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
