"""The OTLP protobuf adapter stores exactly what the SDK path stores: the same row builder behind both sources.

Real SDK spans and log records (every attribute value type, events, links with attributes and flags,
a remote parent with tracestate, dropped counts, an error status, GenAI usage, a captured body,
secrets, a huge attribute, two resources and three scopes) go two ways: through LensSpanExporter /
LensLogExporter into one database, and through the SDK's own OTLP encoder
(opentelemetry-exporter-otlp-proto-common), protobuf bytes, ``parse_*_request`` and
``encode_*_request`` into another. Every table, ``show --json`` and ``export`` must come out the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as otlp_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as otlp_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
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

from otel_lens._redact import Redactor
from otel_lens.cli import main
from otel_lens.export import (
    LensLogExporter,
    LensSpanExporter,
    encode_logs_request,
    encode_trace_request,
    parse_logs_request,
    parse_trace_request,
)
from otel_lens.settings import Settings
from otel_lens.store import codec
from otel_lens.store.schema import models_for
from otel_lens.store.shared import acquire, release
from tests._postgres import PostgresServer

T0 = 1_704_067_200 * 10**9
HUGE = "h" * 300_000  # past the store's 64 KiB string cap and its 512 KiB row budget's share
SECRET = "sk-live-0123456789"


def _spans() -> list[ReadableSpan]:
    """Real SDK spans covering every field the store keeps."""
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=16, max_events=2, max_links=2, max_event_attributes=2,
                        max_link_attributes=2)  # fmt: skip
    resource = Resource({"service.name": "checkout", "host.name": "h1"}, schema_url="https://example.com/s/1")
    provider = TracerProvider(resource=resource, span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    other = TracerProvider(resource=Resource({"service.name": "worker"}), shutdown_on_exit=False)
    other.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("app.http", "3.1", schema_url="https://example.com/scope", attributes={"lib": "x"})
    plain = provider.get_tracer("app.db")
    worker = other.get_tracer("worker.jobs", "0.1")

    remote = SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("vendor", "v1"), ("other", "o-2")]))  # fmt: skip
    linked = SpanContext(0xC3, 0xD4, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("linked", "yes")]))  # fmt: skip
    every_type = {
        "s": "text ünïcode ✓",
        "b": True,
        "i": -(2**62),
        "f": 2.5,
        "nan": float("nan"),
        "bytes": b"\x00\xff",
        "strs": ("a", "b"),
        "ints": (1, 2, 3),
        "floats": (0.5, -1.0),
        "bools": (True, False),
        "api_key": SECRET,
        "url.full": f"https://user:pw@api.example.com/v1?token={SECRET}&q=1",
        "big": HUGE,
    }
    root = tracer.start_span(
        "POST /checkout/{id} ✓",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        start_time=T0,
        attributes={**every_type, "x1": 1, "x2": 2, "x3": 3, "x4": 4, "x5": 5},  # 18 > 16: two dropped
        links=[
            Link(SpanContext(0x99, 0x98, is_remote=False), {"over": "the limit"}),  # max_links=2 drops it
            Link(SpanContext(0xE5, 0xF6, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT))),
            Link(linked, {"link.kept": "x", "password": "hunter2", "link.dropped": "y"}),
        ],
    )
    root.add_event("first", timestamp=T0 + 10)  # max_events=2 drops the oldest
    root.add_event("retry", {"attempt": 2, "authorization": "Bearer abc", "dropped": 1}, timestamp=T0 + 20)
    root.add_event(
        "exception", {"exception.message": f"GET https://x.test/?api_key={SECRET} failed"}, timestamp=T0 + 30
    )
    root.set_status(Status(StatusCode.ERROR, f"upstream https://x.test/?api_key={SECRET} said 500"))
    llm = tracer.start_span(
        "chat gpt-4o",
        context=set_span_in_context(root),
        kind=SpanKind.CLIENT,
        start_time=T0 + 100,
        attributes={
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
            "gen_ai.usage.cache_read.input_tokens": 20,
            "lens.body.request": json.dumps({"messages": [{"role": "user", "content": "hi"}], "api_key": "[REDACTED]"}),
            "lens.body.request.content_type": "application/json",
            "lens.body.request.size": 80,
        },
    )
    llm.end(end_time=T0 + 900)
    for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
        span = plain.start_span(f"step {kind.name}", context=set_span_in_context(root), kind=kind, start_time=T0 + 200)
        span.end(end_time=T0 + 300)
    root.end(end_time=T0 + 1000)
    job = worker.start_span("job", start_time=T0 + 5000, attributes={"job.id": 7})  # another resource and trace
    job.set_status(Status(StatusCode.OK))
    job.end(end_time=T0 + 6000)
    provider.shutdown()
    other.shutdown()
    return list(memory.get_finished_spans())


def _logs(spans: list[ReadableSpan]) -> list[ReadableLogRecord]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource({"service.name": "checkout"}), shutdown_on_exit=False,
                              log_record_limits=LogRecordLimits(max_attributes=4))  # fmt: skip
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("app.logs", "1.2", schema_url="https://example.com/logs", attributes={"k": "v"})
    plain = provider.get_logger("plain.logs")
    root = next(span for span in spans if span.parent is not None and span.parent.is_remote)
    in_span = set_span_in_context(NonRecordingSpan(root.context))
    logger.emit(timestamp=T0 + 1, observed_timestamp=T0 + 2, context=in_span, severity_number=SeverityNumber.WARN,
                severity_text="WARN", body="card declined", event_name="payment.declined",
                attributes={"n": 1, "ok": False, "ratio": 0.5, "tags": ("a", "b"), "password": "pw", "x": "dropped"})  # fmt: skip
    logger.emit(timestamp=T0 + 3, observed_timestamp=T0 + 4, severity_number=SeverityNumber.ERROR,
                body={"request": {"headers": {"Authorization": "Bearer t"}, "url": f"https://a.test/?token={SECRET}"},
                      "items": [1, "two", {"three": 3.0}], "raw": b"\x01\x02"})  # fmt: skip
    logger.emit(timestamp=T0 + 5, observed_timestamp=T0 + 6, severity_number=SeverityNumber.INFO,
                body=["a list", {"secret": "s3"}], attributes={"big": HUGE})  # fmt: skip
    plain.emit(timestamp=T0 + 7, observed_timestamp=T0 + 8, body=b"\xde\xad")  # no severity, bytes body
    plain.emit(observed_timestamp=T0 + 9, severity_text="debug", body="no time, no number")
    provider.shutdown()
    return list(memory.get_finished_logs())


def _complete(request: ExportTraceServiceRequest, spans: list[ReadableSpan]) -> None:
    """Fill in what the SDK's OTLP encoder leaves out although OTLP carries it (other SDKs and `otel-lens
    export` send it): the W3C trace flags in span and link flags, and a link's tracestate."""
    by_id = {span.context.span_id.to_bytes(8, "big"): span for span in spans}
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for message in scope_spans.spans:
                span = by_id[message.span_id]
                message.flags |= int(span.context.trace_flags)
                for link_message, link in zip(message.links, span.links, strict=True):
                    link_message.flags |= int(link.context.trace_flags)
                    link_message.trace_state = link.context.trace_state.to_header()


# Row ids number rows as they arrive, which differs between the two ways (OTLP groups spans by resource
# and scope); they are compared through what they point at instead.
_POINTERS = {"trace_row": "lens_traces", "resource_id": "lens_resources", "scope_id": "lens_scopes"}
_NATURAL_KEY = {"lens_traces": "trace_id", "lens_resources": "digest", "lens_scopes": "digest"}


def _tables(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every lens_* table's rows, row ids replaced by the natural key of the row they point at, sorted."""
    store = acquire(settings)
    try:
        models = models_for(store.db)
        every = [models.resource, models.scope, models.trace, models.span, models.log, models.usage, models.body]
        keys: dict[str, dict[int, Any]] = {}
        for model in every:
            table = model._meta.table_name
            if table in _NATURAL_KEY:
                keys[table] = {row["id"]: bytes(row[_NATURAL_KEY[table]]) for row in model.select().dicts()}
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for model in every:
            table = model._meta.table_name
            rows = []
            for row in model.select().dicts():
                row.pop("id", None)
                for column, target in _POINTERS.items():
                    if column in row:
                        row[column] = keys[target][row[column]]
                rows.append(tuple(sorted((k, bytes(v) if isinstance(v, memoryview) else v) for k, v in row.items())))
            tables[table] = sorted(rows, key=repr)
        return tables
    finally:
        release(store)


def _store_sdk(settings: Settings, spans: list[ReadableSpan], logs: list[ReadableLogRecord]) -> None:
    span_exporter, log_exporter = LensSpanExporter(settings), LensLogExporter(settings)
    assert span_exporter.export(spans).name == "SUCCESS"
    assert log_exporter.export(logs).name == "SUCCESS"
    span_exporter.shutdown()
    log_exporter.shutdown()


def _store_otlp(settings: Settings, spans: list[ReadableSpan], logs: list[ReadableLogRecord]) -> None:
    """What a receiver does: bytes → parse → the adapter → the store, with the same redaction settings."""
    trace_request = otlp_encode_spans(spans)
    _complete(trace_request, spans)
    redactor = Redactor(settings.redact)
    traces = encode_trace_request(parse_trace_request(trace_request.SerializeToString()), redactor)
    records = encode_logs_request(parse_logs_request(otlp_encode_logs(logs).SerializeToString()), redactor)
    assert (traces.rejected, traces.error, records.rejected, records.error) == (0, None, 0, None)
    store = acquire(settings)
    try:
        assert store.write_spans(traces.batch) == len(spans)
        assert store.write_logs(records.batch) == len(logs)
    finally:
        release(store)


@pytest.fixture
def sdk_and_otlp() -> tuple[list[ReadableSpan], list[ReadableLogRecord]]:
    spans = _spans()
    with pytest.warns(Warning):  # LogRecordLimits dropping an attribute warns
        logs = _logs(spans)
    return spans, logs


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 0
    return capsys.readouterr().out


def test_otlp_request_stores_the_rows_the_sdk_path_stores(
    tmp_path: Path, sdk_and_otlp: tuple[list[ReadableSpan], list[ReadableLogRecord]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every table of a store fed through the OTLP adapter equals the one fed the same spans and logs through the
    SDK exporters, and so do `show --json` and `export --signal all` (redaction, caps, bodies, usage, interning
    included)."""
    spans, logs = sdk_and_otlp
    sdk = Settings.load(environ={}, database=str(tmp_path / "sdk.db"), sweep_interval=0)
    otlp = Settings.load(environ={}, database=str(tmp_path / "otlp.db"), sweep_interval=0)
    _store_sdk(sdk, spans, logs)
    _store_otlp(otlp, spans, logs)

    expected, got = _tables(sdk), _tables(otlp)
    assert list(got) == list(expected)
    for table, rows in expected.items():
        assert got[table] == rows, table
    # The cases are really there (so the equality above is not vacuous).
    assert {table: len(rows) for table, rows in expected.items()} == {
        "lens_resources": 3,  # two span resources, one log resource
        "lens_scopes": 5,
        "lens_traces": 2,
        "lens_spans": len(spans),
        "lens_logs": len(logs),
        "lens_usage": 1,
        "lens_bodies": 1,
    }
    stored = _cli(["export", "--signal", "all", "--database", sdk.database], capsys)
    assert SECRET not in stored and "hunter2" not in stored and "Bearer" not in stored
    assert "chars truncated]" in stored and HUGE not in stored
    assert '"droppedAttributesCount":2' in stored.replace(" ", "") and "vendor=v1,other=o-2" in stored
    assert stored == _cli(["export", "--signal", "all", "--database", otlp.database], capsys)
    for trace_id in (f"{0xA1:032x}", f"{spans[-1].context.trace_id:032x}"):
        shown = _cli(["show", trace_id, "--json", "--database", sdk.database], capsys)
        assert shown == _cli(["show", trace_id, "--json", "--database", otlp.database], capsys)
        assert json.loads(shown)["spans"]


@pytest.fixture
def two_postgres_databases(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    urls = (postgres_server.create_database(), postgres_server.create_database())
    yield urls
    for url in urls:
        postgres_server.drop_database(url)


@pytest.mark.postgres
def test_otlp_request_stores_the_rows_the_sdk_path_stores_on_postgresql(
    two_postgres_databases: tuple[str, str], sdk_and_otlp: tuple[list[ReadableSpan], list[ReadableLogRecord]]
) -> None:
    """The same equality on PostgreSQL (its one-statement batch forms and column types)."""
    spans, logs = sdk_and_otlp
    sdk, otlp = (Settings.load(environ={}, database=url, sweep_interval=0) for url in two_postgres_databases)
    _store_sdk(sdk, spans, logs)
    _store_otlp(otlp, spans, logs)
    expected, got = _tables(sdk), _tables(otlp)
    assert got == expected
    assert len(expected["lens_spans"]) == len(spans) and len(expected["lens_logs"]) == len(logs)


def test_redacted_and_capped_values_are_stored_the_same_way(
    tmp_path: Path, sdk_and_otlp: tuple[list[ReadableSpan], list[ReadableLogRecord]]
) -> None:
    """The secrets and the huge attribute reach the builder by both ways and leave it scrubbed and cut alike."""
    spans, logs = sdk_and_otlp
    otlp = Settings.load(environ={}, database=str(tmp_path / "otlp.db"), sweep_interval=0)
    _store_otlp(otlp, spans, logs)
    store = acquire(otlp)
    try:
        models = models_for(store.db)
        root = models.span.get(models.span.name == "POST /checkout/{id} ✓")
        attributes = codec.loads(root.attributes)
        assert attributes["api_key"] == "[REDACTED]"
        assert SECRET not in attributes["url.full"] and "pw@" not in attributes["url.full"]
        assert len(attributes["big"]) < len(HUGE) and attributes["big"].endswith("chars truncated]")
        assert attributes["bytes"] == b"\x00\xff" and attributes["strs"] == ["a", "b"]
        assert SECRET not in (root.status_message or "") and root.status_code == 2
        links = codec.loads(root.links)
        assert links[1][2]["password"] == "[REDACTED]" and links[1][3] == 0x301 and links[1][4] == "linked=yes"
        bodies = [codec.loads(log.body) for log in models.log.select()]
        assert {"request": {"headers": {"Authorization": "[REDACTED]"}, "url": "https://a.test/?token=[REDACTED]"},
                "items": [1, "two", {"three": 3.0}], "raw": b"\x01\x02"} in bodies  # fmt: skip
        assert ["a list", {"secret": "[REDACTED]"}] in bodies
    finally:
        release(store)
