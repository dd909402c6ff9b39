"""The one scenario the OTLP client processes (``otlp_http_client.py``, ``otlp_grpc_client.py``) send and write back.

A small, varied set of spans (every kind, an event, a link, an error status, list attributes, a secret) and
log records (inside and outside spans, a secret attribute, a map body), sent through batch processors, as an
application configures them, to the exporters a client hands to :func:`send`; then the same spans a second
time through a fresh exporter. OUT.json gets what the SDK's in-memory exporters captured beside them, as plain
JSON (hex ids), for the test to compare with what the store returns. The clients differ only in their exporters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

SERVICE = "otlp-client"
LOGGER = "shop.logs"


def send(out: str, span_exporter: Callable[[], SpanExporter], log_exporter: LogRecordExporter) -> None:
    """Send the scenario through ``span_exporter()`` (called twice: the resend uses a fresh one) and
    ``log_exporter``; write what was captured to ``out``."""
    resource = Resource.create({"service.name": SERVICE, "deployment.environment": "test", "host.cores": 2})
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter(), max_export_batch_size=4))
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tracer_provider.get_tracer("shop.lib", "2.1.0", schema_url="https://opentelemetry.io/schemas/1.26.0",
                                        attributes={"lib.flavour": "plain"})  # fmt: skip

    log_memory = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
    logger = logger_provider.get_logger(LOGGER, "1.0")

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
                severity_number=SeverityNumber.ERROR,
                severity_text="ERROR",
                body={"event": "payment failed", "code": 51},
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
    again = span_exporter()
    resent = again.export(finished)
    again.shutdown()
    logs = [_log(readable.log_record) for readable in log_memory.get_finished_logs()]
    with open(out, "w", encoding="utf-8") as file:
        json.dump({"spans": [_span(s) for s in finished], "logs": logs, "resent": resent == SpanExportResult.SUCCESS},
                  file)  # fmt: skip


def _hex_id(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def _plain(attributes: Any) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in (attributes or {}).items()}


def _span(s: Any) -> dict[str, Any]:
    return {
        "trace_id": _hex_id(s.context.trace_id, 32),
        "span_id": _hex_id(s.context.span_id, 16),
        "parent_span_id": _hex_id(s.parent.span_id, 16) if s.parent else None,
        "name": s.name,
        "kind": s.kind.name,
        "start_time_unix_nano": s.start_time,
        "end_time_unix_nano": s.end_time,
        "status": {"code": s.status.status_code.name, "message": s.status.description},
        "attributes": _plain(s.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": _plain(e.attributes)} for e in s.events
        ],
        "links": [
            {
                "trace_id": _hex_id(link.context.trace_id, 32),
                "span_id": _hex_id(link.context.span_id, 16),
                "attributes": _plain(link.attributes),
            }
            for link in s.links
        ],
        "resource": _plain(s.resource.attributes),
        "scope": {
            "name": s.instrumentation_scope.name,
            "version": s.instrumentation_scope.version,
            "attributes": _plain(s.instrumentation_scope.attributes),
        },
    }


def _log(record: Any) -> dict[str, Any]:
    return {
        "time_unix_nano": record.timestamp,
        "observed_time_unix_nano": record.observed_timestamp,
        "severity_text": record.severity_text,
        "severity_number": record.severity_number.value if record.severity_number else None,
        "body": record.body,
        "attributes": _plain(record.attributes),
        "trace_id": _hex_id(record.trace_id, 32) if record.trace_id else None,
        "span_id": _hex_id(record.span_id, 16) if record.span_id else None,
        "event_name": record.event_name,
    }
