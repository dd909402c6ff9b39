"""The viewer's pages in a real browser, for what a new user hit: a viewer started before anything is stored,
exact nanosecond timestamps in "copy subtree", an invalid filter shown at its field, GenAI transcripts, and the
wording/marks of the list, stats, usage and trace pages. Reuses the browser fixtures of test_web_browser.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from opentelemetry._logs import SeverityNumber

from tests._web import Demo, serve
from tests.test_web_browser import Page, browser, page, site

__all__ = ["browser", "page", "site"]


def test_a_viewer_started_before_the_database_shows_the_rows_once_they_are_stored(browser: Any, tmp_path: Path) -> None:
    """Served before the store exists: the page says "Nothing stored yet at <path>" in its body, keeps retrying
    (list and live feed), and shows the traces a separate writer process stores, without a reload."""
    database = tmp_path / "later.db"
    with serve(database) as viewer:
        opened = Page(browser, viewer)
        try:
            p = opened.go("/")
            notice = p.locator("#not-ready")
            notice.wait_for()
            assert "Nothing stored yet at" in str(notice.text_content())
            assert str(database) in str(notice.text_content())
            p.evaluate("() => { window.__sameDocument = true; }")
            writer = (
                "import sys, time\n"
                "from tests._web import Demo\n"
                "demo = Demo(sys.argv[1])\n"
                "print(demo.request(time.time_ns(), user=1))\n"
                "demo.close()\n"
            )
            done = subprocess.run(
                [sys.executable, "-c", writer, str(database)], capture_output=True, text=True, timeout=120,
                cwd=Path(__file__).parent.parent, check=True,
            )  # fmt: skip
            first = done.stdout.strip()
            p.locator(f'tr[data-trace-id="{first}"]').wait_for(timeout=60_000)
            assert p.locator("#not-ready").count() == 0
            # The live feed is open again too: a later trace arrives with no reload.
            p.wait_for_function(
                "() => !document.querySelector('button.live').classList.contains('down')", timeout=60_000
            )
            demo = Demo(str(database))
            try:
                second = demo.request(time.time_ns(), user=2)
            finally:
                demo.close()
            p.locator(f'tr[data-trace-id="{second}"]').wait_for(timeout=60_000)
            assert p.evaluate("() => window.__sameDocument") is True
        finally:
            opened.context.close()
        # 503 answers of the API (and the closed live feed) log console errors; nothing else may.
        assert [e for e in opened.errors if "503" not in e] == []


def test_copy_subtree_keeps_nanosecond_timestamps_exact(page: Page, site: Any) -> None:
    """ "Copy subtree as JSON" copies ns ints exactly (JS numbers would round 1796125553452700759 to …700700):
    every start/end/event time in the clipboard equals ``otel-lens show --json``'s."""
    database = site[2]
    demo = Demo(str(database))
    try:
        trace_id = demo.request(time.time_ns() // 1000 * 1000 + 759, user=9, fail=True)
    finally:
        demo.close()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=page.viewer.url)
    p = page.go(f"/traces/{trace_id}")
    p.wait_for_function("() => document.querySelectorAll('.wf-row').length === 4")
    p.locator(".wf-row").first.click()
    p.locator(".detail button.copy").click()
    p.wait_for_function("() => document.getElementById('status').textContent.startsWith('copied 4 spans')")
    copied = json.loads(p.evaluate("() => navigator.clipboard.readText()"))
    assert json.loads(p.locator(".copy-out").input_value()) == copied
    shown = subprocess.run(
        [sys.executable, "-m", "otel_lens", "show", trace_id, "--json", "--database", str(database)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    expected = json.loads(shown.stdout)

    def times(spans: list[dict[str, Any]]) -> dict[str, list[int]]:
        return {
            s["span_id"]: [s["start_time_unix_nano"], s["end_time_unix_nano"]]
            + [e["time_unix_nano"] for e in s["events"]]
            for s in spans
        }

    assert times(copied["spans"]) == times(expected["spans"])
    assert any(t % 1000 == 759 for ts in times(copied["spans"]).values() for t in ts)
    assert len(copied["logs"]) == 2


def test_an_invalid_filter_is_marked_at_its_field_and_the_list_is_not_filtered(page: Page, site: Any) -> None:
    """Min duration "5" (no unit) marks that field (aria-invalid, its message beside it), empties the list and
    says it is not filtered; correcting it to "5ms" clears the mark and lists the traces again."""
    p = page.go("/")
    p.wait_for_selector("tr[data-trace-id]")
    p.fill('input[name="min_duration"]', "5")
    field = p.locator('input[name="min_duration"]')
    p.wait_for_function(
        "() => document.querySelector('input[name=min_duration]').getAttribute('aria-invalid') === 'true'"
    )
    assert "has no unit" in str(p.locator(".filters .field-error").text_content())
    assert p.locator("tr[data-trace-id]").count() == 0
    assert "Not filtered" in str(p.locator("tbody").text_content())
    field.fill("5ms")
    p.wait_for_selector("tr[data-trace-id]")
    assert field.get_attribute("aria-invalid") is None
    assert p.locator(".field-error").count() == 0
    # The browser logs the 400 answer itself as a console error; nothing else may be logged.
    page.errors[:] = [e for e in page.errors if "status of 400" not in e]


def test_a_genai_span_shows_its_conversation_as_text(page: Page, site: Any) -> None:
    """A GenAI span's detail renders its transcript (system, user, the assistant's tool call with arguments, the
    tool result, finish reason, tokens with cache and reasoning), hostile content as literal text; a span with
    no content stored shows the hint saying what to set; attribute keys get break chances only at dots."""
    hostile = '<img src=x onerror="window.__pwned=3">'
    inputs = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris? " + hostile}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "result": {"temp_c": 21}}]},
    ]  # fmt: skip
    outputs = [{"role": "assistant", "parts": [{"type": "text", "content": "It is 21 °C."}], "finish_reason": "stop"}]
    start = time.time_ns()
    demo = Demo(str(site[2]))
    try:
        span = demo.span("agent", "chat gpt-4o", start, start + 500 * 10**6, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are terse."}]),
            "gen_ai.input.messages": json.dumps(inputs), "gen_ai.output.messages": json.dumps(outputs),
            "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 30,
            "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.reasoning.output_tokens": 7,
        })  # fmt: skip
        trace_id = f"{span.get_span_context().trace_id:032x}"
        bare = demo.chat(start, "gpt-4o-mini", 100)
    finally:
        demo.close()
    p = page.go(f"/traces/{trace_id}")
    conversation = p.locator(".detail .transcript")
    conversation.wait_for()
    text = str(conversation.text_content())
    for expected in ("You are terse.", "Weather in Paris? " + hostile, "get_weather", '"city": "Paris"', "call_1",
                     '"temp_c": 21', "It is 21 °C.", "stop", "input 1,200", "cache read 1,000", "reasoning 7"):  # fmt: skip
        assert expected in text, expected
    roles = conversation.locator(".msg-head b").all_text_contents()
    assert roles[:2] == ["system", "user"] and "tool" in roles and roles[-1] == "assistant"
    assert p.locator(".detail img").count() == 0
    assert p.evaluate("() => typeof window.__pwned") == "undefined"
    # Keys break only after a dot: every text piece of a key cell ends with "." except the last.
    key = p.locator(".detail table.kv th", has_text="gen_ai.usage.input_tokens").first
    assert key.locator("wbr").count() == 2
    p = page.go(f"/traces/{bare}")
    p.locator(".detail .transcript .no-content").wait_for()
    assert "OTEL_" in str(p.locator(".detail .transcript .no-content").text_content())


def test_wording_marks_and_colours_agree(page: Page, site: Any, tmp_path: Path) -> None:
    """Singular wording ("1 span", "1 log"); an exception on a span that did not fail is marked apart from errors
    and counted as such; two services get clearly different hues; an unknown trace shows one message and no
    empty panes; the usage page says "no GenAI spans" once; stats labels name kind and service."""
    start = time.time_ns()
    demo = Demo(str(site[2]))
    try:
        lone = demo.span("solo", "lonely", start, start + 10**6)
        lone_id = f"{lone.get_span_context().trace_id:032x}"
        demo.log("solo", lone, start + 1000, SeverityNumber.INFO, "one line")
        tracer = demo.tracer("worker")
        caught = tracer.start_span("retry job", start_time=start)
        caught.add_event(
            "exception", {"exception.type": "Timeout", "exception.message": "retried"}, timestamp=start + 1000
        )
        caught.end(end_time=start + 2 * 10**6)
        caught_id = f"{caught.get_span_context().trace_id:032x}"
    finally:
        demo.close()
    p = page.go(f"/traces/{lone_id}")
    meta = p.locator(".trace-head .meta")
    meta.wait_for()
    p.wait_for_function("() => document.querySelector('.trace-head .meta').textContent.includes('1 span ')")
    assert "1 log" in str(meta.text_content()) and "1 logs" not in str(meta.text_content())
    p = page.go(f"/traces/{caught_id}")
    p.locator(".wf-row").first.wait_for()
    assert p.locator(".wf-row.failed").count() == 0 and p.locator(".wf-row .err-mark").count() == 0
    assert p.locator(".wf-event.exception.handled").count() == 1
    assert "status is not ERROR" in str(p.locator(".wf-row .exc-mark").get_attribute("title"))
    assert "1 handled exception" in str(p.locator(".trace-head .exc-badge").text_content())
    hues = p.evaluate(
        "async () => { const c = await import('/static/common.js'); return [c.serviceHue('shop'), c.serviceHue('payments'), c.serviceHue('batch')]; }"
    )
    gaps = [min(abs(a - b), 360 - abs(a - b)) for i, a in enumerate(hues) for b in hues[i + 1 :]]
    assert min(gaps) >= 40, hues
    p = page.go("/traces/0123456789abcdef0123456789abcdef")
    p.locator(".trace-head h1").wait_for()
    p.wait_for_function("() => !document.getElementById('status').textContent")
    assert p.locator(".error-text").count() == 1 and p.locator(".wf-scroll").count() == 0
    p = page.go("/stats")
    p.wait_for_selector(".chart svg .label")
    labels = p.locator(".chart svg text.label").all_text_contents()
    assert any("CLIENT" in label and "payments" in label for label in labels), labels
    figure, svg = p.locator(".chart").bounding_box(), p.locator(".chart svg").bounding_box()
    assert svg["width"] >= 0.95 * figure["width"]
    p = page.go("/usage?since=1h")
    p.wait_for_selector(".chart svg rect")
    ends = p.locator(".chart svg text.axis").all_text_contents()[3:]
    assert ends and "UTC" in ends[0] and len(set(ends)) == len(ends), ends  # not the same label at both ends
    # A store with no GenAI span: the usage page says so once.
    plain = tmp_path / "plain.db"
    demo = Demo(str(plain))
    try:
        demo.span("solo", "lonely", start, start + 10**6)
    finally:
        demo.close()
    with serve(plain) as other:
        q = page.context.new_page()
        q.goto(other.url + "/usage")
        q.wait_for_selector("table.usage td.empty")
        assert str(q.locator("main").text_content()).count("No GenAI") == 1
    page.errors[:] = [e for e in page.errors if "status of 404" not in e]
