"""The diff page in a real browser (Debian's Chromium via Playwright) against a real ``otel-lens serve``.

Two runs of one request, one span slower and one attribute changed: the merged tree marks both, a click
shows the attribute's two values; the trace page's "Compare…" and the list's two ticks lead there; hostile
span names and attribute values show as text with no script run; no console errors.
``OTEL_LENS_UPDATE_SCREENSHOTS=1`` also writes docs/screenshots/diff-*.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import _diff_demo
from tests._web import HOSTILE_NAME, HOSTILE_VALUE, Viewer, serve
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, Page, save_screenshot

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, dict[str, str]]]:
    database = tmp_path_factory.mktemp("web-diff-browser") / "lens.db"
    ids = _diff_demo.build(str(database), time.time_ns())
    with serve(database) as viewer:
        yield viewer, ids


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)", pytrace=False)
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(chromium: Any, site: tuple[Viewer, dict[str, str]]) -> Iterator[Page]:
    opened = Page(chromium, site[0])
    yield opened
    opened.context.close()
    assert opened.errors == [], "console errors on the page"


def test_diff_marks_the_slower_span_and_the_changed_attribute(page: Page, site: Any) -> None:
    """The slower span shows its delta (+50 ms, +500 %) marked slower; the span whose attribute changed is marked
    ~; a click on it shows the attribute with its A and B values; the selection is kept in the URL."""
    _, ids = site
    p = page.go(f"/diff?a={ids['a']}&b={ids['b']}")
    p.wait_for_function("() => document.querySelectorAll('tr.diff-row').length === 3")
    assert p.locator("tr.diff-row .diff-name").all_text_contents() == ["GET /report", "load rows", "render"]
    slower = p.locator("tr.diff-row.slower")
    assert slower.count() == 1
    assert slower.locator(".diff-name").text_content() == "load rows"
    assert slower.locator("td.delta").all_text_contents() == ["+50.0 ms", "+500 %"]
    changed = p.locator("tr.diff-row.changed")
    assert changed.count() == 1
    assert changed.locator(".diff-name").text_content() == "render"
    assert changed.locator("td.mark").text_content() == "~"
    changed.click()
    p.wait_for_function("() => location.search.includes('row=2')")
    row = p.locator(".diff-detail table.attr-diff tbody tr")
    assert row.count() == 1
    assert row.locator("th").text_content() == "template"
    assert row.locator("td").all_text_contents() == ["~", "v1", "v2"]
    assert p.locator(".diff-totals .count.changed").text_content() == "~1 changed"
    p.locator(".diff-totals input[name='changed']").check()  # changes only: the unchanged rows go, the root stays
    p.wait_for_function("() => location.search.includes('changed=1')")
    assert p.locator("tr.diff-row .diff-name").all_text_contents() == ["GET /report", "load rows", "render"]
    p.reload()
    p.locator(".diff-detail table.attr-diff").wait_for()
    assert p.locator("tr.diff-row.selected .diff-name").text_content() == "render"
    p.keyboard.press("k")  # keys move the selection, and the detail with it
    assert p.locator("tr.diff-row.selected .diff-name").text_content() == "load rows"
    assert p.locator(".diff-detail h2").text_content() == "load rows"
    assert "the same in A and B" in str(p.locator(".diff-detail").text_content())
    p.keyboard.press("j")
    assert p.locator("tr.diff-row.selected .diff-name").text_content() == "render"


def test_added_span_and_status_change_are_marked(page: Page, site: Any) -> None:
    """A span only in B is marked +; the span that failed in B shows OK/UNSET → ERROR."""
    _, ids = site
    p = page.go(f"/diff?a={ids['a']}&b={ids['c']}")
    p.wait_for_function("() => document.querySelectorAll('tr.diff-row').length === 4")
    added = p.locator("tr.diff-row.added")
    assert added.locator(".diff-name").text_content() == "retry render"
    assert added.locator("td.mark").text_content() == "+"
    status = p.locator("tr.diff-row .status-change")
    assert status.text_content() == "UNSET → ERROR"


def test_compare_from_the_trace_page_and_from_the_list(page: Page, site: Any) -> None:
    """ "with the previous one" on B's page opens A vs B (the URL then names both ids); a pasted id opens that
    pair; ticking two traces in the list enables "Compare" with the earlier one as A."""
    _, ids = site
    p = page.go(f"/traces/{ids['b']}")
    p.locator(".compare a.previous").click()
    p.wait_for_function("() => document.querySelectorAll('tr.diff-row').length === 3")
    p.wait_for_function(f"() => location.search.includes('a={ids['a']}') && location.search.includes('b={ids['b']}')")
    assert p.locator(".diff-card code").all_text_contents() == [ids["a"], ids["b"]]
    p = page.go(f"/traces/{ids['c']}")
    p.fill(".compare input[name='other']", ids["a"][:10])
    p.locator(".compare button[type='submit']").click()
    p.wait_for_function("() => document.querySelectorAll('tr.diff-row').length === 4")
    assert p.locator(".diff-card code").all_text_contents() == [ids["a"], ids["c"]]
    p = page.go("/")
    p.locator(f'tr[data-trace-id="{ids["b"]}"] input.pick').check()
    assert p.locator("a.compare-selected").get_attribute("aria-disabled") == "true"
    p.locator(f'tr[data-trace-id="{ids["a"]}"] input.pick').check()
    assert p.url.rstrip("/") == page.viewer.url  # ticking does not open the trace
    p.locator("a.compare-selected").click()
    p.wait_for_function("() => document.querySelectorAll('tr.diff-row').length === 3")
    assert p.locator(".diff-card code").all_text_contents() == [ids["a"], ids["b"]]


def test_an_unknown_id_is_one_line_on_the_page(chromium: Any, site: Any) -> None:
    """An unknown id: the API's 404 line is shown on the page (the browser logs only that failed request)."""
    viewer, ids = site
    opened = Page(chromium, viewer)
    try:
        p = opened.go(f"/diff?a={'f' * 32}&b={ids['a']}")
        p.locator("main .error-text").wait_for()
        assert "f" * 32 in str(p.locator("main .error-text").text_content())
        assert p.locator("tr.diff-row").count() == 0
    finally:
        opened.context.close()
    assert [e for e in opened.errors if "status of 404" not in e] == []


def test_hostile_names_and_values_render_as_text(page: Page, site: Any) -> None:
    """Hostile span names and attribute values render as text and run nothing."""
    _, ids = site
    p = page.go(f"/diff?a={ids['hostile_a']}&b={ids['hostile_b']}")
    p.wait_for_function("() => document.querySelectorAll('tr.diff-row').length === 2")
    assert p.locator("tr.diff-row .diff-name").nth(1).text_content() == HOSTILE_NAME
    p.locator("tr.diff-row.changed").click()
    cells = p.locator(".diff-detail table.attr-diff tbody tr.changed td").all_text_contents()
    assert cells == ["~", "plain", HOSTILE_VALUE]
    assert p.evaluate("() => typeof window.__pwned") == "undefined"
    assert p.locator("main img").count() == 0 and p.locator("main script").count() == 0


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_diff_screenshots(chromium: Any, site: Any, tmp_path: Path, width: int, height: int) -> None:
    """The diff page renders at desktop and phone size without console errors (the README's screenshots)."""
    viewer, ids = site
    shot = Page(chromium, viewer, width, height)
    try:
        p = shot.go(f"/diff?a={ids['a']}&b={ids['d']}&row=2")
        p.wait_for_selector(".diff-detail h2")
        p.wait_for_function("() => !document.getElementById('status').textContent")
        out = tmp_path / f"diff-{width}x{height}.png"
        save_screenshot(p, out)
    finally:
        shot.context.close()
    assert shot.errors == []
