"""Real SDK spans and log records made without exporting them anywhere: what an exporter's ``export()`` receives.

Both factories run the OpenTelemetry SDK's own providers with its in-memory exporters, so a test
(or a benchmark) feeds ``LensSpanExporter.export`` the very objects the SDK makes in an application,
never hand-built stand-ins.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Status, StatusCode


def _resource(service: str, attributes: Mapping[str, Any] | None) -> Resource:
    return Resource.create({"service.name": service, **(attributes or {})})


class SpanFactory:
    """Finished SDK spans of one service: :meth:`traces` for ready-made traces, or :attr:`tracer` and :meth:`finished`.

    Args:
        service: the ``service.name`` of the resource.
        resource: more resource attributes.
        scope: the instrumentation scope name (and version) of the tracer.
        id_generator: e.g. :class:`~otel_lens.testing.IncrementalIdGenerator` for predictable ids.
    """

    def __init__(
        self,
        service: str = "test-service",
        *,
        resource: Mapping[str, Any] | None = None,
        scope: tuple[str, str | None] = ("otel-lens.testing", None),
        id_generator: IdGenerator | None = None,
    ) -> None:
        self._memory = InMemorySpanExporter()
        self._provider = TracerProvider(
            resource=_resource(service, resource), id_generator=id_generator, shutdown_on_exit=False
        )
        self._provider.add_span_processor(SimpleSpanProcessor(self._memory))
        self.tracer: trace.Tracer = self._provider.get_tracer(scope[0], scope[1])

    def finished(self) -> list[ReadableSpan]:
        """The spans ended since the last call, in the order they ended (then forgotten here)."""
        spans = list(self._memory.get_finished_spans())
        self._memory.clear()
        return spans

    def traces(
        self, count: int, spans_per_trace: int = 5, *, label: str = "", start_ns: int | None = None, payload: int = 0
    ) -> list[ReadableSpan]:
        """``count`` whole traces of ``spans_per_trace`` spans: a root and its children (which end first).

        The second span of each trace has ERROR status and every child one event; every span carries
        the attributes ``label`` and ``number`` (the trace's index) and, when ``payload`` is given, a string
        attribute of that many bytes. Traces start at ``start_ns`` (1 µs apart), else now.
        """
        for number in range(count):
            begin = time.time_ns() if start_ns is None else start_ns + number * 1000
            attributes: dict[str, Any] = {"label": label, "number": number}
            if payload:
                attributes["payload"] = "x" * payload
            root = self.tracer.start_span(f"root {label}", start_time=begin, attributes=attributes)
            context = trace.set_span_in_context(root)
            for child in range(1, spans_per_trace):
                span = self.tracer.start_span(
                    f"child {child}", context=context, start_time=begin + child, attributes=attributes
                )
                span.add_event("step", {"child": child}, timestamp=begin + child + 1)
                if child == 1:
                    span.set_status(Status(StatusCode.ERROR, "planned failure"))
                span.end(end_time=begin + child + 2)
            root.end(end_time=begin + spans_per_trace + 10)
        return self.finished()

    def shutdown(self) -> None:
        self._provider.shutdown()


class LogFactory:
    """Finished SDK log records of one service, outside any span (:meth:`records`), or emitted through :attr:`logger`."""

    def __init__(
        self,
        service: str = "test-service",
        *,
        resource: Mapping[str, Any] | None = None,
        scope: str = "otel-lens.testing",
    ) -> None:
        self._memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self._provider = LoggerProvider(resource=_resource(service, resource), shutdown_on_exit=False)
        self._provider.add_log_record_processor(SimpleLogRecordProcessor(self._memory))
        self.logger = self._provider.get_logger(scope)

    def finished(self) -> list[ReadableLogRecord]:
        """The records emitted since the last call, oldest first (then forgotten here)."""
        records = list(self._memory.get_finished_logs())
        self._memory.clear()
        return records

    def records(self, bodies: Sequence[Any], severity: SeverityNumber = SeverityNumber.WARN) -> list[ReadableLogRecord]:
        """One record per body, stamped now, at ``severity`` (its name as the severity text)."""
        for body in bodies:
            self.logger.emit(
                LogRecord(timestamp=time.time_ns(), body=body, severity_number=severity, severity_text=severity.name)
            )
        return self.finished()

    def shutdown(self) -> None:
        self._provider.shutdown()
