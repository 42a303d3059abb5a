"""The built site as a reader sees it: every page opened in a real headless browser.

Playwright drives Debian's Chromium (``/usr/bin/chromium``; set ``QSENSE_CHROMIUM`` for another
binary) against ``_build/html`` served on 127.0.0.1 (``QSENSE_SITE`` for another folder). For
every page the build produced, and whatever chapters exist, it checks that

- maths is typeset wherever the page has maths, and no raw TeX shows;
- solution drop-downs start closed and open on click;
- JS animation players (``FuncAnimation.to_jshtml``) advance when clicked, with their icons;
- widget views render (no "Error displaying widget");
- there is no console error, no failed request, and no request to any host but the local server;
- the page does not scroll sideways on a 390 px wide screen, and figures get a light background
  in dark mode;

and saves screenshots (light, dark, 390 px) to ``_build/screenshots``. Without Chromium or
Playwright the test is skipped with a message saying how to install them, except under CI
(``CI=true``), where it fails.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.site, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("QSENSE_SITE", ROOT / "_build" / "html")).resolve()
SHOTS = Path(os.environ.get("QSENSE_SCREENSHOTS", ROOT / "_build" / "screenshots")).resolve()
CHROMIUM = os.environ.get("QSENSE_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000

# Console errors that come from an upstream bug, each with a link to the upstream report.
# Keep this list short; an entry needs a link.
KNOWN_CONSOLE_ERRORS: list[tuple[re.Pattern, str]] = []

# Raw TeX that MathJax should have replaced: a control word, \( \) \[ \] delimiters, $$ or $...$.
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\\[()\[\]]|\$\$|\$[^\s$](?:[^$\n]{0,200}?[^\s$\\])?\$")

HOW_TO_INSTALL = (
    "the browser test needs Debian's Chromium and Playwright's Python package: "
    "`apt-get install chromium` (or set QSENSE_CHROMIUM to a Chromium binary) and "
    "`make unit` / `pip install -r requirements-dev.txt` (playwright is in the test extra); "
    "under CI=true this test is mandatory and .ci/run installs Chromium"
)


def _pages() -> list[str]:
    if not SITE.is_dir():
        return []
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not ({"_static", "_sources", "_images"} & set(p.relative_to(SITE).parts[:-1]))
    )


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true: {reason}; {HOW_TO_INSTALL}")
    pytest.skip(f"{reason}; {HOW_TO_INSTALL}")


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make build-strict` (or `make book`) first")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright's Python package is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM}")
    profile = tmp_path_factory.mktemp("chromium-profile")
    shutil.rmtree(SHOTS, ignore_errors=True)  # screenshots of this run only
    with sync_playwright() as pw:
        # A persistent context is the only way to hand Chromium a fresh user-data-dir of ours;
        # each page still gets a page of its own, and storage is cleared between pages.
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=DESKTOP, color_scheme="light", service_workers="block",
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


class Watch:
    """Everything a page did that a reader would suffer from: errors, failures, outside hosts."""

    def __init__(self, page, origin: str):
        self.origin = origin
        self.console: list[str] = []
        self.failed: list[str] = []
        self.outside: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console.append(f"uncaught: {exc}"))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", self._on_response)
        page.on("websocket", lambda ws: self._check_url(ws.url))
        page.route("**/*", self._route)

    def _on_console(self, msg):
        if msg.type != "error":
            return
        text = msg.text
        loc = msg.location or {}
        where = f" [{loc.get('url', '')}:{loc.get('lineNumber', '')}]" if loc.get("url") else ""
        if not any(p.search(text) for p, _ in KNOWN_CONSOLE_ERRORS):
            self.console.append(text + where)

    def _on_response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def _check_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "javascript"):
            return True
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            return True
        self.outside.append(url)
        return False

    def _route(self, route):
        # Record and block anything that is not the local server: the site must need nothing else.
        if self._check_url(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def problems(self) -> list[str]:
        out = [f"console error: {m}" for m in self.console]
        out += [f"request to an outside host: {u}" for u in self.outside]
        # A blocked outside request also shows up as failed; report it once, as outside.
        out += [f"failed request: {f}" for f in self.failed
                if not any(f.startswith(u) for u in self.outside)]
        return list(dict.fromkeys(out))  # each problem once, in order


def _wait_for_mathjax(page) -> str:
    """'' once MathJax has typeset the page, else why not."""
    return page.evaluate(
        """async (ms) => {
            const t0 = Date.now();
            while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
                if (Date.now() - t0 > ms) return "MathJax never loaded (is it served?)";
                await new Promise(r => setTimeout(r, 50));
            }
            try { await MathJax.startup.promise; } catch (e) { return "MathJax failed: " + e; }
            return "";
        }""",
        15_000,
    )


def _check_math(page) -> list[str]:
    problems = []
    n_math = page.locator(".math").count()
    if n_math:
        why = _wait_for_mathjax(page)
        if why:
            return [f"the page has {n_math} maths elements but {why}"]
        bad = page.evaluate(
            """() => [...document.querySelectorAll('.math')]
                   .filter(el => !el.querySelector('mjx-container'))
                   .map(el => el.textContent.trim().slice(0, 80))"""
        )
        problems += [f"maths not typeset: {t!r}" for t in bad]
        errors = page.evaluate(
            """() => [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
                   .map(el => (el.getAttribute('data-mjx-error') || el.textContent).slice(0, 80))"""
        )
        problems += [f"MathJax error: {t!r}" for t in errors]
    # Visible text of the article, without code, outputs of code and typeset maths.
    text = page.evaluate(
        """() => {
            const main = document.querySelector('main') || document.body;
            const copy = main.cloneNode(true);
            copy.querySelectorAll('pre, code, .highlight, mjx-container, script, style, '
                                  + '.cell_output, .output, textarea')
                .forEach(el => el.remove());
            return copy.textContent;
        }"""
    )
    problems += [f"raw TeX visible: {m.group(0)!r} in "
                 f"{text[max(0, m.start() - 40):m.end() + 40]!r}"
                 for m in RAW_TEX.finditer(text)][:5]
    return problems


def _check_dropdowns(page) -> list[str]:
    """Solutions (and any other toggled admonition) start closed and open on a click.

    The first drop-down of a page gets a real mouse click (and a click on its title's text); the
    others a DOM click on their control, checked in one round trip (long chapters have dozens).
    """
    problems = []
    drops = page.locator(".solution.dropdown, .admonition.dropdown")
    if drops.count() == 0:
        return problems
    body_sel = ":scope > *:not(.admonition-title):not(.toggle-button)"
    first = drops.first
    label = first.get_attribute("id") or "drop-down 1"
    body = first.locator(body_sel).first
    if body.count() and not body.is_visible():
        # The drop-down's own control ("Click to show"); the title's text may be a link.
        button = first.locator(".toggle-button").first
        if button.count() == 0:
            button = first.locator(".admonition-title").first
        button.scroll_into_view_if_needed()
        button.click()
        try:
            body.wait_for(state="visible", timeout=10_000)
        except Exception:
            problems.append(f"{label}: solution does not open on a mouse click")
        else:
            # Readers also click the title's text: maths or words in it must toggle it too
            # (sphinx-togglebutton alone threw "button is not defined"; _static/qsense-toggle.js).
            inner = first.locator(":scope > .admonition-title :is(mjx-container, em, strong, span)"
                                  ":not(a *):not(.toggle-button *):not(.toggle-button)").first
            if inner.count():
                inner.click()
                try:
                    body.wait_for(state="hidden", timeout=10_000)
                except Exception:
                    problems.append(f"{label}: a click on the title's text does not close it")
    problems += page.evaluate(
        """(sel) => {
            const shown = el => !!el && el.getClientRects().length > 0
                                && getComputedStyle(el).visibility !== 'hidden';
            const out = [];
            [...document.querySelectorAll('.solution.dropdown, .admonition.dropdown')]
              .forEach((d, i) => {
                if (i === 0) return;  // checked with the mouse above
                const label = d.id || `drop-down ${i + 1}`;
                const body = d.querySelector(sel);
                if (!body) { out.push(`${label}: drop-down has no body`); return; }
                if (shown(body)) { out.push(`${label}: solution is open before any click`); return; }
                const ctl = d.querySelector('.toggle-button') || d.querySelector('.admonition-title');
                ctl.click();
                if (!shown(body)) out.push(`${label}: solution does not open on click`);
              });
            return out;
        }""", body_sel)
    return problems


def _check_players(page) -> list[str]:
    """matplotlib JS players: frames advance on a click, and every button shows its icon."""
    problems = []
    players = page.locator("div.animation")
    for i in range(players.count()):
        player = players.nth(i)
        img = player.locator("img").first
        before = img.get_attribute("src")
        slider = player.locator("input[type=range]").first
        frame0 = slider.input_value() if slider.count() else None
        nxt = player.locator("button[title='Next frame'], button:has(i.fa-step-forward)").first
        if nxt.count() == 0:
            problems.append(f"animation {i + 1}: no 'next frame' button")
            continue
        nxt.scroll_into_view_if_needed()
        nxt.click()
        page.wait_for_timeout(200)
        if img.get_attribute("src") == before or (
                frame0 is not None and slider.input_value() == frame0):
            problems.append(f"animation {i + 1}: 'next frame' did not advance the player")
        # Icons: the theme's Font Awesome 6 script turns <i class="fa ..."> into inline SVG;
        # where it does not, the site's Font Awesome 4 font draws them. Either way every button
        # must show a visible icon.
        blank = player.evaluate(
            """el => [...el.querySelectorAll('.anim-buttons button')].filter(b => {
                   const icon = b.querySelector('svg, i');
                   if (!icon) return true;
                   const r = icon.getBoundingClientRect();
                   if (icon.tagName.toLowerCase() === 'svg') return r.width < 4 || r.height < 4;
                   const before = getComputedStyle(icon, '::before');
                   return r.width < 4 || ['none', '""', 'normal'].includes(before.content)
                          || !/fontawesome/i.test(before.fontFamily.replace(/\\s/g, ''))
                          || !document.fonts.check('14px FontAwesome');
               }).map(b => b.title)""")
        if blank:
            problems.append(f"animation {i + 1}: buttons without a visible icon: {blank}")
    return problems


def _check_widgets(page) -> list[str]:
    problems = []
    n_views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
    if n_views:
        try:
            # The manager puts each view in a div.widget-subarea just before its <script>.
            page.wait_for_function(
                """n => [...document.querySelectorAll('.widget-subarea')]
                          .filter(el => el.childElementCount > 0).length >= n
                       || document.body.innerText.includes('Error displaying widget')""",
                arg=n_views, polling=100, timeout=15_000)
        except Exception:
            shown = page.evaluate("() => [...document.querySelectorAll('.widget-subarea')]"
                                  ".filter(el => el.childElementCount > 0).length")
            problems.append(f"{shown} of {n_views} widget view(s) rendered "
                            "(is the widget manager served?)")
    body = page.inner_text("body")
    if "Error displaying widget" in body:
        problems.append("'Error displaying widget' on the page")
    return problems


def _check_narrow(page) -> list[str]:
    """At 390 px the page must not scroll sideways (wide maths/code scroll in their own box)."""
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    sizes = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    if sizes[0] > sizes[1] + 1:
        culprits = page.evaluate(
            """(w) => [...document.querySelectorAll('body *')].filter(el => {
                   if (el.getBoundingClientRect().right <= w + 1) return false;
                   for (let p = el.parentElement; p; p = p.parentElement) {
                       const s = getComputedStyle(p);
                       if (s.position === 'fixed' || s.overflowX !== 'visible') return false;
                   }
                   return getComputedStyle(el).position !== 'fixed';
               }).slice(0, 5).map(el => el.tagName.toLowerCase() + '.' + el.className)""",
            sizes[1])
        return [f"at 390 px the page is {sizes[0]} px wide (scrolls sideways); widest: {culprits}"]
    return []


def _screenshot(page, path: str, full_page: bool = True) -> None:
    # From the top and with no focus ring or "skip to content" link showing.
    page.evaluate("() => { if (document.activeElement) document.activeElement.blur(); "
                  "window.scrollTo(0, 0); }")
    page.screenshot(path=path, full_page=full_page)


def _check_dark(page) -> list[str]:
    page.emulate_media(color_scheme="dark")
    problems = []
    try:
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'",
                               polling=100, timeout=15_000)
    except Exception:
        theme = page.evaluate("() => document.documentElement.dataset.theme")
        problems.append(f"the reader asks for dark mode but the page's theme stays {theme!r}")
    dark_imgs = page.evaluate(
        """() => [...document.querySelectorAll('.bd-content img')]
              .filter(img => img.offsetParent !== null)
              .filter(img => getComputedStyle(img).backgroundColor !== 'rgb(255, 255, 255)')
              .map(img => img.getAttribute('src').slice(0, 60))""")
    problems += [f"figure without a light background in dark mode: {s}" for s in dark_imgs]
    return problems


PAGES = _pages()


@pytest.mark.parametrize("page_path", PAGES or ["(no built site)"])
def test_page_in_browser(page_path, server, browser):
    if not PAGES:
        pytest.fail(f"no HTML pages under {SITE}: build the site first")
    html = (SITE / page_path).read_text(encoding="utf-8", errors="replace")
    refresh = re.search(r"""http-equiv=["']refresh["'][^>]*url=([^"'>]+)""", html, re.I)
    if refresh:  # a redirect page (Jupyter Book's index.html): its target is a page of its own
        target = (SITE / page_path).parent / refresh.group(1).strip()
        assert target.is_file(), f"{page_path} redirects to a missing page {refresh.group(1)}"
        return
    page = browser.new_page()
    watch = Watch(page, server)
    problems: list[str] = []
    try:
        response = page.goto(f"{server}/{page_path}", wait_until="load")
        assert response is not None and response.ok, f"{page_path}: HTTP error"
        problems += _check_math(page)
        problems += _check_widgets(page)
        shot = SHOTS / Path(page_path).with_suffix("")
        shot.parent.mkdir(parents=True, exist_ok=True)
        _screenshot(page, f"{shot}.light.png")
        problems += _check_dropdowns(page)
        problems += _check_players(page)
        problems += _check_dark(page)
        _screenshot(page, f"{shot}.dark.png")
        page.emulate_media(color_scheme="light")
        problems += _check_narrow(page)
        _screenshot(page, f"{shot}.390px.png", full_page=False)
        page.wait_for_timeout(100)  # let late requests and errors arrive
        problems += watch.problems()
    finally:
        page.evaluate("() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }")
        page.close()
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_site_ships_its_browser_assets():
    """The assets the pages rely on are in the site itself, not on a CDN."""
    if not SITE.is_dir():
        pytest.fail(f"no built site at {SITE}: build the site first")
    vendor = SITE / "_static" / "vendor"
    for rel in ["mathjax/tex-mml-chtml.js", "requirejs/require.js",
                "npm/@jupyter-widgets/html-manager/dist/embed-amd.js", "qsense-widgets-setup.js", "font-awesome/css/font-awesome.min.css",
                "font-awesome/fonts/fontawesome-webfont.woff2"]:
        assert (vendor / rel).is_file(), f"{rel} missing from the built site's _static/vendor"
    for page in PAGES:
        html = (SITE / page).read_text(encoding="utf-8")
        cdn = re.findall(r"""(?:src|href)=["'](https?://[^"']*(?:cdn|unpkg)[^"']*)""", html)
        assert not cdn, f"{page} loads {cdn}"



def test_pages_name_the_course_in_title_and_footer():
    """Every page carries the book's title, author and copyright from _config.yml in its footer."""
    import html as html_lib

    import yaml

    if not PAGES:
        pytest.fail(f"no HTML pages under {SITE}: build the site first")
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    for page in PAGES:
        text = html_lib.unescape((SITE / page).read_text(encoding="utf-8"))
        text = re.sub(r"\s+", " ", text)
        if re.search(r"http-equiv=[\"']refresh", text, re.I):
            continue
        title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
        assert cfg["title"] in title, f"{page}: <title> {title!r} lacks the book's title"
        footer = text[text.find("<footer class=\"bd-footer-content"):]
        assert f"By {cfg['author']}" in footer, f"{page}: footer does not name the author"
        assert f"© Copyright {cfg['copyright']}" in footer, f"{page}: footer lacks the copyright"
        assert "Li, Ma and Zhang" in footer, f"{page}: footer lacks the course line"
