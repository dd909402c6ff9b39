"""`otel-lens export` is lossless: what the real SDK's own OTLP encoder makes of spans and logs, we export too.

Spans and logs come from the real SDK (a remote parent with tracestate, links with flags and tracestate,
events, counts dropped by SpanLimits / LogRecordLimits, resource and scope schema URLs, scope
attributes), go through LensSpanExporter / LensLogExporter into a real store, out through the
``otel-lens export`` CLI, and are parsed with the official opentelemetry-proto message classes. The
reference is ``encode_spans`` / ``encode_logs`` of opentelemetry-exporter-otlp-proto-common, run on
the very same SDK objects.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
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

from otel_lens.cli import main
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests._store_helpers import models as store_models

T0 = 1_704_067_200 * 10**9
RESOURCE_SCHEMA = "https://opentelemetry.io/schemas/1.26.0"
SCOPE_SCHEMA = "https://example.com/schemas/scope/3"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def hex_ids_to_base64(value: Any) -> Any:
    """OTLP/JSON writes ids as hex where generic proto3 JSON expects base64; OTLP receivers convert just these."""
    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in _ID_FIELDS and isinstance(v, str)
            else hex_ids_to_base64(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [hex_ids_to_base64(v) for v in value]
    return value


def _make_spans(settings: Settings) -> InMemorySpanExporter:
    """Real SDK spans, each sent both to the store and to memory (the reference's input)."""
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=3, max_events=2, max_links=2, max_event_attributes=1,
                        max_link_attributes=1)  # fmt: skip
    resource = Resource({"service.name": "lossless", "deployment.environment": "test"}, schema_url=RESOURCE_SCHEMA)
    provider = TracerProvider(resource=resource, span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    tracer = provider.get_tracer("lossless.scope", "2.0", schema_url=SCOPE_SCHEMA, attributes={"scope.kind": "lib"})
    plain = provider.get_tracer("plain.scope")  # no version, schema URL or attributes: the "nothing" case

    remote = SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("vendor", "v1"), ("other", "o-2")]))  # fmt: skip
    linked = SpanContext(0xC3, 0xD4, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("linked", "yes")]))  # fmt: skip
    local_link = SpanContext(0xE5, 0xF6, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    root = tracer.start_span(
        "GET /orders/{id}",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        start_time=T0,
        attributes={"a": 1, "b": 2.5, "c": True, "d": "dropped", "e": ("dropped", "too")},
        links=[
            Link(SpanContext(0x99, 0x98, is_remote=False), {"over": "the limit"}),  # SpanLimits keep the last two
            Link(local_link),
            Link(linked, {"link.kept": "x", "link.dropped": "y"}),
        ],
    )
    root.add_event("first", timestamp=T0 + 10)  # the oldest event: SpanLimits(max_events=2) drops it
    root.add_event("second", {"kept": 1, "dropped": 2}, timestamp=T0 + 20)
    root.add_event("third", {"n": 3}, timestamp=T0 + 30)
    root.set_status(Status(StatusCode.ERROR, "it broke"))
    child = plain.start_span("SELECT orders", context=set_span_in_context(root), kind=SpanKind.CLIENT,
                             start_time=T0 + 100, attributes={"db.system": "sqlite", "list": [1, 2, 3]})  # fmt: skip
    child.end(end_time=T0 + 200)
    root.end(end_time=T0 + 1000)
    alone = plain.start_span("tick", start_time=T0 + 2000)  # a new trace: no tracestate, nothing dropped
    alone.set_status(Status(StatusCode.OK))
    alone.end(end_time=T0 + 2500)
    provider.shutdown()
    return memory


def _make_logs(settings: Settings) -> InMemoryLogRecordExporter:
    memory = InMemoryLogRecordExporter()
    resource = Resource({"service.name": "lossless"}, schema_url=RESOURCE_SCHEMA)
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False,
                              log_record_limits=LogRecordLimits(max_attributes=2))  # fmt: skip
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(settings)))
    logger = provider.get_logger("lossless.logs", "1.2", schema_url=SCOPE_SCHEMA, attributes={"scope.kind": "logs"})
    plain = provider.get_logger("plain.logs")
    in_span = set_span_in_context(NonRecordingSpan(SpanContext(0xA1, 0xB3, is_remote=False,
                                                               trace_flags=TraceFlags(TraceFlags.SAMPLED))))  # fmt: skip
    logger.emit(timestamp=T0 + 1, observed_timestamp=T0 + 2, context=in_span, severity_number=SeverityNumber.WARN,
                severity_text="WARN", body="disk almost full", attributes={"k1": 1, "k2": "two", "k3": "dropped"},
                event_name="disk.warning")  # fmt: skip
    logger.emit(timestamp=T0 + 3, observed_timestamp=T0 + 4, severity_number=SeverityNumber.INFO,
                body={"structured": [1, "two", {"three": 3.0}], "raw": b"\x00\x01"})  # fmt: skip
    plain.emit(timestamp=T0 + 5, observed_timestamp=T0 + 6, severity_text="debug", body="no number, no span")
    provider.shutdown()
    return memory


def _attributes_by_key(value: Any) -> Any:
    """``value`` with every ``attributes`` list sorted by key: an attribute list is a map (the store keeps
    resource attributes sorted, to find equal resources), the rest of the order is compared as it is."""
    if isinstance(value, dict):
        return {
            k: sorted(map(_attributes_by_key, v), key=lambda kv: kv["key"])
            if k == "attributes"
            else _attributes_by_key(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_attributes_by_key(v) for v in value]
    return value


def _items(request: Message, signal: str) -> dict[str, dict[str, Any]]:
    """Each span / log record of ``request`` as a dict with its resource and scope (and their schema URLs)."""
    as_dict = _attributes_by_key(json_format.MessageToDict(request))
    found: dict[str, dict[str, Any]] = {}
    for resource_group in as_dict.get(f"resource{signal}", []):
        for scope_group in resource_group.get(f"scope{signal}", []):
            for item in scope_group.get("spans" if signal == "Spans" else "logRecords", []):
                entry = {
                    "item": item,
                    "resource": resource_group.get("resource", {}),
                    "resourceSchemaUrl": resource_group.get("schemaUrl"),
                    "scope": scope_group.get("scope", {}),
                    "scopeSchemaUrl": scope_group.get("schemaUrl"),
                }
                key = item.get("spanId") if signal == "Spans" else f"{item['timeUnixNano']}"
                assert key not in found
                found[key] = entry
    return found


def _as_sdk_writes_it(ours: dict[str, Any], sdk: dict[str, Any], span: ReadableSpan) -> None:
    """Two things the SDK's encoder leaves out and the OTLP spec has, which we export: the W3C trace flags
    in the low byte of span and link flags, and a link's tracestate. Check them against the SDK span,
    then take them out so the rest compares with what the SDK wrote."""
    assert ours["flags"] & 0xFF == int(span.context.trace_flags)
    for mine, link in zip(ours.get("links", []), span.links, strict=True):
        assert mine["flags"] & 0xFF == int(link.context.trace_flags)
        assert mine.pop("traceState", "") == link.context.trace_state.to_header()
        mine["flags"] &= ~0xFF
    assert ours["flags"] & ~0xFF == sdk["flags"]
    ours["flags"] &= ~0xFF


def _exported(settings: Settings, capsys: pytest.CaptureFixture[str], signal: str) -> list[dict[str, Any]]:
    assert main(["export", "--signal", signal, "--database", settings.database]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_span_export_equals_the_sdk_otlp_encoding(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Every span field the SDK's OTLP encoder writes — tracestate, parent, flags, dropped attribute/event/link
    counts, events with their dropped counts, links with tracestate/flags/dropped counts, status, resource
    and scope with schema URLs and scope attributes — comes out of `otel-lens export` the same."""
    memory = _make_spans(settings)
    lines = _exported(settings, capsys, "traces")
    assert len(lines) == 2 and all(set(line) == {"resourceSpans"} for line in lines)
    ours: dict[str, dict[str, Any]] = {}
    for line in lines:
        ours.update(
            _items(json_format.Parse(json.dumps(hex_ids_to_base64(line)), ExportTraceServiceRequest()), "Spans")
        )
    sdk_spans = memory.get_finished_spans()
    reference = _items(encode_spans(sdk_spans), "Spans")
    by_id = {base64.b64encode(s.context.span_id.to_bytes(8, "big")).decode(): s for s in sdk_spans}
    assert set(ours) == set(reference) == set(by_id)
    linked = ours[next(k for k, s in by_id.items() if s.links)]["item"]["links"]
    assert [link.get("traceState") for link in linked] == [None, "linked=yes"]  # before it is taken out
    for span_id, want in reference.items():
        got = ours[span_id]
        _as_sdk_writes_it(got["item"], want["item"], by_id[span_id])
        assert got == want, want["item"]["name"]
    # The cases the test is about really happened (so the comparison above is not vacuous).
    root = next(entry["item"] for entry in ours.values() if entry["item"]["name"] == "GET /orders/{id}")
    assert root["traceState"] == "vendor=v1,other=o-2"
    assert (root["droppedAttributesCount"], root["droppedEventsCount"], root["droppedLinksCount"]) == (2, 1, 1)
    assert [(e["name"], e.get("droppedAttributesCount")) for e in root["events"]] == [("second", 1), ("third", None)]
    assert [(link.get("droppedAttributesCount"), link["flags"]) for link in root["links"]] == [
        (None, 0x100),
        (1, 0x300),
    ]
    assert {entry["scopeSchemaUrl"] for entry in ours.values()} == {SCOPE_SCHEMA, None}
    assert {entry["resourceSchemaUrl"] for entry in ours.values()} == {RESOURCE_SCHEMA}


@pytest.mark.filterwarnings("ignore::opentelemetry.sdk._logs.LogRecordDroppedAttributesWarning")
def test_log_export_equals_the_sdk_otlp_encoding(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """`otel-lens export --signal logs`: ExportLogsServiceRequest lines whose records equal the SDK encoder's —
    times, severity, bodies (text, maps, lists, bytes), attributes with the dropped count, trace flags,
    trace/span ids, event name, resource and scope with schema URLs and scope attributes."""
    memory = _make_logs(settings)
    lines = _exported(settings, capsys, "logs")
    assert len(lines) == 1 and set(lines[0]) == {"resourceLogs"}
    request = json_format.Parse(json.dumps(hex_ids_to_base64(lines[0])), ExportLogsServiceRequest())
    ours = _items(request, "Logs")
    reference = _items(encode_logs(memory.get_finished_logs()), "Logs")
    assert set(ours) == set(reference) and len(ours) == 3
    for key, want in reference.items():
        assert ours[key] == want, key
    warning = ours[str(T0 + 1)]["item"]
    assert (warning["flags"], warning["droppedAttributesCount"], warning["eventName"]) == (1, 1, "disk.warning")


@pytest.mark.filterwarnings("ignore::opentelemetry.sdk._logs.LogRecordDroppedAttributesWarning")
def test_export_all_writes_traces_then_logs(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """`--signal all`: the trace requests first, then the log requests; the default is traces only (unchanged)."""
    _make_spans(settings)
    _make_logs(settings)
    kinds = [next(iter(line)) for line in _exported(settings, capsys, "all")]
    assert kinds == ["resourceSpans", "resourceSpans", "resourceLogs"]
    assert main(["export", "--database", settings.database]) == 0
    assert [next(iter(json.loads(line))) for line in capsys.readouterr().out.splitlines()] == ["resourceSpans"] * 2
    # --trace narrows both signals: the trace, and the one log record made inside it.
    assert main(["export", "--signal", "all", "--trace", f"{0xA1:032x}", "--database", settings.database]) == 0
    spans_line, logs_line = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert {s["traceId"] for s in spans_line["resourceSpans"][0]["scopeSpans"][0]["spans"]} == {f"{0xA1:032x}"}
    (record,) = logs_line["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert record["traceId"] == f"{0xA1:032x}" and record["eventName"] == "disk.warning"


def test_nothing_extra_stores_nulls(settings: Settings) -> None:
    """A span with no tracestate and nothing dropped, and a log outside any span, store NULL in the
    schema-2 columns (so ordinary rows do not grow)."""
    provider = TracerProvider(resource=Resource({"service.name": "n"}), shutdown_on_exit=False)
    exporter = LensSpanExporter(settings)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("s", start_time=T0).end(end_time=T0 + 1)
    logs = LoggerProvider(resource=Resource({"service.name": "n"}), shutdown_on_exit=False)
    log_exporter = LensLogExporter(settings)
    logs.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logs.get_logger("l").emit(timestamp=T0, body="b")
    models = store_models(exporter.store)
    span = models.span.get()
    assert span.extras is None
    log = models.log.get()
    assert (log.flags, log.dropped_attributes) == (None, None)
    assert models.scope.get(models.scope.name == "t").schema_url is None
    provider.shutdown()
    logs.shutdown()
