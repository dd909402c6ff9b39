"""The sessions pages in a real browser (Debian's Chromium via Playwright) against a real ``otel-lens serve``:
list → session → its turns as a chat → a turn's trace; the conversation ↔ session hierarchy both ways; filters
kept in the URL; a hostile session id and message shown as text, running nothing; no console errors.
``OTEL_LENS_UPDATE_SCREENSHOTS=1`` also writes docs/screenshots/{sessions,session,trace-genai}-*.png (of a
realistic support session, tests/_story_demo.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_lens.settings import Settings
from otel_lens.testing import SpanFactory
from tests import _story_demo
from tests._sessions_helpers import export, turn
from tests._web import Viewer, serve
from tests.test_web_browser import Page, browser, save_screenshot  # noqa: F401  (the Chromium fixture)

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

HOSTILE = '<img src=x onerror="window.__pwned=1">'
QUESTION = "<script>window.__pwned=2</script> what is 2+2?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, list[str]]]:
    database = tmp_path_factory.mktemp("sessions-browser") / "lens.db"
    settings = Settings.load(environ={}, database=str(database), sweep_interval=0)
    factory = SpanFactory("agents")
    begin = time.time_ns() - 60 * 10**9
    traces = [
        turn(factory, {"session.id": "sess-1", "gen_ai.conversation.id": "planner"}, start_ns=begin, question=QUESTION),
        turn(factory, {"session.id": "sess-1", "gen_ai.conversation.id": "coder"}, start_ns=begin + 10**9, fail=True),
        turn(factory, {"session.id": "sess-1", "gen_ai.conversation.id": "planner"}, start_ns=begin + 2 * 10**9),
        turn(factory, {"session.id": HOSTILE}, start_ns=begin + 3 * 10**9),
    ]
    export(settings, *traces)
    ids = [t[0].context.trace_id.to_bytes(16, "big").hex() for t in traces]
    with serve(database) as viewer:
        yield viewer, ids


@pytest.fixture
def page(browser: Any, site: tuple[Viewer, list[str]]) -> Iterator[Page]:  # noqa: F811
    opened = Page(browser, site[0])
    yield opened
    opened.context.close()
    assert opened.errors == [], "console errors on the page"


def test_list_then_session_then_turn_then_trace(page: Page, site: tuple[Viewer, list[str]]) -> None:
    """The list shows sessions and conversations; clicking the session shows its totals, its conversations and
    three turns in time order (the failed one marked, the question and answer as bubbles); a turn links to its
    trace's waterfall; a conversation links back to its session."""
    ids = site[1]
    p = page.go("/sessions")
    p.locator('tr[data-session-id="sess-1"] a').click()
    p.wait_for_url("**/sessions/sess-1")
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 3")
    assert p.locator(".turn").evaluate_all("(els) => els.map((e) => e.dataset.traceId)") == ids[:3]
    assert p.locator(".turn.failed").count() == 1
    assert p.locator(".hierarchy a").all_text_contents() == ["planner 2 traces", "coder 1 trace"]
    assert p.locator(".turn").first.locator(".bubble.user p").text_content() == QUESTION
    assert p.locator(".turn").first.locator(".bubble.assistant p").text_content() == "Sure."
    totals = str(p.locator(".session-totals").text_content())
    assert "Traces3" in totals and "Errors1" in totals and "Tokens in300" in totals
    p.locator(".hierarchy a", has_text="planner").click()
    p.wait_for_url("**/sessions/planner?kind=conversation")
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 2")
    assert p.locator(".hierarchy a").all_text_contents() == ["sess-1 3 traces"]
    p.locator(".turn").nth(1).locator("a.turn-link").click()
    p.wait_for_url(f"**/traces/{ids[2]}")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 2")
    assert p.evaluate("() => typeof window.__pwned") == "undefined"


def test_filters_live_in_the_url(page: Page, site: tuple[Viewer, list[str]]) -> None:
    """Choosing a kind narrows the list and is kept in the URL; opening that URL shows the same list."""
    p = page.go("/sessions")
    p.wait_for_function("() => document.querySelectorAll('tr[data-session-id]').length === 4")
    p.select_option('select[name="kind"]', "conversation")
    p.wait_for_function("() => location.search.includes('kind=conversation')")
    p.wait_for_function("() => document.querySelectorAll('tr[data-session-id]').length === 2")
    p = page.go("/sessions?kind=session")
    p.wait_for_function("() => document.querySelectorAll('tr[data-session-id]').length === 2")
    assert p.locator('select[name="kind"]').input_value() == "session"


def test_hostile_session_id_and_messages_render_as_text(page: Page, site: tuple[Viewer, list[str]]) -> None:
    """A session id and a user message holding markup are shown as their literal text on the list and the session
    page (reached through the percent-encoded link) and run no script; no element is made of them."""
    p = page.go("/sessions")
    link = p.locator("tr[data-session-id] a", has_text="<img")
    assert link.text_content() == HOSTILE
    link.click()
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 1")
    assert p.locator(".session-id").text_content() == HOSTILE
    assert p.locator("main img").count() == 0 and p.locator("main script").count() == 0
    p = page.go("/sessions/sess-1")
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 3")
    assert p.locator("main script").count() == 0
    assert p.evaluate("() => typeof window.__pwned") == "undefined"


def test_an_unknown_session_says_so(page: Page, site: tuple[Viewer, list[str]], tmp_path: Path) -> None:
    """An unknown id shows "Not found" with the API's reason, a link back to the list, and no broken page."""
    p = page.go("/sessions/nope")
    p.locator("h1", has_text="Not found").wait_for()
    assert "no session or conversation 'nope'" in str(p.locator(".notice").text_content())
    page.errors.clear()  # the 404 of the API call is logged by Chromium as a failed resource: expected here


def test_a_session_page_shows_new_turns_live(page: Page, site: tuple[Viewer, list[str]], tmp_path: Path) -> None:
    """With the session page open, a trace of that session stored by another process's exporter appears as a new
    turn without a reload (the page follows /api/live), and the list shows the new count."""
    p = page.go("/sessions/live-1")
    p.locator("h1", has_text="Not found").wait_for()  # nothing of it stored yet
    page.errors.clear()
    database = site[0].process.args[site[0].process.args.index("--database") + 1]
    settings = Settings.load(environ={}, database=str(database), sweep_interval=0)
    export(settings, turn(SpanFactory("agents"), {"session.id": "live-1"}))
    p = page.go("/sessions/live-1")
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 1")
    export(settings, turn(SpanFactory("agents"), {"session.id": "live-1"}, ((7, 7),)))
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 2", timeout=60_000)
    lst = page.go("/sessions")
    lst.wait_for_function("() => document.querySelector('tr[data-session-id=\"live-1\"]') !== null")
    export(settings, turn(SpanFactory("agents"), {"session.id": "live-1"}))
    lst.wait_for_function(
        "() => document.querySelector('tr[data-session-id=\"live-1\"] td:nth-child(5)').textContent === '3'",
        timeout=60_000,
    )


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, dict[str, str]]]:
    database = tmp_path_factory.mktemp("sessions-story") / "lens.db"
    ids = _story_demo.build(str(database), time.time_ns())
    with serve(database) as viewer:
        yield viewer, ids


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_sessions_screenshots(
    browser: Any,  # noqa: F811
    story: tuple[Viewer, dict[str, str]],
    tmp_path: Path,
    width: int,
    height: int,
) -> None:
    """The sessions list, one session's turns and a turn's model call with its conversation render at desktop and
    phone size without console errors and without sideways scrolling (the README's screenshots)."""
    viewer, ids = story
    shot = Page(browser, viewer, width, height)
    pages = {
        "sessions": ("/sessions", "tr[data-session-id]"),
        "session": (f"/sessions/{_story_demo.SESSION}", ".turn .bubble.assistant"),
        "trace-genai": (f"/traces/{ids['turn0']}", ".wf-row"),
    }
    try:
        for name, (path, ready) in pages.items():
            p = shot.go(path)
            p.wait_for_selector(ready)
            if name == "trace-genai":  # the model call's detail: the conversation as messages by role
                p.locator(".wf-row", has_text="chat gpt-4o").last.click()  # the answer, after the tool's result
                p.locator(".detail .transcript .msg.role-assistant.output").wait_for()
            p.wait_for_function("() => !document.getElementById('status').textContent")
            assert p.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), name
            out = tmp_path / f"{name}-{width}x{height}.png"
            save_screenshot(p, out)
    finally:
        shot.context.close()
    assert shot.errors == []


def test_span_detail_links_session_and_conversation_ids(page: Page, site: tuple[Viewer, list[str]]) -> None:
    """On a trace page, the span detail shows ``session.id`` as a link to ``/sessions/<id>`` and
    ``gen_ai.conversation.id`` as one to ``/sessions/<id>?kind=conversation``; following them opens those pages;
    a hostile id is a link whose text is the id, running nothing."""
    ids = site[1]
    p = page.go(f"/traces/{ids[0]}")
    p.locator(".wf-row").first.click()
    p.locator(".detail a.session-link").first.wait_for()
    hrefs = p.locator(".detail a.session-link").evaluate_all("(els) => els.map((e) => e.getAttribute('href'))")
    assert sorted(hrefs) == ["/sessions/planner?kind=conversation", "/sessions/sess-1"]
    p.locator(".detail a.session-link", has_text="sess-1").click()
    p.wait_for_url("**/sessions/sess-1")
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 3")
    p = page.go(f"/traces/{ids[0]}")
    p.locator(".wf-row").first.click()
    p.locator(".detail a.session-link", has_text="planner").click()
    p.wait_for_url("**/sessions/planner?kind=conversation")
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 2")
    p = page.go(f"/traces/{ids[3]}")
    p.locator(".wf-row").first.click()
    link = p.locator(".detail a.session-link")
    link.wait_for()
    assert link.text_content() == HOSTILE
    link.click()
    p.wait_for_function("() => document.querySelectorAll('.turn').length === 1")
    assert p.evaluate("() => typeof window.__pwned") == "undefined"
