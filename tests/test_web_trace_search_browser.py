"""The trace page in a real browser (Debian's Chromium via Playwright, a real ``otel-lens serve``), for what a new
user hit: the search inside a trace finds a failed span by its status message, its exception event (name and
``exception.*`` attributes) and its logs, not only by name and attributes; the span detail shows an
instrumentation scope without a version as its name alone (no bare "none" under it). Reuses the fixtures of
test_web_browser.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests.test_web_browser import Page, browser, page, site

__all__ = ["browser", "page", "site"]

SCOPE = ".detail details.section:has(> summary:text-is('Scope'))"
COMPLETE = "() => performance.getEntriesByName('otel-lens:trace-complete').length > 0"


def _search(p: Any, text: str) -> tuple[str, list[str], list[str]]:
    """Type ``text`` in the trace's search box: the counter, the matched spans' names and their match labels."""
    box = p.locator('input[name="q"]')
    box.fill(text)
    p.wait_for_function("(q) => new URLSearchParams(location.search).get('q') === q", arg=text)
    p.wait_for_function("() => document.querySelector('.matches').textContent !== ''")
    names = p.locator(".wf-row.match .wf-name").all_text_contents()
    labels = p.locator(".wf-row.match .attr-match").all_text_contents()
    return str(p.locator(".matches").text_content()), names, labels


def test_search_in_a_trace_finds_status_messages_events_and_logs(page: Page, site: Any) -> None:
    """On the failed checkout (its payment span: status "card declined", an exception event PaymentError, an
    ERROR log; its DB span: the log "…: 3 items"), each of these finds its span, says what matched, and keeps
    the query in the URL; a name search still matches by name."""
    failed = site[1]["failed"]
    p = page.go(f"/traces/{failed}")
    p.wait_for_function(COMPLETE)
    count, names, labels = _search(p, "declined")  # the status message (and exception.message)
    assert (count, names, labels) == ("1 match", ["charge card"], ["status=card declined"])
    count, names, labels = _search(p, "PaymentError")  # only in the exception event's attributes
    assert (count, names, labels) == ("1 match", ["charge card"], ["exception.type=PaymentError"])
    count, names, labels = _search(p, "exception")  # the event's name
    assert (count, names) == ("1 match", ["charge card"]) and labels == ["event=exception"]
    count, names, labels = _search(p, "3 items")  # a log of the span (the page has the trace's logs)
    assert (count, names) == ("1 match", ["SELECT cart"]) and labels[0].startswith("log=cart of user")
    count, names, labels = _search(p, "upstream")  # the root's status message
    assert (count, names) == ("1 match", ["POST /checkout"])
    count, names, labels = _search(p, "charge")  # by name, as before (the name itself is highlighted)
    assert (count, names, labels) == ("1 match", ["charge card"], [])
    assert p.locator(".wf-row.match .wf-name mark").text_content() == "charge"
    # Opened with the query in its URL: the same matches once the whole trace is in.
    p = page.go(f"/traces/{failed}?q=declined")
    p.wait_for_function(COMPLETE)
    p.wait_for_function("() => document.querySelector('.matches').textContent === '1 match'")
    assert p.locator(".wf-row.selected .wf-name").text_content() == "charge card"


def test_a_scope_without_a_version_shows_its_name_alone(page: Page, site: Any) -> None:
    """A span of the scope "otel_lens" with no version (what ``lens_fn`` spans have): the Scope section is the
    name, with no "none" line; a scope with a version and no attributes shows "name version" alone."""
    settings = Settings.load(environ={}, database=str(site[2]), sweep_interval=0)
    provider = TracerProvider(resource=Resource.create({"service.name": "scoped"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    try:
        start = time.time_ns()
        span = provider.get_tracer("otel_lens").start_span("bare scope", start_time=start)
        span.end(end_time=start + 10**6)
    finally:
        provider.shutdown()
    p = page.go(f"/traces/{span.get_span_context().trace_id:032x}")
    p.wait_for_function(COMPLETE)
    assert _lines(p.locator(SCOPE)) == ["Scope", "otel_lens"]  # no bare "none" line under the name
    p = page.go(f"/traces/{site[1]['ok']}")  # the demo's spans: scope "demo", version 1.0, no attributes
    p.wait_for_function(COMPLETE)
    assert _lines(p.locator(SCOPE)) == ["Scope", "demo 1.0"]


def _lines(locator: Any) -> list[str]:
    return [line.strip() for line in str(locator.inner_text()).splitlines() if line.strip()]
