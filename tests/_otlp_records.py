"""Real SDK spans and log records that use every field OTLP has, for the OTLP/JSON, import and export tests.

Made by a real TracerProvider / LoggerProvider (captured in memory): a remote parent with tracestate,
links with flags, tracestate, attributes and dropped counts, events with dropped counts, counts dropped by
SpanLimits / LogRecordLimits, every span kind and status, attribute values of every type (and arrays of
them), resource and scope schema URLs, scope attributes, a scope with nothing but a name, log bodies of
every shape (text, map, list, bytes, number), severities, event names, trace flags and ids.
"""

from __future__ import annotations

import warnings
from typing import Any

from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

T0 = 1_704_067_200 * 10**9
RESOURCE_SCHEMA = "https://opentelemetry.io/schemas/1.26.0"
SCOPE_SCHEMA = "https://example.com/schemas/scope/3"
ROOT_TRACE = 0xA1
"""The trace id of the span tree (its parent is remote); the other spans are traces of their own."""


def sdk_spans() -> list[ReadableSpan]:
    """Finished spans of two resources and three scopes, covering every span field."""
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=8, max_events=2, max_links=2, max_event_attributes=1,
                        max_link_attributes=1)  # fmt: skip
    resource = Resource({"service.name": "every-field", "deployment.environment": "test"}, schema_url=RESOURCE_SCHEMA)
    provider = TracerProvider(resource=resource, span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    other = TracerProvider(resource=Resource({"service.name": "other", "host.cores": 2}), shutdown_on_exit=False)
    other.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("every.scope", "2.0", schema_url=SCOPE_SCHEMA, attributes={"scope.kind": "lib"})
    plain = provider.get_tracer("plain.scope")  # no version, schema URL or attributes

    remote = SpanContext(ROOT_TRACE, 0xB2, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("vendor", "v1"), ("other", "o-2")]))  # fmt: skip
    linked = SpanContext(0xC3, 0xD4, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("linked", "yes")]))  # fmt: skip
    root = tracer.start_span(
        "GET /orders/{id}",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        start_time=T0,
        attributes={
            "text": "ünïcode ✓",
            "int": -(2**63),
            "big": 2**63 - 1,
            "float": 2.5,
            "bool": False,
            "texts": ["a", ""],
            "ints": [1, -2],
            "floats": [0.5, -1.0e300],
            "bools": [True, False],
            "dropped": "over max_span_attributes",
            "dropped.too": 1,
        },
        links=[
            Link(SpanContext(0x99, 0x98, is_remote=False), {"over": "the limit"}),  # SpanLimits keep the last two
            Link(SpanContext(0xE5, 0xF6, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT))),
            Link(linked, {"link.kept": "x", "link.dropped": "y"}),
        ],
    )
    root.add_event("first", timestamp=T0 + 10)  # the oldest event: SpanLimits(max_events=2) drops it
    root.add_event("second", {"kept": 1, "dropped": 2}, timestamp=T0 + 20)
    root.add_event("third", {"n": [3, 4]}, timestamp=T0 + 30)
    root.set_status(Status(StatusCode.ERROR, "it broke"))
    for offset, kind in enumerate((SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL)):
        child = plain.start_span(f"child {kind.name}", context=set_span_in_context(root), kind=kind,
                                 start_time=T0 + 100 + offset, attributes={"db.system": "sqlite"})  # fmt: skip
        child.set_status(Status(StatusCode.OK) if offset % 2 else Status(StatusCode.UNSET))
        child.end(end_time=T0 + 200 + offset)
    root.end(end_time=T0 + 1000)
    alone = plain.start_span("tick", start_time=T0 + 2000)  # a trace of its own: no tracestate, nothing dropped
    alone.end(end_time=T0 + 2500)
    elsewhere = other.get_tracer("other.scope", "0.1").start_span("elsewhere", start_time=T0 + 3000)
    elsewhere.end(end_time=T0 + 3001)
    provider.shutdown()
    other.shutdown()
    return list(memory.get_finished_spans())


def sdk_logs() -> list[ReadableLogRecord]:
    """Log records covering every field: bodies of every shape, severities, trace context, event names."""
    memory = InMemoryLogRecordExporter()
    resource = Resource({"service.name": "every-field"}, schema_url=RESOURCE_SCHEMA)
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False,
                              log_record_limits=LogRecordLimits(max_attributes=2))  # fmt: skip
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("every.logs", "1.2", schema_url=SCOPE_SCHEMA, attributes={"scope.kind": "logs"})
    plain = provider.get_logger("plain.logs")
    with warnings.catch_warnings():  # the record whose attribute LogRecordLimits drops warns, as it should
        warnings.simplefilter("ignore")
        _emit(logger, plain)
    provider.shutdown()
    return list(memory.get_finished_logs())


def _emit(logger: Logger, plain: Logger) -> None:
    in_span = set_span_in_context(NonRecordingSpan(SpanContext(ROOT_TRACE, 0xB3, is_remote=False,
                                                               trace_flags=TraceFlags(TraceFlags.SAMPLED))))  # fmt: skip
    logger.emit(timestamp=T0 + 1, observed_timestamp=T0 + 2, context=in_span, severity_number=SeverityNumber.WARN,
                severity_text="WARN", body="disk almost full", attributes={"k1": 1, "k2": "two", "k3": "dropped"},
                event_name="disk.warning")  # fmt: skip
    logger.emit(timestamp=T0 + 3, observed_timestamp=T0 + 4, severity_number=SeverityNumber.INFO,
                body={"structured": [1, "two", {"three": 3.0}], "raw": b"\x00\x01", "flag": True})  # fmt: skip
    logger.emit(timestamp=T0 + 5, observed_timestamp=T0 + 6, severity_number=SeverityNumber.FATAL4, body=[1, 2.5])
    logger.emit(timestamp=T0 + 7, observed_timestamp=T0 + 8, severity_number=SeverityNumber.ERROR, body=b"\xff\x00")
    plain.emit(timestamp=T0 + 9, observed_timestamp=T0 + 10, severity_text="debug", body="no number, no span")
    plain.emit(observed_timestamp=T0 + 11, body=42)  # no timestamp: the observed time stands in


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


UNUSUAL_TRACE = "0102030405060708090a0b0c0d0e0f10"


def unusual_requests() -> list[dict[str, Any]]:
    """OTLP/JSON requests (a trace one, a logs one) with what no SDK here sends: every AnyValue kind nested
    in maps and arrays, empty ones, NaN/±Infinity, int64 bounds, maps whose one key is a store tag name
    (``$int``, ``$bytes``), control characters, unknown kinds and status codes, times out of order or past
    2**63, links with bad ids, a scope with only attributes, log records without times or bodies."""
    values = [
        _kv("s", {"stringValue": "x\u0000y\u001b[31m"}),
        _kv("b", {"boolValue": True}),
        _kv("i", {"intValue": str(-(2**63))}),
        _kv("d", {"doubleValue": -0.0}),
        _kv("nan", {"doubleValue": "NaN"}),
        _kv("inf", {"doubleValue": "-Infinity"}),
        _kv("bytes", {"bytesValue": "AAEC"}),
        _kv("unset", {}),
        _kv("array", {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}, {}, {"arrayValue": {}}]}}),
        _kv("map", {"kvlistValue": {"values": [_kv("in", {"kvlistValue": {"values": [_kv("deep", {"boolValue": False})]}})]}}),
        _kv("looks.tagged", {"kvlistValue": {"values": [_kv("$bytes", {"stringValue": "AAE="})]}}),
        _kv("empty.map", {"kvlistValue": {}}),
    ]  # fmt: skip
    span = {
        "traceId": UNUSUAL_TRACE, "spanId": "0102030405060708", "parentSpanId": "1112131415161718",
        "traceState": "a=b", "flags": 769, "name": "unusual", "kind": 0,
        "startTimeUnixNano": "20", "endTimeUnixNano": "10", "attributes": values, "droppedAttributesCount": 3,
        "events": [{"timeUnixNano": "15", "name": "", "attributes": values[:3], "droppedAttributesCount": 1},
                   {"name": "no time"}],
        "droppedEventsCount": 2,
        "links": [{"traceId": "ff" * 16, "spanId": "ee" * 8, "traceState": "x=y", "droppedAttributesCount": 4},
                  {"traceId": "ff" * 16, "spanId": "not hex"}],
        "droppedLinksCount": 1, "status": {"code": 7, "message": "unknown code"},
    }  # fmt: skip
    tagged = {"traceId": UNUSUAL_TRACE, "spanId": "2122232425262728", "name": "one tag-named attribute", "kind": 5,
              "startTimeUnixNano": str(2**64 - 1), "endTimeUnixNano": str(2**64 - 1), "status": {"code": 1},
              "attributes": [_kv("$int", {"stringValue": "12"})]}  # fmt: skip
    traces = {"resourceSpans": [{
        "resource": {"attributes": [_kv("service.name", {"stringValue": "unusual"}), _kv("list", values[8]["value"])]},
        "schemaUrl": "https://example.com/resource",
        "scopeSpans": [
            {"scope": {"attributes": [_kv("only", {"intValue": "1"})]}, "schemaUrl": "https://example.com/s",
             "spans": [span]},
            {"scope": {}, "spans": [tagged]},
        ],
    }]}  # fmt: skip
    logs = {"resourceLogs": [{"resource": {}, "scopeLogs": [{
        "scope": {"name": "unusual.logs", "attributes": [_kv("x", {"stringValue": "y"})]},
        "schemaUrl": "https://example.com/logs",
        "logRecords": [
            {"severityNumber": 0, "body": {"kvlistValue": {"values": values}}, "attributes": values, "flags": 255,
             "traceId": UNUSUAL_TRACE, "spanId": "0102030405060708", "eventName": "ev", "droppedAttributesCount": 9,
             "observedTimeUnixNano": "7"},
            {"timeUnixNano": "5", "severityNumber": 30, "severityText": "X", "body": {"bytesValue": "/w=="}},
            {"timeUnixNano": "6", "body": {}},
            {"timeUnixNano": "8", "body": {"kvlistValue": {"values": [_kv("$int", {"stringValue": "3"})]}}},
        ],
    }]}]}  # fmt: skip
    return [traces, logs]
