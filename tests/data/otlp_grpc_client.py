"""A client process for the OTLP/gRPC receiver tests: the official OTLP/gRPC exporters beside in-memory ones.

Usage: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT [OTEL_EXPORTER_OTLP_HEADERS=…]
       python otlp_grpc_client.py OUT.json [gzip|none]

Configured the way an application is, by the environment alone (the endpoint, the token header), it
exports spans and log records with ``opentelemetry-exporter-otlp-proto-grpc`` through batch processors,
sends the same spans a second time, and writes to OUT.json what the SDK's in-memory exporters captured
beside them (hex ids), for the test to compare with what the store returns.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from grpc import Compression
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

out = sys.argv[1]
compression = Compression.Gzip if len(sys.argv) > 2 and sys.argv[2] == "gzip" else Compression.NoCompression
resource = Resource.create({"service.name": "grpc-client", "deployment.environment": "test", "host.cores": 2})

memory = InMemorySpanExporter()
tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
tracer_provider.add_span_processor(
    BatchSpanProcessor(OTLPSpanExporter(compression=compression), max_export_batch_size=3)
)
tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
tracer = tracer_provider.get_tracer("billing.lib", "4.0.1", schema_url="https://opentelemetry.io/schemas/1.26.0",
                                    attributes={"lib.flavour": "grpc"})  # fmt: skip

log_memory = InMemoryLogRecordExporter()
logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(compression=compression)))
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
logger = logger_provider.get_logger("billing.logs", "1.0")

with tracer.start_as_current_span(
    "POST /invoices", kind=SpanKind.SERVER,
    attributes={"http.request.method": "POST", "http.response.status_code": 201, "ratio": 0.5, "ok": True,
                "tags": ["x", "y"], "sizes": [4, 5], "token": "s3cret-value"},
) as root:  # fmt: skip
    root.add_event("invoice drafted", {"lines": 2, "note": "fine"})
    with tracer.start_as_current_span("INSERT invoice", kind=SpanKind.CLIENT, attributes={"db.system.name": "sqlite"}):
        logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO", body="invoice 9 drafted",
                    attributes={"invoice.id": 9, "password": "hunter2"})  # fmt: skip
    with tracer.start_as_current_span("send mail", kind=SpanKind.PRODUCER) as mail:
        mail.set_status(Status(StatusCode.ERROR, "smtp refused"))
        logger.emit(severity_number=SeverityNumber.ERROR, body={"event": "mail failed", "code": 550})
    link = Link(root.get_span_context(), {"link.reason": "follows"})
    with tracer.start_as_current_span("mail sent", kind=SpanKind.CONSUMER, links=[link]) as sent:
        sent.set_status(Status(StatusCode.OK))
logger.emit(severity_number=SeverityNumber.WARN, body="outside any span", event_name="billing.warning")

tracer_provider.shutdown()  # flushes the batch processors through the official exporters
logger_provider.shutdown()
finished = memory.get_finished_spans()
again = OTLPSpanExporter(compression=compression)  # the same spans once more: stored once
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
                "trace_id": hex_id(k.context.trace_id, 32),
                "span_id": hex_id(k.context.span_id, 16),
                "attributes": plain(k.attributes),
            }
            for k in s.links
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
logs = [
    {
        "severity_text": r.log_record.severity_text,
        "severity_number": r.log_record.severity_number.value if r.log_record.severity_number else None,
        "body": r.log_record.body,
        "attributes": plain(r.log_record.attributes),
        "trace_id": hex_id(r.log_record.trace_id, 32) if r.log_record.trace_id else None,
        "span_id": hex_id(r.log_record.span_id, 16) if r.log_record.span_id else None,
        "event_name": r.log_record.event_name,
    }
    for r in log_memory.get_finished_logs()
]
with open(out, "w", encoding="utf-8") as file:
    json.dump({"spans": spans, "logs": logs, "resent": resent == SpanExportResult.SUCCESS}, file)
