"""The viewer on a phone-sized screen (390×844) and what looking at every page turned up, in a real browser
(Debian's Chromium via Playwright) against a real ``otel-lens serve``.

Every list page fits the screen: no horizontal scroll of the page, no table wider than its box (columns out
of sight to the right), no name squeezed to a letter a line; the stats and usage charts are drawn for the
screen's width with every label inside them; the sessions list keeps one live feed however often its
filters change; a waterfall of a few microseconds has distinct axis ticks; a GenAI section without messages
says what it holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_lens.settings import Settings
from otel_lens.testing import SpanFactory
from tests._sessions_helpers import export, turn
from tests._web import MS, Demo, Viewer, build_demo, serve
from tests.test_web_browser import Page, browser  # noqa: F401  (the Chromium fixture)

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

PHONE = (390, 844)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, dict[str, str]]]:
    database = tmp_path_factory.mktemp("web-phone") / "lens.db"
    ids = build_demo(str(database))
    settings = Settings.load(environ={}, database=str(database), sweep_interval=0)
    factory = SpanFactory("agents")
    begin = time.time_ns() - 60 * 10**9
    turns = [
        turn(factory, {"session.id": "session-of-a-long-name", "gen_ai.conversation.id": "planner"}, start_ns=begin),
        turn(factory, {"session.id": "session-of-a-long-name"}, start_ns=begin + 10**9, fail=True),
    ]
    export(settings, *turns)
    ids["turn"] = turns[0][0].context.trace_id.to_bytes(16, "big").hex()
    demo = Demo(str(database))
    try:  # an agent's span with the tokens of its run and no messages (as lens_fn stores one)
        agent = demo.span("runner", "agent_run", begin, begin + 900 * MS, attributes={
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-test",
            "gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3})  # fmt: skip
        ids["agent"] = f"{agent.get_span_context().trace_id:032x}"
        ids["chat"] = ids["chat0"]
    finally:
        demo.close()
    with serve(database) as viewer:
        yield viewer, ids


@pytest.fixture
def phone(browser: Any, site: tuple[Viewer, dict[str, str]]) -> Iterator[Page]:  # noqa: F811
    opened = Page(browser, site[0], *PHONE)
    yield opened
    opened.context.close()
    assert opened.errors == [], "console errors on the page"


# What does not fit: the page scrolls sideways, a table is wider than its (scrolling) box, a chart is wider
# than its figure, or a chart's text reaches outside the chart.
OVERFLOW = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > innerWidth) out.push(`page ${document.documentElement.scrollWidth}`);
  for (const t of document.querySelectorAll("table.list")) {
    if (t.getBoundingClientRect().width > t.parentElement.clientWidth + 1) out.push(`table.${t.className} ${t.getBoundingClientRect().width}`);
  }
  for (const svg of document.querySelectorAll(".chart svg")) {
    const box = svg.getBoundingClientRect(), figure = svg.parentElement.clientWidth;
    if (box.width > figure + 1) out.push(`chart ${box.width} > ${figure}`);
    for (const text of svg.querySelectorAll("text")) {
      const r = text.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1) out.push(`label "${text.textContent}" ${r.left}..${r.right}`);
    }
  }
  return out;
}"""


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/", "tr[data-trace-id]"),
        ("/logs", "tr[data-log-id]"),
        ("/stats", ".chart svg .box"),
        ("/stats?by=service", ".chart svg .box"),
        ("/usage", ".chart svg rect"),
        ("/sessions", "tr[data-session-id]"),
        ("/sessions/session-of-a-long-name", ".turn"),
    ],
)
def test_every_list_and_chart_fits_a_phone_screen(phone: Page, path: str, ready: str) -> None:
    """At 390 px the page does not scroll sideways, no table hides columns off to the right, and the charts
    are drawn for the screen (no scrolling inside them, every label inside the chart)."""
    p = phone.go(path)
    p.wait_for_selector(ready)
    p.wait_for_function("() => !document.getElementById('status').textContent")
    assert p.evaluate(OVERFLOW) == []


def test_the_phone_keeps_the_columns_that_say_what_a_row_is(phone: Page) -> None:
    """On a phone the session id column is wide enough to read (not a letter a line) and stats by service keeps its Count
    column (the column hidden is chosen by name, not by a position that moves with ``by``)."""
    p = phone.go("/sessions")
    link = p.locator('tr[data-session-id="session-of-a-long-name"] td.name a')
    link.wait_for()
    # Before: the nine columns left the id about two letters wide. A long id may wrap, but at words.
    assert link.evaluate("(a) => a.closest('td').getBoundingClientRect().width") >= 80
    p = phone.go("/stats?by=service")
    p.wait_for_selector("table.stats tbody tr")
    shown = p.locator("table.stats th").evaluate_all(
        "(ths) => ths.filter((th) => th.offsetParent !== null).map((th) => th.textContent)"
    )
    assert shown[:3] == ["Service", "Count", "Errors"] and "p99" in shown
    p = phone.go("/stats")
    p.wait_for_selector("table.stats tbody tr")
    shown = p.locator("table.stats th").evaluate_all(
        "(ths) => ths.filter((th) => th.offsetParent !== null).map((th) => th.textContent)"
    )
    assert shown[:2] == ["Span name", "Count"] and "Kind" not in shown and "p99" in shown


def test_changing_the_sessions_filters_keeps_one_live_feed(browser: Any, site: tuple[Viewer, dict[str, str]]) -> None:  # noqa: F811
    """Each filter change used to open one more /api/live feed (a browser holds six connections per host: the
    seventh change left the page's own requests waiting); now the page keeps the one it opened, and the list
    still follows every change."""
    opened = Page(browser, site[0])
    feeds: list[str] = []
    opened.page.on("request", lambda r: feeds.append(r.url) if "/api/live" in r.url else None)
    try:
        p = opened.go("/sessions")
        p.wait_for_function("() => document.querySelectorAll('tr[data-session-id]').length === 2")
        for _ in range(4):
            p.select_option('select[name="kind"]', "conversation")
            p.wait_for_function("() => document.querySelectorAll('tr[data-session-id]').length === 1")
            p.select_option('select[name="kind"]', "session")
            p.wait_for_function(
                "() => [...document.querySelectorAll('tr[data-session-id]')].map((r) => r.dataset.sessionId).join() === 'session-of-a-long-name'"
            )
        p.select_option('select[name="kind"]', "")
        p.wait_for_function("() => document.querySelectorAll('tr[data-session-id]').length === 2")
        assert len(feeds) == 1, feeds
    finally:
        opened.context.close()
    assert opened.errors == []


def test_a_waterfall_of_microseconds_has_distinct_ticks(phone: Page, site: tuple[Viewer, dict[str, str]]) -> None:
    """A trace a few µs long: the axis ticks are all different (one decimal under 10 µs), not "1 µs, 2 µs, 2 µs"."""
    phone.context.set_default_timeout(30_000)
    p = phone.go(f"/traces/{site[1]['turn']}")
    p.wait_for_selector(".wf-row")
    p.set_viewport_size({"width": 1280, "height": 800})  # the phone shows only the first and last tick
    ticks = p.locator(".wf-axis .tick").all_text_contents()
    assert len(ticks) == 5 and len(set(ticks)) == 5, ticks


def test_a_genai_span_without_messages_says_what_its_section_holds(
    phone: Page, site: tuple[Viewer, dict[str, str]]
) -> None:
    """A span with GenAI tokens and no messages titles its section "GenAI usage" (with the tokens), a model call
    whose content was not stored "Conversation (not stored)" with the hint; neither says "0 messages"."""
    p = phone.go(f"/traces/{site[1]['agent']}")
    section = p.locator(".detail .transcript")
    section.wait_for()
    assert section.locator("summary").first.text_content() == "GenAI usage"
    assert "input 7" in str(section.locator(".tokens").text_content())
    p = phone.go(f"/traces/{site[1]['chat']}")
    section.wait_for()
    assert section.locator("summary").first.text_content() == "Conversation (not stored)"
    assert "CAPTURE_MESSAGE_CONTENT" in str(section.locator(".no-content").text_content())


def test_the_stats_axis_ticks_by_decades(browser: Any, site: tuple[Viewer, dict[str, str]]) -> None:  # noqa: F811
    """Between its two ends the log-scale latency axis is labelled at powers of ten, not at its geometric middle
    (which read "949 µs")."""
    opened = Page(browser, site[0])
    try:
        p = opened.go("/stats")
        p.wait_for_selector(".chart svg .box")
        labels = p.locator(".chart svg text.axis").all_text_contents()
        between = p.locator('.chart svg text.axis[text-anchor="middle"]').all_text_contents()
    finally:
        opened.context.close()
    decades = {"1 µs", "10 µs", "100 µs", "1.00 ms", "10.0 ms", "100 ms", "1.00 s", "10.0 s"}
    assert len(labels) >= 3 and between and set(between) <= decades, labels


def test_screens_dir_is_where_the_readme_points() -> None:
    """The README's viewer section shows images from docs/screenshots/ that exist."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    shown = [part.split(")")[0] for part in readme.split("](docs/screenshots/")[1:]]
    assert shown, "the README shows no screenshot"
    missing = [name for name in shown if not (Path(__file__).parent.parent / "docs" / "screenshots" / name).exists()]
    assert missing == []
