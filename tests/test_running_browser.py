"""Running and abandoned spans in the viewer, in a real browser (Debian's Chromium via Playwright) on a real
``otel-lens serve``, while a real app process runs its long span.

The trace list and the waterfall mark the running span, its bar's time grows while the page stays open,
the header's and the detail's durations grow with it, a span stored meanwhile appears in place (no reload),
and once the app ends it the open pages pick up the finished span by themselves (no mark left, one row
per span). A span left open at a clean exit is marked abandoned. ``OTEL_LENS_UPDATE_SCREENSHOTS=1`` also
writes docs/screenshots/trace-running-*.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._reliability import finish
from tests._running_app import start_app, wait_running
from tests._web import serve
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, TIMEOUT_MS, UPDATE_SCREENSHOTS

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

# The three durations a running root's page shows: the header's (the trace), the detail's and its bar's.
DURATIONS = """() => ({
    header: document.querySelector('.trace-head .trace-duration')?.textContent,
    detail: document.querySelector('.detail .span-duration')?.textContent,
    bar: document.querySelector('.wf-row.running .wf-dur')?.textContent,
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)", pytrace=False)
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_page(context: Any, url: str, errors: list[str]) -> Any:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page


def test_a_running_span_is_marked_grows_and_is_replaced_live(browser: Any, tmp_path: Path) -> None:
    """List and waterfall mark the running root (the header counts it: "3 spans + 1 running"); its duration grows, in its row and in the page's header; after the app ends it, both pages show
    it ended without a reload by hand."""
    database = str(tmp_path / "lens.db")
    process, control = start_app(tmp_path, database)
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        trace_id = wait_running(database, process, control)["trace_id"]
        with serve(database) as viewer:
            listing = open_page(context, viewer.url + "/", errors)
            listing.wait_for_selector(f'tr[data-trace-id="{trace_id}"] .state-mark.running')
            with viewer.client() as client:  # what the list polls while something runs
                page = client.get("/api/traces", params={"running": "1"}).json()
            assert [(t["trace_id"], t["state"]) for t in page["traces"]] == [(trace_id, "running")]
            waterfall = open_page(context, f"{viewer.url}/traces/{trace_id}", errors)
            waterfall.wait_for_selector(".wf-row.running .state-mark.running")
            assert waterfall.locator(".wf-row.running .wf-name").all_text_contents() == ["agent_run"]
            assert waterfall.locator("h1 .state-mark.running").count() == 1
            # The header counts the running span too ("0 spans" above a running one read as an empty trace).
            waterfall.wait_for_function(
                "() => / [0-9]+ spans? \\+ 1 running /.test(document.querySelector('.trace-head .meta')?.textContent)"
            )
            if UPDATE_SCREENSHOTS:  # the README's picture of a run still going, desktop and phone
                for width, height in ((1280, 800), (390, 844)):
                    waterfall.set_viewport_size({"width": width, "height": height})
                    waterfall.wait_for_selector(".wf-row.running .state-mark.running")
                    out = tmp_path / f"trace-running-{width}x{height}.png"
                    waterfall.screenshot(path=str(out))
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    shutil.copy(out, SCREENSHOTS / out.name)
                waterfall.set_viewport_size({"width": 1280, "height": 800})
            first = waterfall.locator(".wf-row.running .wf-dur").text_content()
            waterfall.wait_for_function(
                "(first) => { const d = document.querySelector('.wf-row.running .wf-dur'); return d && d.textContent !== first; }",
                arg=first,
            )
            # The header's trace duration, the detail's span duration and the running bar's say the same.
            waterfall.locator(".wf-row.running .wf-name").click()
            waterfall.wait_for_selector(".detail .span-duration")
            shown = waterfall.evaluate(DURATIONS)
            assert shown["header"] == shown["detail"] == shown["bar"] != "", shown
            waterfall.wait_for_function(f"(first) => ({DURATIONS})().header !== first", arg=shown["header"])
            shown = waterfall.evaluate(DURATIONS)
            assert shown["header"] == shown["detail"] == shown["bar"], shown
            # A span stored meanwhile appears in place: the same document (its marker survives), one navigation.
            waterfall.evaluate("() => { window.otelLensMarker = 'same page'; }")
            (control / "more").write_text("1")
            waterfall.wait_for_function(
                "() => [...document.querySelectorAll('.wf-row .wf-name')].some((n) => n.textContent === 'late_step')"
            )
            assert waterfall.evaluate("() => window.otelLensMarker") == "same page"
            assert waterfall.locator(".wf-row.running .wf-name").all_text_contents() == ["agent_run"]
            (control / "finish").write_text("1")
            code, _, err = finish(process)
            assert code == 0, err
            waterfall.wait_for_function(
                "() => document.querySelectorAll('.wf-row').length === 5 && !document.querySelector('.state-mark')"
            )
            names = waterfall.locator(".wf-row .wf-name").all_text_contents()
            assert sorted(names) == ["agent_run", "late_step", "step", "step", "step"]
            assert waterfall.evaluate("() => window.otelLensMarker") == "same page"
            assert waterfall.evaluate("() => performance.getEntriesByType('navigation').length") == 1
            assert (
                waterfall.locator(".detail .span-duration").text_content()
                == waterfall.locator(".wf-row.selected .wf-dur").text_content()
            ), "the detail shows the ended span's duration"
            listing.wait_for_function(
                f"() => {{ const r = document.querySelector('tr[data-trace-id=\"{trace_id}\"]'); "
                "return r && !r.querySelector('.state-mark'); }"
            )
            context.close()  # before the viewer stops: open pages keep polling it
    finally:
        if process.poll() is None:
            process.kill()
        context.close()
    assert errors == [], "console errors on the pages"


def test_a_span_left_open_at_exit_is_marked_abandoned(browser: Any, tmp_path: Path) -> None:
    """After a clean exit with a span open: the list and the waterfall say abandoned (the header "0 spans + 1
    abandoned"), nothing says running."""
    database = str(tmp_path / "lens.db")
    process, _ = start_app(tmp_path, database, "open-at-exit")
    code, _, err = finish(process)
    assert code == 0, err
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        with serve(database) as viewer:
            listing = open_page(context, viewer.url + "/", errors)
            listing.wait_for_selector("tr .state-mark.abandoned")
            listing.locator("tr .name a").first.click()
            listing.wait_for_selector(".wf-row.abandoned .state-mark.abandoned")
            assert listing.locator(".trace-head .meta").text_content().count("0 spans + 1 abandoned") == 1
            assert listing.locator(".state-mark.running").count() == 0
            context.close()
    finally:
        context.close()
    assert errors == [], "console errors on the pages"
