"""The exporter lifecycle from the OTel spec: FAILURE after shutdown without reopening, idempotent shutdown."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from otel_lens import LensLogExporter, LensSpanExporter, Settings
from tests._reliability import LogFactory, SpanFactory


def _remove_database(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def test_export_after_shutdown_fails_without_reopening_the_file(sqlite_settings: Settings, db_path: Path) -> None:
    """Scenario 12: after shutdown both exporters return FAILURE and the deleted database is not recreated."""
    spans_out, logs_out = LensSpanExporter(sqlite_settings), LensLogExporter(sqlite_settings)
    assert spans_out.export(SpanFactory().traces(2)) is SpanExportResult.SUCCESS
    spans_out.shutdown()
    logs_out.shutdown()
    _remove_database(db_path)

    assert spans_out.export(SpanFactory().traces(2)) is SpanExportResult.FAILURE
    assert logs_out.export(LogFactory().records(["late"])) is LogRecordExportResult.FAILURE
    assert spans_out.store is None and logs_out.store is None
    assert not db_path.exists() and not Path(f"{db_path}-wal").exists()


def test_shutdown_twice_is_harmless(sqlite_settings: Settings) -> None:
    """Scenario 12: a second shutdown (exporter or provider) raises nothing and does nothing."""
    exporter = LensSpanExporter(sqlite_settings)
    provider = TracerProvider(resource=Resource.create({}), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    provider.shutdown()
    provider.shutdown()
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(SpanFactory().traces(1)) is SpanExportResult.FAILURE


def _race_shutdown(settings: Settings) -> dict[str, SpanExportResult]:
    """Four exports, a force_flush and a shutdown released at once; returns each export's result by label."""
    exporter = LensSpanExporter(settings)
    factory = SpanFactory()
    batches = {f"t{n}": factory.traces(10, 3, label=f"t{n}") for n in range(4)}
    results: dict[str, SpanExportResult] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def export(label: str) -> None:
        results[label] = exporter.export(batches[label])

    def call(action: Callable[[], object]) -> None:
        try:
            start.wait()
            action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(lambda label=label: export(label),)) for label in batches]
    threads += [threading.Thread(target=call, args=(action,)) for action in (exporter.force_flush, exporter.shutdown)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    exporter.shutdown()
    return results


def test_shutdown_concurrent_with_force_flush_and_exports(sqlite_settings: Settings, db_path: Path) -> None:
    """Scenario 12: shutdown racing force_flush and exports on other threads raises nothing anywhere; every
    export either stored its spans whole (SUCCESS) or stored nothing (FAILURE)."""
    for _ in range(5):
        results = _race_shutdown(sqlite_settings)
        assert len(results) == 4
        with sqlite3.connect(db_path) as conn:
            stored = dict(
                conn.execute(
                    "SELECT json_extract(attributes, '$.label'), count(*) FROM lens_spans GROUP BY 1"
                ).fetchall()
            )
        assert stored == {label: 30 for label, result in results.items() if result is SpanExportResult.SUCCESS}
        _remove_database(db_path)


def test_provider_shutdown_concurrent_with_force_flush(sqlite_settings: Settings) -> None:
    """Scenario 12: through the SDK's BatchSpanProcessor, shutdown and force_flush at once raise nothing."""
    exporter = LensSpanExporter(sqlite_settings)
    provider = TracerProvider(resource=Resource.create({}), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    tracer = provider.get_tracer("lifecycle")
    for number in range(200):
        with tracer.start_as_current_span(f"s{number}"):
            pass
    errors: list[BaseException] = []

    def call(action: Callable[[], object]) -> None:
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(a,)) for a in (provider.force_flush, provider.shutdown)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    exporter.shutdown()
