"""encode_spans reads SDK span fields directly for speed; these pin that it stores exactly what the API returns."""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util import types

from otel_lens.export.encode import encode_spans
from otel_lens.store.codec import loads


@pytest.fixture
def finished_spans() -> Iterator[list[ReadableSpan]]:
    """Spans from a real TracerProvider: attributes, events, a link, an error status, a remote parent."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "fast-path"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.fast_path", "1.0")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"http.route": "/x", "n": 3}) as root:
        root.add_event("started", {"payload": b"\x00\x01", "ratio": float("nan")})
        with tracer.start_as_current_span("child", links=[Link(root.get_span_context(), {"why": "retry"})]) as child:
            child.set_attribute("tags", ("a", "b"))
            child.set_status(Status(StatusCode.ERROR, "boom"))
            child.add_event("no attributes")
    remote = trace.SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=trace.TraceFlags(1))
    tracer.start_span("from remote parent", context=trace.set_span_in_context(trace.NonRecordingSpan(remote))).end()
    yield list(memory.get_finished_spans())
    provider.shutdown()


class _PublicOnly(ReadableSpan):
    """A ReadableSpan subclass overriding a property, so encode must fall back to the public API."""

    @property
    def attributes(self) -> types.Attributes:
        return MappingProxyType(dict(self._attributes or {}))


class _Redacting(ReadableSpan):
    """A wrapper whose property differs from its backing field (e.g. a redacting processor's view)."""

    @property
    def attributes(self) -> types.Attributes:
        return {key: "[redacted]" for key in (self._attributes or {})}


def _copy(span: ReadableSpan, cls: type[ReadableSpan], events: Any = None) -> ReadableSpan:
    return cls(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=span.events if events is None else events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def test_sdk_spans_encode_the_same_as_through_the_public_properties(finished_spans: list[ReadableSpan]) -> None:
    """The direct field reads give exactly the rows the public ReadableSpan API gives."""
    fast = encode_spans(finished_spans)
    public = encode_spans([_copy(span, _PublicOnly) for span in finished_spans])
    assert fast.rows == public.rows
    assert fast.resources == public.resources and fast.scopes == public.scopes
    assert len(fast.rows) == 3


def test_overridden_properties_are_what_gets_stored(finished_spans: list[ReadableSpan]) -> None:
    """A span class overriding a property is encoded from that property, never from the hidden field."""
    rows = encode_spans([_copy(span, _Redacting) for span in finished_spans]).rows
    root = next(row for row in rows if row[3] == "root")
    assert loads(root[10]) == {"http.route": "[redacted]", "n": "[redacted]"}


def test_events_given_as_a_plain_tuple_and_custom_event_classes_are_encoded(
    finished_spans: list[ReadableSpan],
) -> None:
    """Events not held in the SDK's BoundedList, or not of its Event class, still store name, time and attributes."""

    class _MyEvent(Event):
        @property
        def name(self) -> str:
            return "renamed"

    root = next(span for span in finished_spans if span.name == "root")
    event = root.events[0]
    custom = _MyEvent(event.name, event.attributes, event.timestamp)
    rows = encode_spans([_copy(root, ReadableSpan, events=(event, custom))]).rows
    stored = loads(rows[0][11])
    assert [e[0] for e in stored] == ["started", "renamed"]
    assert stored[1][1] == event.timestamp
    assert stored[1][2]["payload"] == b"\x00\x01"
    assert stored[1][2]["ratio"] != stored[1][2]["ratio"]  # NaN survived the fast JSON path
