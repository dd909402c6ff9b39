"""The SDK adapter (export/encode.py) and the row builder behind it, on real SDK spans and log records.

The adapter reads SDK span fields directly for speed; the first tests pin that it stores exactly what
the public API returns. The others pin policies of the row builder that the SDK path used to get wrong:
times past what a row can hold, a tuple log body's secrets, and the one way "no version" is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util import types

from otel_lens.export import LensLogExporter, LensSpanExporter
from otel_lens.export.encode import encode_logs, encode_spans
from otel_lens.settings import Settings
from otel_lens.store.codec import loads
from tests._store_helpers import models


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


def _logged(emit: Any) -> list[ReadableLogRecord]:
    """Records a real LoggerProvider makes for ``emit(logger, plain_logger)``."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "rowbuilder"}), shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    emit(provider.get_logger("tests.rowbuilder", "1.0"), provider.get_logger("tests.plain"))
    provider.shutdown()
    return list(memory.get_finished_logs())


def test_span_times_past_a_row_are_clamped_not_a_lost_batch(sqlite_settings: Settings) -> None:
    """A span started or ended past 2**63 ns (an app passing its own start_time) is stored at the latest time a
    row holds, and the spans exported with it too: before, SQLite's integer overflow failed the whole batch."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.times")
    tracer.start_span("far future", start_time=2**64 - 5).end(end_time=2**64 - 1)
    tracer.start_span("ends before it starts", start_time=2_000).end(end_time=1_000)
    tracer.start_span("ordinary").end()
    provider.shutdown()
    exporter = LensSpanExporter(sqlite_settings)
    try:
        assert exporter.export(memory.get_finished_spans()).name == "SUCCESS"
        m = models(exporter.store)
        stored = {row.name: (row.start_ns, row.duration_ns) for row in m.span.select()}
    finally:
        exporter.shutdown()
    assert stored["far future"] == (2**63 - 1, 0)
    assert stored["ends before it starts"] == (2_000, 0)
    assert "ordinary" in stored


def test_log_times_past_a_row_are_clamped_not_a_lost_batch(sqlite_settings: Settings) -> None:
    """A log record timestamped past 2**63 ns is stored clamped, with the records beside it."""

    def emit(logger: Any, _plain: Any) -> None:
        logger.emit(timestamp=2**64 - 1, observed_timestamp=2**64 - 1, body="far future")
        logger.emit(body="now")

    exporter = LensLogExporter(sqlite_settings)
    try:
        assert exporter.export(_logged(emit)).name == "SUCCESS"
        m = models(exporter.store)
        stored = {loads(row.body): row.timestamp_ns for row in m.log.select()}
    finally:
        exporter.shutdown()
    assert stored["far future"] == 2**63 - 1 and stored["now"] > 0


def test_a_tuple_log_body_loses_its_secrets_like_a_list_body() -> None:
    """A structured body given as a tuple has its secret keys redacted as a list's are (it was stored as sent)."""

    def emit(logger: Any, _plain: Any) -> None:
        logger.emit(body=({"password": "hunter2", "user": "ann"}, "second"))
        logger.emit(body=[{"password": "hunter2", "user": "ann"}, "second"])

    from otel_lens._redact import Redactor

    rows = encode_logs(_logged(emit), Redactor(())).rows
    assert [loads(row[5]) for row in rows] == [[{"password": "[REDACTED]", "user": "ann"}, "second"]] * 2


def test_no_version_and_unspecified_severity_are_stored_one_way() -> None:
    """A scope without a version is NULL whether the SDK says "" (tracers) or None (loggers), and severity 0
    (OTLP's "unspecified") is NULL like none: OTLP cannot tell these apart, so every source stores them alike."""

    def emit(logger: Any, plain: Any) -> None:
        plain.emit(body="unspecified", severity_number=SeverityNumber.UNSPECIFIED)
        plain.emit(body="none")

    batch = encode_logs(_logged(emit))
    assert [row[3] for row in batch.rows] == [None, None]
    assert [scope.version for scope in batch.scopes] == [None]
    provider = TracerProvider(shutdown_on_exit=False)
    span = provider.get_tracer("tests.unversioned").start_span("s")  # the SDK gives this scope version ""
    span.end()
    spans = encode_spans([span])
    assert [(scope.name, scope.version) for scope in spans.scopes] == [("tests.unversioned", None)]
    provider.shutdown()


class _LoudStatus(Status):
    """A Status subclass whose properties differ from its fields: the adapter must ask the properties."""

    @property
    def description(self) -> str | None:
        return "from the property"


class _ShiftedContext(trace.SpanContext):
    """A SpanContext subclass whose span id property differs from its tuple item: read through the property."""

    @property
    def span_id(self) -> int:
        return 0x1234


def test_contexts_and_statuses_read_in_c_match_their_properties(
    finished_spans: list[ReadableSpan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter unpacks the SDK's SpanContext tuples and Status fields directly; the rows are the same as
    when every value comes through the public properties, and subclasses overriding them are read through
    them (ids, the remote-parent flag bits, trace flags, status code and description)."""
    from otel_lens.export import encode

    fast = encode_spans(finished_spans).rows
    monkeypatch.setattr(encode, "_CONTEXT_IS_TUPLE", False)
    assert encode_spans(finished_spans).rows == fast
    monkeypatch.undo()
    remote = next(span for span in finished_spans if span.name == "from remote parent")
    parent = remote.parent
    assert parent is not None
    odd = _copy(remote, ReadableSpan)
    odd._status = _LoudStatus(StatusCode.ERROR)
    odd._parent = _ShiftedContext(parent.trace_id, parent.span_id, True, parent.trace_flags)
    (row,) = encode_spans([odd]).rows
    assert row[2] == (0x1234).to_bytes(8, "big")
    assert row[5] & 0x300 == 0x300  # has-is-remote and is-remote
    assert (row[8], row[9]) == (StatusCode.ERROR.value, "from the property")
