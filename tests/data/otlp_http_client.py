"""A client process for the receiver tests: the official OTLP/HTTP exporters beside in-memory ones.

Usage: python otlp_http_client.py ENDPOINT OUT.json [gzip|deflate|none] [TOKEN]

Exports a small, varied set of spans and log records to ENDPOINT with the official
``opentelemetry-exporter-otlp-proto-http`` exporters (batch processors, as an application configures
them), sends the same spans a second time, and writes to OUT.json what the SDK's in-memory exporters
captured beside them, as plain JSON (hex ids), for the test to compare with what the store returns.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

endpoint, out = sys.argv[1], sys.argv[2]
compression = Compression(sys.argv[3]) if len(sys.argv) > 3 else Compression.NoCompression
headers = {"Authorization": f"Bearer {sys.argv[4]}"} if len(sys.argv) > 4 else None
resource = Resource.create({"service.name": "otlp-client", "deployment.environment": "test", "host.cores": 2})

spans_out = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=compression, headers=headers)
memory = InMemorySpanExporter()
tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
tracer_provider.add_span_processor(BatchSpanProcessor(spans_out, max_export_batch_size=4))
tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
tracer = tracer_provider.get_tracer("shop.lib", "2.1.0", schema_url="https://opentelemetry.io/schemas/1.26.0",
                                    attributes={"lib.flavour": "plain"})  # fmt: skip

logs_out = OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", compression=compression, headers=headers)
log_memory = InMemoryLogRecordExporter()
logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs_out))
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
logger = logger_provider.get_logger("shop.logs", "1.0")

with tracer.start_as_current_span(
    "POST /checkout",
    kind=SpanKind.SERVER,
    attributes={"http.request.method": "POST", "http.response.status_code": 200, "ratio": 0.25, "ok": True,
                "tags": ["a", "b"], "sizes": [1, 2, 3], "api_key": "s3cret-value"},
) as root:  # fmt: skip
    root.add_event("cart loaded", {"items": 3, "note": "fine"})
    with tracer.start_as_current_span("SELECT cart", kind=SpanKind.CLIENT, attributes={"db.system.name": "sqlite"}):
        logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO", body="cart of user 7: 3 items",
                    attributes={"user.id": 7, "password": "hunter2"})  # fmt: skip
    with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as pay:
        pay.set_status(Status(StatusCode.ERROR, "card declined"))
        logger.emit(
            severity_number=SeverityNumber.ERROR, severity_text="ERROR", body={"event": "payment failed", "code": 51}
        )
    with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER):
        pass
    link = Link(root.get_span_context(), {"link.reason": "follows"})
    with tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER, links=[link]) as consume:
        consume.set_status(Status(StatusCode.OK))
logger.emit(severity_number=SeverityNumber.WARN, body="no span around me", event_name="shop.warning")

tracer_provider.shutdown()  # flushes the batch processors through the official exporters
logger_provider.shutdown()
finished = memory.get_finished_spans()
# The same spans once more, through a fresh exporter: the store must keep them once.
again = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=compression, headers=headers)
resent = again.export(finished)
again.shutdown()


def hex_id(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def plain(attributes: Any) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in (attributes or {}).items()}


spans = [
    {
        "trace_id": hex_id(s.context.trace_id, 32),
        "span_id": hex_id(s.context.span_id, 16),
        "parent_span_id": hex_id(s.parent.span_id, 16) if s.parent else None,
        "name": s.name,
        "kind": s.kind.name,
        "start_time_unix_nano": s.start_time,
        "end_time_unix_nano": s.end_time,
        "status": {"code": s.status.status_code.name, "message": s.status.description},
        "attributes": plain(s.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": plain(e.attributes)} for e in s.events
        ],
        "links": [
            {
                "trace_id": hex_id(link.context.trace_id, 32),
                "span_id": hex_id(link.context.span_id, 16),
                "attributes": plain(link.attributes),
            }
            for link in s.links
        ],
        "resource": plain(s.resource.attributes),
        "scope": {
            "name": s.instrumentation_scope.name,
            "version": s.instrumentation_scope.version,
            "attributes": plain(s.instrumentation_scope.attributes),
        },
    }
    for s in finished
]
logs = []
for readable in log_memory.get_finished_logs():
    record = readable.log_record
    logs.append(
        {
            "time_unix_nano": record.timestamp,
            "observed_time_unix_nano": record.observed_timestamp,
            "severity_text": record.severity_text,
            "severity_number": record.severity_number.value if record.severity_number else None,
            "body": record.body,
            "attributes": plain(record.attributes),
            "trace_id": hex_id(record.trace_id, 32) if record.trace_id else None,
            "span_id": hex_id(record.span_id, 16) if record.span_id else None,
            "event_name": record.event_name,
        }
    )
with open(out, "w", encoding="utf-8") as file:
    json.dump({"spans": spans, "logs": logs, "resent": resent == SpanExportResult.SUCCESS}, file)
