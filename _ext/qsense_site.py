"""Serve every browser asset the site needs from the site itself (no CDN).

The assets come from the npm registry at build time: ``package.json`` / ``package-lock.json`` pin
them and ``npm ci`` (run by ``make book`` / ``make test``) installs them into ``node_modules/``.
This extension copies the few files a page needs into ``_static/vendor/`` of the built site and
rewrites the one CDN link that executed notebook output carries (matplotlib's JS animation player
links Font Awesome 4 from a CDN).  ``_config.yml`` points MathJax (``mathjax_path``) and the widget
manager (``nb_ipywidgets_js``) at these copies.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

# (folder in node_modules, folder under _static/vendor, files to copy: glob patterns)
VENDOR = [
    ("mathjax/es5", "mathjax", ["**/*"]),
    ("requirejs", "requirejs", ["require.js"]),
    # Under npm/<package>/dist: the manager finds its fonts there, relative to require.js's
    # baseUrl, which widgets-setup.js sets to _static/vendor/npm/.
    ("@jupyter-widgets/html-manager/dist", "npm/@jupyter-widgets/html-manager/dist",
     ["embed-amd.js", "*.woff2", "*.woff", "*.ttf", "*.eot", "*.svg"]),
    ("font-awesome", "font-awesome", ["css/font-awesome.min.css", "fonts/*"]),
]

# A CDN stylesheet found in notebook output -> its local copy under _static/vendor.
CDN_REWRITES = {
    re.compile(r"https?://[^\"']*/font-awesome/4\.\d+\.\d+/css/font-awesome(\.min)?\.css"):
        "font-awesome/css/font-awesome.min.css",
}

HELP = ("The site's browser assets are missing: {missing}. They come from the npm registry; "
        "run `npm ci` in {root} (`make book` and `make test` do it).")


def _node_modules(app: Sphinx) -> Path:
    return Path(app.srcdir) / "node_modules"


# Our own small scripts, copied next to the vendored files (not in _static/, where Jupyter Book
# would load every .js on every page).
OWN = [("widgets-setup.js", "qsense-widgets-setup.js")]


def check_assets(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    nm = _node_modules(app)
    missing = [src for src, _, _ in VENDOR if not (nm / src).is_dir()]
    if missing:
        raise ExtensionError(HELP.format(missing=", ".join(missing), root=app.srcdir))


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    nm = _node_modules(app)
    dest_root = Path(app.outdir) / "_static" / "vendor"
    for src, dest, patterns in VENDOR:
        for pattern in patterns:
            for path in sorted((nm / src).glob(pattern)):
                if not path.is_file():
                    continue
                target = dest_root / dest / path.relative_to(nm / src)
                st = path.stat()
                if target.exists() and target.stat().st_size == st.st_size \
                        and target.stat().st_mtime >= st.st_mtime:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    for src, dest in OWN:
        shutil.copy2(Path(__file__).with_name(src), dest_root / dest)


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                   doctree) -> None:
    """Drop repeated identical <script> entries.

    sphinx-thebe's ``init_thebe_core`` runs on ``env-before-read-docs``, which Jupyter Book fires
    twice (once with filename None, once with '', so Sphinx's own de-duplication misses it): every
    page got ``const THEBE_JS_URL = ...`` twice and the browser reported "Identifier
    'THEBE_JS_URL' has already been declared".  Identical scripts are kept once, at the first place.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted((k, str(v)) for k, v in
                                     getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # in place: other handlers append per-page scripts to this very list


def rewrite_cdn_links(app: Sphinx, pagename: str, templatename: str, context: dict,
                      doctree) -> None:
    body = context.get("body")
    if not body:
        return
    for pattern, local in CDN_REWRITES.items():
        body = pattern.sub(context["pathto"]("_static/vendor/" + local, 1), body)
    context["body"] = body


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", check_assets)
    app.connect("html-page-context", rewrite_cdn_links)
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", dedupe_scripts, priority=400)
    app.connect("build-finished", copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
