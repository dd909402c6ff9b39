"""The sessions write path (store/_sessions.py) as the row builder feeds it: the session ids it groups by are the
stored attribute text's (redacted, made valid UTF-8), and a session's service is its earliest trace's root service
whatever order that trace's spans arrive in; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry import trace

from otel_lens._session_keys import keys_of_text
from otel_lens.settings import Settings
from otel_lens.store.shared import acquire, release
from otel_lens.testing import SpanFactory
from tests._sessions_helpers import export
from tests._store_helpers import models

BASE = 1_700_000_000 * 10**9


def _stored(settings: Settings) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (kind, id) of every lens_sessions row, and the keys the stored spans' attribute text names."""
    store = acquire(settings)
    try:
        m = models(store)
        rows = sorted((kind, sid) for kind, sid in m.session.select(m.session.kind, m.session.session_id).tuples())
        named = sorted({key for (text,) in m.span.select(m.span.attributes).tuples() for key in keys_of_text(text)})
        return rows, named
    finally:
        release(store)


def test_ids_are_grouped_as_stored_redacted_and_valid(settings: Settings) -> None:
    """The builder reads session keys from the attribute dicts, before they become text: an id is still exactly
    what the stored text says. A URL's secret query value and a secret inside JSON text are scrubbed from the
    id as from the text, a lone surrogate is replaced, an int is its decimal text, a bool or float names none."""
    factory = SpanFactory("chat")
    values: list[Any] = ["https://idp.example/cb?code=abc&token=SECRET1", '{"password": "SECRET2", "user": "u"}',
                         "bad\ud800half", 7, True, 1.5, "plain"]  # fmt: skip
    for number, value in enumerate(values):
        span = factory.tracer.start_span("turn", start_time=BASE + number, attributes={"session.id": value})
        span.end(end_time=BASE + number + 10)
    export(settings, factory.finished())
    rows, named = _stored(settings)
    assert rows == named
    assert len(rows) == 5 and not any("SECRET" in sid for _kind, sid in rows)
    assert ("session", "7") in rows and ("session", "plain") in rows and ("session", "bad\ufffdhalf") in rows


def _two_service_turn(gateway: SpanFactory, worker: SpanFactory, start: int) -> tuple[list[Any], list[Any]]:
    """One trace: a root in service "gateway" and a child in service "worker", both naming session "s"."""
    key = {"session.id": "s"}
    root = gateway.tracer.start_span("POST /chat", start_time=start, attributes=key)
    child = worker.tracer.start_span(
        "chat model", context=trace.set_span_in_context(root), start_time=start + 100, attributes=key
    )
    child.end(end_time=start + 200)
    root.end(end_time=start + 300)
    return gateway.finished(), worker.finished()


def _session(settings: Settings) -> tuple[Any, ...]:
    store = acquire(settings)
    try:
        s = models(store).session
        return tuple(s.select(s.service, s.trace_count, s.start_ns, s.end_ns).tuples().get())
    finally:
        release(store)


def test_service_is_the_earliest_traces_root_service_in_any_order(settings: Settings, tmp_path: Path) -> None:
    """A trace's child (service "worker") may arrive a batch before its root (service "gateway", starting
    earlier): the session's service is then the root's, as when both arrive together or the root first."""
    gateway, worker = SpanFactory("gateway"), SpanFactory("worker")
    roots, children = _two_service_turn(gateway, worker, BASE)
    export(settings, children, roots)
    for name, batches in (("together", [children + roots]), ("root-first", [roots, children])):
        other = Settings.load(environ={}, database=str(tmp_path / f"{name}.db"), sweep_interval=0)
        export(other, *batches)
        assert _session(other) == _session(settings), name
    assert _session(settings) == ("gateway", 1, BASE, BASE + 300)
