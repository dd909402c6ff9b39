"""The OTel exporter contract: never raise, FAILURE after shutdown, no feedback loops, a clean stdout."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests._store_helpers import count


def _some_spans(n: int = 3) -> list:  # type: ignore[type-arg]
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(n):
        with provider.get_tracer("t").start_as_current_span(f"s{i}"):
            pass
    return list(memory.get_finished_spans())


def test_export_after_shutdown_fails_without_reopening(sqlite_settings: Settings, db_path: Path) -> None:
    """After shutdown export is FAILURE and the deleted file is not recreated; shutdown twice is fine (scenario 12)."""
    exporter = LensSpanExporter(sqlite_settings)
    exporter.shutdown()
    exporter.shutdown()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    assert exporter.export(_some_spans()) is SpanExportResult.FAILURE
    assert not db_path.exists()


def test_both_exporters_share_one_store_until_both_shut_down(settings: Settings) -> None:
    """Span and log exporters of one database share a store; it stays usable until the last one shuts down."""
    spans, logs = LensSpanExporter(settings), LensLogExporter(settings)
    assert spans.store is logs.store
    logs.shutdown()
    assert spans.export(_some_spans()) is SpanExportResult.SUCCESS
    store = spans.store
    spans.shutdown()
    assert spans.store is None
    assert store is not None and store._closed


@pytest.fixture
def root_otel_handler(settings: Settings) -> Iterator[tuple[LensLogExporter, LoggerProvider]]:
    """An OTel logging handler on the root logger at DEBUG, feeding a synchronous LensLogExporter."""
    log_exporter = LensLogExporter(settings)
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler is deprecated, still widely used
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    root = logging.getLogger()
    old_level, peewee_level = root.level, logging.getLogger("peewee").level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("peewee").setLevel(logging.DEBUG)
    try:
        yield log_exporter, provider
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.getLogger("peewee").setLevel(peewee_level)
        provider.shutdown()


def _run_bounded(work: object, timeout: float = 60) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "deadlock: the work did not finish"
    assert not errors, errors


def test_logging_while_exporting_is_bounded(
    root_otel_handler: tuple[LensLogExporter, LoggerProvider], settings: Settings, tmp_path: Path
) -> None:
    """Peewee/sqlite3/exporter logging at DEBUG into an OTel root handler: no deadlock, no loop (scenario 18)."""
    log_exporter, _ = root_otel_handler
    span_exporter = LensSpanExporter(settings)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    app = logging.getLogger("app")

    def work() -> None:
        for i in range(50):
            with provider.get_tracer("t").start_as_current_span(f"op{i}"):
                app.info("step %d", i)
        assert span_exporter.store is not None
        span_exporter.store.prune(max_age=0.001, max_size=1)
        # Opening (and migrating) another database logs Peewee DDL at DEBUG.
        LensSpanExporter(database=str(tmp_path / "other.db"), sweep_interval=0).shutdown()

    _run_bounded(work)
    provider.shutdown()
    stored = count(log_exporter.store, "log")
    assert stored <= 60, f"{stored} log records: otel-lens' own logging fed back into the store"
    span_exporter.shutdown()


def test_failing_exports_with_root_handler_do_not_deadlock(
    root_otel_handler: tuple[LensLogExporter, LoggerProvider],
    sqlite_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A full store makes every export fail and warn; the warning re-enters the log exporter without deadlock."""
    span_exporter = LensSpanExporter(sqlite_settings)
    assert span_exporter.store is not None
    db = span_exporter.store.db
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.execute_sql(f"PRAGMA max_page_count = {pages}")

    def work() -> None:
        results = [span_exporter.export(_some_spans(50)) for _ in range(20)]
        assert results[-5:] == [SpanExportResult.FAILURE] * 5, "the store should be full by now"

    with caplog.at_level(logging.WARNING, logger="otel_lens"):
        _run_bounded(work)
    full = [r for r in caplog.records if r.name.startswith("otel_lens") and "full" in r.getMessage()]
    assert len(full) == 1, "the disk-full warning is rate-limited to one line per burst"
    db.execute_sql("PRAGMA max_page_count = 1000000")
    assert span_exporter.export(_some_spans()) is SpanExportResult.SUCCESS
    span_exporter.shutdown()


def test_batch_processors_with_root_handler_stay_bounded(settings: Settings) -> None:
    """With batch processors (the usual setup), exporter logging cannot loop: records stay bounded (scenario 18)."""
    log_exporter = LensLogExporter(settings)
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter, schedule_delay_millis=10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=logger_provider)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        for i in range(20):
            logging.getLogger("app").warning("w%d", i)
        logger_provider.force_flush()
        logger_provider.force_flush()
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        logger_provider.shutdown()
    assert log_exporter.store is None  # shut down with the provider
    fresh = LensLogExporter(settings)
    assert 20 <= count(fresh.store, "log") <= 30
    fresh.shutdown()


def test_nothing_reaches_stdout(tmp_path: Path) -> None:
    """Exporting, failing, warning, sweeping and shutting down print nothing on stdout (scenario 25)."""
    script = tmp_path / "app.py"
    script.write_text(
        f"""
import logging
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from otel_lens import LensSpanExporter, LensLogExporter
logging.basicConfig(level=logging.DEBUG)  # a handler on stderr, as apps have
db = {str(tmp_path / "lens.db")!r}
spans = LensSpanExporter(database=db, sweep_interval="0.1s", retention="1s", max_size="1KB")
tp = TracerProvider()
tp.add_span_processor(BatchSpanProcessor(spans, schedule_delay_millis=50))
lp = LoggerProvider()
lp.add_log_record_processor(BatchLogRecordProcessor(LensLogExporter(database=db)))
for i in range(200):
    with tp.get_tracer("t").start_as_current_span("op"):
        lp.get_logger("app").emit(body="hello")
spans.store.prune()
spans.store.db.execute_sql("PRAGMA max_page_count = 1")
with tp.get_tracer("t").start_as_current_span("dropped"):
    pass
tp.force_flush()
"""
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "full" in result.stderr  # the warning went to stderr, where logging belongs


def test_store_statements_run_with_instrumentation_suppressed(sqlite_settings: Settings) -> None:
    """Every SQL statement an export runs sees the suppress-instrumentation key, so sqlite3/peewee
    instrumentations never trace the exporter itself."""
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    span_exporter = LensSpanExporter(sqlite_settings)
    assert span_exporter.store is not None
    seen: list[tuple[str, bool]] = []
    conn = span_exporter.store.db.connection()
    conn.set_trace_callback(lambda sql: seen.append((sql, is_instrumentation_enabled())))
    try:
        assert span_exporter.export(_some_spans()) is SpanExportResult.SUCCESS
    finally:
        conn.set_trace_callback(None)
        span_exporter.shutdown()
    assert any("INSERT INTO lens_spans" in sql for sql, _ in seen)
    assert [sql for sql, enabled in seen if enabled] == []
