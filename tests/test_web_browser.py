"""The viewer's pages in a real browser: Debian's Chromium driven by Playwright, against a real ``otel-lens serve``.

List → click → waterfall with every span; search inside a trace highlighting an attribute value; collapse;
keyboard navigation; live updates without a reload (and pause); hostile stored text rendered as text with
no script run; no console errors on any page. ``OTEL_LENS_UPDATE_SCREENSHOTS=1`` also writes the README's
screenshots (1280×800 and 390×844) to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._web import HOSTILE_NAME, HOSTILE_VALUE, Demo, Viewer, build_demo, serve

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

CHROMIUM = "/usr/bin/chromium"
# Every script is written as a function: the viewer's CSP (rightly) stops Playwright evaluating bare strings.
# As root Chromium needs --no-sandbox; without the networking flags it floods a closed network with requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent.parent / "docs" / "screenshots"
TIMEOUT_MS = 30_000
# Read at import: the suite's autouse fixture strips OTEL_* variables from each test's environment.
UPDATE_SCREENSHOTS = os.environ.get("OTEL_LENS_UPDATE_SCREENSHOTS") == "1"


def save_screenshot(page: Any, out: Path) -> None:
    """Take the page's screenshot into ``out`` (a real picture, not a blank page) and, with
    ``OTEL_LENS_UPDATE_SCREENSHOTS=1``, copy it into docs/screenshots for the README."""
    page.screenshot(path=str(out))
    assert out.stat().st_size > 5000
    if UPDATE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, SCREENSHOTS / out.name)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, dict[str, str], Path]]:
    database = tmp_path_factory.mktemp("web-browser") / "lens.db"
    ids = build_demo(str(database))
    demo = Demo(str(database))
    try:
        ids["big"] = demo.big(__import__("time").time_ns() - 30 * 10**9, 300)
    finally:
        demo.close()
    with serve(database) as viewer:
        yield viewer, ids, database


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)", pytrace=False)
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A browser page on the viewer that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, viewer: Viewer, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.viewer = viewer
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def go(self, path: str) -> Any:
        self.page.goto(self.viewer.url + path)
        return self.page


@pytest.fixture
def page(browser: Any, site: tuple[Viewer, dict[str, str], Path]) -> Iterator[Page]:
    opened = Page(browser, site[0])
    yield opened
    opened.context.close()
    assert opened.errors == [], "console errors on the page"


def _ids(site: tuple[Viewer, dict[str, str], Path]) -> dict[str, str]:
    return site[1]


def test_list_then_click_then_the_waterfall_shows_every_span(page: Page, site: Any) -> None:
    """From the trace list a click opens the trace; its waterfall draws every span (scrolled through for 300)."""
    ids = _ids(site)
    p = page.go("/")
    p.locator(f'tr[data-trace-id="{ids["failed"]}"] a').click()
    p.wait_for_url(f"**/traces/{ids['failed']}**")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")
    names = p.locator(".wf-row .wf-name").all_text_contents()
    assert names == ["POST /checkout", "authenticate", "SELECT cart", "charge card"]
    assert p.locator(".wf-row.failed").count() == 2  # error marks on the failed span and its failed parent
    assert p.locator(".wf-axis .tick").count() == 5
    # A big trace: virtualized (only the rows in view are in the DOM), yet scrolling reaches every span.
    p = page.go(f"/traces/{ids['big']}")
    p.wait_for_selector(".wf-row")
    drawn = p.locator(".wf-row").count()
    assert drawn < 300
    seen: set[str] = set()
    for _ in range(100):
        seen |= set(p.eval_on_selector_all(".wf-row", "rows => rows.map(r => r.dataset.spanId)"))
        at_end = p.evaluate(
            "() => { const s = document.querySelector('.wf-scroll'); const end = s.scrollTop + s.clientHeight >= s.scrollHeight - 1; s.scrollTop += s.clientHeight; return end; }"
        )
        p.wait_for_timeout(30)
        if at_end:
            break
    seen |= set(p.eval_on_selector_all(".wf-row", "rows => rows.map(r => r.dataset.spanId)"))
    assert len(seen) == 300


def test_search_inside_a_trace_highlights_an_attribute_value_and_keeps_its_path_open(page: Page, site: Any) -> None:
    """Typing an attribute value marks the span holding it, opens the path to it, and lands in the URL."""
    ids = _ids(site)
    p = page.go(f"/traces/{ids['failed']}")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")
    p.locator(".wf-row").first.locator("[data-toggle]").click()  # collapse the root: the match is hidden
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 1")
    p.fill('input[name="q"]', "visa-42")
    match = p.locator(".wf-row.match")
    match.wait_for()
    assert match.count() == 1
    assert match.locator(".wf-name").text_content() == "charge card"
    assert match.locator(".attr-match mark").all_text_contents() == ["visa-42"]
    assert p.locator(".wf-row").count() == 4  # the path to the match was opened again
    assert p.locator(".matches").text_content() == "1 match"
    p.wait_for_function("() => location.search.includes('q=visa-42')")
    p.reload()
    p.locator(".wf-row.match .attr-match mark").wait_for()
    assert p.input_value('input[name="q"]') == "visa-42"
    assert p.locator(".detail h2").text_content() == "charge card"  # the first match is selected


def test_collapse_and_expand(page: Page, site: Any) -> None:
    """The toggle hides a span's subtree (and says how many), the state is in the URL, and it expands again."""
    ids = _ids(site)
    p = page.go(f"/traces/{ids['ok']}")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")
    root = p.locator(".wf-row").first
    root.locator("[data-toggle]").click()
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 1")
    assert p.locator(".wf-row").first.get_attribute("aria-expanded") == "false"
    assert p.locator(".hidden-count").text_content() == "+3"
    p.wait_for_function("() => location.search.includes('collapsed=')")
    p.reload()
    p.wait_for_selector(".wf-row")
    assert p.locator(".wf-row").count() == 1
    p.locator(".wf-row").first.locator("[data-toggle]").click()
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")


def test_keyboard_navigation(page: Page, site: Any) -> None:
    """j/k move the selection, h collapses (then goes to the parent), l expands (then to the first child), Enter opens the detail."""
    ids = _ids(site)
    p = page.go(f"/traces/{ids['ok']}")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")

    def selected() -> str:
        return str(p.locator(".wf-row.selected .wf-name").text_content())

    assert selected() == "POST /checkout"
    p.keyboard.press("j")
    assert selected() == "authenticate"
    p.keyboard.press("j")
    p.keyboard.press("j")
    assert selected() == "charge card"
    p.keyboard.press("k")
    assert selected() == "SELECT cart"
    p.keyboard.press("h")  # a leaf: to its parent
    assert selected() == "POST /checkout"
    p.keyboard.press("h")  # the root: collapse it
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 1")
    p.keyboard.press("l")  # expand
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")
    p.keyboard.press("l")  # to the first child
    assert selected() == "authenticate"
    p.keyboard.press("Enter")
    assert p.locator(".detail h2").text_content() == "authenticate"
    p.wait_for_function("() => location.search.includes('span=')")


def test_span_detail_shows_the_exception_logs_and_copies_the_subtree(page: Page, site: Any) -> None:
    """The failed span's detail shows its stack trace, its log, its resource; "copy subtree" gives its JSON."""
    ids = _ids(site)
    p = page.go(f"/traces/{ids['failed']}")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")
    p.locator(".wf-row", has_text="charge card").click()
    detail = p.locator(".detail")
    assert "PaymentError: card declined" in str(detail.locator("pre.stack").text_content())
    assert "payment failed" in str(detail.locator(".span-logs").text_content())
    assert "payments" in str(detail.text_content())
    p.locator(".wf-row").first.click()
    detail.locator("button.copy").click()
    p.wait_for_function("() => document.querySelector('.copy-out').value !== ''")  # fetched from the server
    copied = json.loads(p.locator(".copy-out").input_value())
    assert copied["trace_id"] == ids["failed"] and len(copied["spans"]) == 4 and len(copied["logs"]) == 2


def test_live_traces_appear_without_a_reload_and_pause_holds_them(page: Page, site: Any) -> None:
    """A trace stored while the list is open appears in it (same document); paused, it waits and is counted."""
    database = site[2]
    p = page.go("/")
    p.wait_for_selector("tr[data-trace-id]")
    p.evaluate("() => { window.__sameDocument = true; }")
    p.locator("button.live").wait_for()
    p.wait_for_timeout(300)  # the feed starts with the page; what is stored before it is not "new"
    demo = Demo(str(database))
    try:
        new_trace = demo.request(__import__("time").time_ns(), user=500)
        p.locator(f'tr[data-trace-id="{new_trace}"]').wait_for()
        assert p.evaluate("() => window.__sameDocument") is True
        assert p.locator("tbody tr").first.get_attribute("data-trace-id") == new_trace
        p.locator("button.live").click()  # pause
        p.wait_for_function("() => location.search.includes('live=0')")
        held = demo.request(__import__("time").time_ns(), user=501)
        p.wait_for_function("() => document.querySelector('button.live').textContent.includes('1 new')")
        assert p.locator(f'tr[data-trace-id="{held}"]').count() == 0
        p.locator("button.live").click()  # resume: the list reloads with it
        p.locator(f'tr[data-trace-id="{held}"]').wait_for()
    finally:
        demo.close()


def test_live_logs_appear_on_the_logs_page(page: Page, site: Any) -> None:
    """The logs page shows a record stored while it is open, at the top, without a reload."""
    _, _, database = site
    p = page.go("/logs?level=info")
    p.wait_for_selector("tr[data-log-id]")
    p.wait_for_timeout(300)
    demo = Demo(str(database))
    try:
        demo.request(__import__("time").time_ns(), user=777)
    finally:
        demo.close()
    p.locator("tbody tr", has_text="cart of user 777").wait_for()
    p.fill('input[name="q"]', "user 777")
    p.wait_for_function("() => document.querySelectorAll('tbody tr[data-log-id]').length === 1")
    p.wait_for_function("() => location.search.includes('q=user+777')")


def test_hostile_stored_text_renders_as_text_and_runs_nothing(page: Page, site: Any) -> None:
    """A span name, attribute key/value and log body holding HTML/script show as their literal text, run no script."""
    ids = _ids(site)
    for path in ("/", f"/traces/{ids['hostile']}", "/logs", "/stats", f"/traces/{ids['hostile']}?q=script"):
        p = page.go(path)
        p.wait_for_load_state("networkidle")
        p.wait_for_function("() => document.querySelector('main').textContent.length > 50")
        assert p.evaluate("() => typeof window.__pwned") == "undefined", path
        assert p.locator("main img").count() == 0, path
        assert p.locator("main script").count() == 0, path
        text = str(p.locator("main").text_content())
        assert HOSTILE_NAME in text or HOSTILE_VALUE in text, path
    p = page.go(f"/traces/{ids['hostile']}")
    p.locator(".detail h2").wait_for()
    assert p.locator(".detail h2").text_content() == HOSTILE_NAME
    assert HOSTILE_VALUE in str(p.locator(".detail table.kv").first.text_content())


def test_stats_and_usage_pages_draw_their_charts(page: Page, site: Any) -> None:
    """Stats draws a row per span kind and the latency chart; usage its table and the tokens-per-hour chart."""
    p = page.go("/stats")
    p.wait_for_selector("table.stats tbody tr")
    assert p.locator(".chart svg .box").count() >= 5
    p.select_option('select[name="by"]', "service")
    p.wait_for_function("() => location.search.includes('by=service')")
    p.wait_for_function("() => document.querySelectorAll('table.stats tbody tr').length === 4")
    p = page.go("/usage")
    p.wait_for_selector("table.usage tbody tr td.name")
    assert sorted(p.locator("table.usage td.name").all_text_contents()) == ["gpt-4o", "gpt-4o-mini"]
    assert p.locator(".chart svg rect").count() == 6


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_screenshots(browser: Any, site: Any, tmp_path: Path, width: int, height: int) -> None:
    """Every page renders at desktop and phone size without console errors (the README's screenshots)."""
    viewer, ids, _ = site
    shot = Page(browser, viewer, width, height)
    pages = {
        "traces": ("/", "tr[data-trace-id]"),
        "trace": (f"/traces/{ids['failed']}?q=visa", ".wf-row.match"),
        "logs": ("/logs", "tr[data-log-id]"),
        "stats": ("/stats", ".chart svg"),
        "usage": ("/usage", ".chart svg"),
    }
    try:
        for name, (path, ready) in pages.items():
            p = shot.go(path)
            p.wait_for_selector(ready)
            p.wait_for_function("() => !document.getElementById('status').textContent")
            out = tmp_path / f"{name}-{width}x{height}.png"
            save_screenshot(p, out)
    finally:
        shot.context.close()
    assert shot.errors == []
