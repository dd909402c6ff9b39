"""LensLogExporter: real log records from the SDK's LoggerProvider stored with trace context, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_lens.export.logs import LensLogExporter
from otel_lens.settings import Settings
from otel_lens.store import codec
from tests._store_helpers import count, models


@pytest.fixture
def log_exporter(settings: Settings) -> Iterator[LensLogExporter]:
    exporter = LensLogExporter(settings)
    yield exporter
    exporter.shutdown()


def _records(emit: object) -> list[ReadableLogRecord]:
    """Records a real LoggerProvider produces for ``emit(otel_logger)``."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "logsvc"}), shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    try:
        emit(provider.get_logger("tests.logs.app"))  # type: ignore[operator]
    finally:
        provider.shutdown()
    return list(memory.get_finished_logs())


def _warn(logger: Logger, body: object, **attributes: object) -> None:
    logger.emit(severity_number=SeverityNumber.WARN, severity_text="WARN", body=body, attributes=attributes or None)  # type: ignore[arg-type]


def test_log_fields_and_trace_context_are_stored(
    log_exporter: LensLogExporter, tracer_provider: TracerProvider
) -> None:
    """Body, severity, attributes, scope, and the ids of the span the record was logged in."""
    tracer = tracer_provider.get_tracer("t")

    def emit(logger: Logger) -> None:
        _warn(logger, "outside")
        with tracer.start_as_current_span("work"):
            _warn(logger, "disk at 91%", disk="/dev/sda")

    records = _records(emit)
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    m = models(log_exporter.store)
    rows = {codec.loads(r["body"]): r for r in m.log.select().dicts()}
    inside, outside = rows["disk at 91%"], rows["outside"]
    assert inside["severity_number"] == SeverityNumber.WARN.value
    assert inside["severity_text"] == "WARN"
    assert inside["timestamp_ns"] > 0 and inside["observed_ns"] > 0
    assert bytes(inside["trace_id"]) == (1).to_bytes(16, "big")
    assert bytes(inside["span_id"]) == (1).to_bytes(8, "big")
    assert codec.loads(inside["attributes"])["disk"] == "/dev/sda"
    assert outside["trace_id"] is None and outside["span_id"] is None
    assert m.scope.get_by_id(inside["scope_id"]).name == "tests.logs.app"
    assert m.resource.get_by_id(inside["resource_id"]).service == "logsvc"


def test_same_records_exported_twice_are_stored_once(log_exporter: LensLogExporter) -> None:
    """A retried batch adds nothing; two different records with equal text are both kept."""

    def emit(logger: Logger) -> None:
        for _ in range(3):
            _warn(logger, "same text")

    records = _records(emit)
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    assert count(log_exporter.store, "log") == 3


def test_huge_log_message_is_bounded(log_exporter: LensLogExporter) -> None:
    """A 100 MB message is stored truncated with a marker, in a bounded row (scenario 13)."""

    def emit(logger: Logger) -> None:
        _warn(logger, "z" * 100_000_000)

    records = _records(emit)
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    body = models(log_exporter.store).log.select().get().body
    assert len(body) < 100_000
    assert codec.loads(body).endswith("chars truncated]")


def test_odd_bodies_are_stored(log_exporter: LensLogExporter) -> None:
    """Structured bodies, bytes, NUL and lone surrogates store and decode (scenario 14)."""

    def emit(logger: Logger) -> None:
        _warn(logger, "nul\x00 and surrogate \udc80")
        _warn(logger, {"event": "login", "raw": b"\x01\x02", "n": [1, 2]})

    records = _records(emit)
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    bodies = [codec.loads(r.body) for r in models(log_exporter.store).log.select()]
    assert "nul\x00 and surrogate \ufffd" in bodies
    assert {"event": "login", "raw": b"\x01\x02", "n": [1, 2]} in bodies
