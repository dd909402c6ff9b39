"""Builders of small stores from real spans and logs (deterministic ids, fixed times) for the read-side tests."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.testing import IncrementalIdGenerator

T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
MS = 10**6


class Recorder:
    """Real TracerProviders (one per service) and a LoggerProvider writing synchronously to one store."""

    def __init__(self, settings: Settings, ids: IdGenerator | None = None) -> None:
        self.settings = settings
        self.ids = ids if ids is not None else IncrementalIdGenerator()
        self._providers: dict[str, TracerProvider] = {}
        self._log_providers: dict[str, LoggerProvider] = {}

    def tracer(self, service: str) -> trace.Tracer:
        provider = self._providers.get(service)
        if provider is None:
            provider = TracerProvider(
                resource=Resource.create({"service.name": service}), id_generator=self.ids, shutdown_on_exit=False
            )
            provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(self.settings)))
            self._providers[service] = provider
        return provider.get_tracer("tests.read", "1.0")

    def span(
        self,
        service: str,
        name: str,
        start_ms: float,
        end_ms: float,
        parent: Span | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Span:
        """Start a span at T0 + ``start_ms``; end it with :meth:`end` (children end first, as in real code)."""
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer(service).start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=T0 + int(start_ms * MS)
        )
        assert isinstance(span, Span)
        span._lens_end = T0 + int(end_ms * MS)  # type: ignore[attr-defined]
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        return span

    @staticmethod
    def end(span: Span) -> None:
        span.end(end_time=span._lens_end)  # type: ignore[attr-defined]

    def log(
        self,
        service: str,
        span: Span | None,
        at_ms: float,
        severity: SeverityNumber,
        body: Any,
        logger: str = "app",
        attributes: dict[str, Any] | None = None,
    ) -> None:
        provider = self._log_providers.get(service)
        if provider is None:
            provider = LoggerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=False)
            provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(self.settings)))
            self._log_providers[service] = provider
        provider.get_logger(logger).emit(
            timestamp=T0 + int(at_ms * MS),
            observed_timestamp=T0 + int(at_ms * MS),
            context=trace.set_span_in_context(span) if span is not None else None,
            severity_number=severity,
            severity_text=severity.name,
            body=body,
            attributes=attributes,
        )

    def shutdown(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()
        for log_provider in self._log_providers.values():
            log_provider.shutdown()


class ChosenIdGenerator(IncrementalIdGenerator):
    """Trace ids taken in order from a list (to test id prefixes); span ids incremental."""

    def __init__(self, trace_ids: list[int]) -> None:
        super().__init__()
        self._trace_ids = list(trace_ids)

    def generate_trace_id(self) -> int:
        return self._trace_ids.pop(0)


@contextmanager
def recorder(settings: Settings, ids: IdGenerator | None = None) -> Iterator[Recorder]:
    rec = Recorder(settings, ids)
    try:
        yield rec
    finally:
        rec.shutdown()


@dataclasses.dataclass
class Sample:
    checkout_trace: str
    users_trace: str
    chat_trace: str


def build_sample(settings: Settings) -> Sample:
    """Three traces over two services: a clean request, a failing checkout with logs, a GenAI call."""
    with recorder(settings) as rec:
        root = rec.span("shop", "GET /users/{id}", 0, 120, kind=SpanKind.SERVER,
                        attributes={"http.request.method": "GET", "http.route": "/users/{id}",
                                    "http.response.status_code": 200})  # fmt: skip
        query = rec.span("shop", "SELECT users", 2, 22, root, SpanKind.CLIENT,
                         {"db.system": "sqlite", "db.statement": "SELECT * FROM users WHERE id = ?"})  # fmt: skip
        rec.log("shop", query, 3, SeverityNumber.INFO, "loading user 42")
        rec.end(query)
        render = rec.span("shop", "render", 25, 100, root)
        template = rec.span("shop", "template", 30, 60, render)
        rec.end(template)
        rec.log("shop", render, 99, SeverityNumber.WARN, "slow render: 75ms")
        rec.end(render)
        rec.end(root)

        checkout = rec.span("shop", "POST /checkout", 1000, 1250, kind=SpanKind.SERVER,
                            attributes={"http.request.method": "POST", "http.route": "/checkout",
                                        "http.response.status_code": 502})  # fmt: skip
        charge = rec.span("shop", "charge card", 1010, 1240, checkout, SpanKind.CLIENT,
                          {"rpc.system": "grpc", "rpc.method": "Charge"}, error="card declined")  # fmt: skip
        charge.add_event("exception", {"exception.type": "PaymentError", "exception.message": "card declined"},
                         timestamp=T0 + 1239 * MS)  # fmt: skip
        rec.log("shop", charge, 1239, SeverityNumber.ERROR, {"event": "payment failed", "code": 51})
        rec.end(charge)
        checkout.set_status(Status(StatusCode.ERROR, "upstream failed"))
        rec.end(checkout)
        rec.log("shop", None, 1300, SeverityNumber.INFO, "checkout queue drained", logger="worker")

        chat = rec.span("agent", "chat gpt-4o", 2000, 2900, kind=SpanKind.CLIENT,
                        attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                    "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                                    "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300,
                                    "gen_ai.usage.cache_read.input_tokens": 1000})  # fmt: skip
        rec.end(chat)
        return Sample(
            checkout_trace=f"{checkout.get_span_context().trace_id:032x}",
            users_trace=f"{root.get_span_context().trace_id:032x}",
            chat_trace=f"{chat.get_span_context().trace_id:032x}",
        )


def local_zone(monkeypatch: Any, zone: str) -> Iterator[None]:
    """Run in the local time zone ``zone`` (a POSIX TZ string such as ``IST-5:30``, no tz database needed)."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()
