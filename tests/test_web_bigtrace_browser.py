"""A 10,000-span trace in real Chromium (Debian's, driven by Playwright) against a real ``otel-lens serve``:
the waterfall opens from the outline, and its first and last spans are reachable by keyboard and by search
(by name and by attribute value) once the whole trace is in. No timing is asserted (that is bench_web's).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._web import Demo, Viewer, serve
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, Page

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

SPANS = 10_000
WHOLE_TRACE_MS = 120_000  # a loaded 2-core machine: the whole trace may take a while, the test never times it


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, str]]:
    database = tmp_path_factory.mktemp("web-bigtrace") / "lens.db"
    demo = Demo(str(database))
    try:
        trace_id = demo.big(time.time_ns() - 60 * 10**9, SPANS)
    finally:
        demo.close()
    with serve(database) as viewer:
        yield viewer, trace_id


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)", pytrace=False)
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _waterfall_order(viewer: Viewer, trace_id: str) -> list[dict[str, Any]]:
    """The spans in the waterfall's row order (depth first, children by start time), from the API."""
    spans = httpx.get(f"{viewer.url}/api/traces/{trace_id}", timeout=120).json()["spans"]
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    order: list[dict[str, Any]] = []
    stack = sorted(children[None], key=lambda s: s["start_time_unix_nano"], reverse=True)
    while stack:
        span = stack.pop()
        order.append(span)
        stack.extend(sorted(children.get(span["span_id"], []), key=lambda s: s["start_time_unix_nano"], reverse=True))
    return order


def test_a_10000_span_trace_opens_and_its_first_and_last_spans_are_reachable(
    browser: Any, big: tuple[Viewer, str]
) -> None:
    """The waterfall of 10,000 spans draws only the rows in view; End/Home select the last/first span (k the
    one before the last); searching the last span's attribute value and the root's name finds exactly those."""
    viewer, trace_id = big
    order = _waterfall_order(viewer, trace_id)
    assert len(order) == SPANS
    first, last = order[0], order[-1]
    opened = Page(browser, viewer)
    p = opened.go(f"/traces/{trace_id}")
    try:
        p.wait_for_selector(".wf-row")
        assert p.locator(".wf-row").first.get_attribute("data-span-id") == first["span_id"]
        p.wait_for_function(
            "() => performance.getEntriesByName('otel-lens:trace-complete').length > 0", timeout=WHOLE_TRACE_MS
        )
        assert p.locator(".wf-row").count() < 200, "virtualized: only the rows in view are in the DOM"
        assert p.locator(".detail h2").text_content() == first["name"]  # the detail, from the whole trace

        def selected() -> str | None:
            return p.locator(".wf-row.selected").get_attribute("data-span-id")

        assert selected() == first["span_id"]
        p.keyboard.press("End")
        p.wait_for_function(f"() => document.querySelector('.wf-row.selected')?.dataset.spanId === '{last['span_id']}'")
        assert p.locator(".detail h2").text_content() == last["name"]
        p.keyboard.press("k")
        assert selected() == order[-2]["span_id"]
        p.keyboard.press("Home")
        p.wait_for_function(
            f"() => document.querySelector('.wf-row.selected')?.dataset.spanId === '{first['span_id']}'"
        )
        # The span holding item=9999 by its attribute value only: the search needs the whole trace's attributes.
        wanted = next(span for span in order if span["attributes"].get("item") == SPANS - 1)
        p.fill('input[name="q"]', str(SPANS - 1))
        p.wait_for_function("() => document.querySelector('.matches')?.textContent === '1 match'")
        match = p.locator(".wf-row.match")
        assert match.get_attribute("data-span-id") == wanted["span_id"]
        assert match.locator(".attr-match mark").all_text_contents() == [str(SPANS - 1)]
        assert selected() == wanted["span_id"]
        p.wait_for_function(f"() => location.search.includes('q={SPANS - 1}')")
        p.fill('input[name="q"]', "nightly batch")
        p.wait_for_function(f"() => document.querySelector('.wf-row.match')?.dataset.spanId === '{first['span_id']}'")
        assert p.locator(".matches").text_content() == "1 match"
    finally:
        opened.context.close()
    assert opened.errors == [], "console errors on the page"


def test_an_attribute_search_in_the_url_selects_its_match_once_the_whole_trace_is_in(
    browser: Any, big: tuple[Viewer, str]
) -> None:
    """Opening ``?q=<attribute value>`` (no span chosen) selects the match, although the first rows are drawn
    from the outline, which has no attributes."""
    viewer, trace_id = big
    opened = Page(browser, viewer)
    p = opened.go(f"/traces/{trace_id}?q=value-should-not-exist-{SPANS}")
    try:
        p.wait_for_function("() => document.querySelector('.matches')?.textContent === '0 matches'")
        p = opened.go(f"/traces/{trace_id}?q=9998")
        p.wait_for_function("() => document.querySelector('.wf-row.selected.match') !== null", timeout=WHOLE_TRACE_MS)
        assert p.locator(".wf-row.selected .attr-match mark").all_text_contents() == ["9998"]
    finally:
        opened.context.close()
    assert opened.errors == [], "console errors on the page"
