"""How ``lens_v1.db`` was made: schema version 1, written by otel-lens at commit abcfb11 (before migration 2).

Kept to show what the file holds; re-running it with a newer otel-lens would write a newer schema, so
the committed file is the fixture, not this script's output. Run: ``python tests/data/make_lens_v1_db.py OUT``.
"""

from __future__ import annotations

import sys

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, set_span_in_context

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings

T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z


def main(out: str) -> None:
    settings = Settings.load(environ={}, database=out, sweep_interval=0)
    resource = Resource.create({"service.name": "v1-app"})
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    logs = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logs.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(settings)))
    tracer = provider.get_tracer("v1.scope", "1.0")
    root = tracer.start_span("GET /v1", kind=SpanKind.SERVER, start_time=T0, attributes={"http.route": "/v1"})
    child = tracer.start_span(
        "db.query",
        context=set_span_in_context(root),
        start_time=T0 + 1000,
        links=[Link(root.get_span_context(), {"why": "v1"})],
    )
    child.add_event("row", {"n": 1}, timestamp=T0 + 2000)
    logs.get_logger("v1.logger").emit(
        timestamp=T0 + 2500, body="stored by v1", severity_number=SeverityNumber.INFO, severity_text="INFO",
        context=set_span_in_context(child), attributes={"k": "v"},
    )  # fmt: skip
    child.end(end_time=T0 + 3000)
    root.end(end_time=T0 + 5000)
    provider.shutdown()
    logs.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
