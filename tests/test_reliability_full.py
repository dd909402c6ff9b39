"""A full database (SQLite's max_page_count standing in for a full disk): FAILURE, one warning, recovery."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from otel_lens import LensLogExporter, LensSpanExporter, Settings
from tests._reliability import LogFactory, SpanFactory, integrity, rollup_mismatches


def _limit_pages(exporter: LensSpanExporter, extra: int | None) -> None:
    """Cap the store connection's database at its current size plus ``extra`` pages (None: lift the cap)."""
    store = exporter.store
    assert store is not None
    with store.locked() as conn:
        count = int(conn.execute("PRAGMA page_count").fetchone()[0])
        limit = 2**32 - 2 if extra is None else count + extra
        conn.execute(f"PRAGMA max_page_count = {limit}").fetchall()


def test_full_database_fails_exports_with_one_warning_and_recovers(
    sqlite_settings: Settings, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Scenario 4: when the database is full every export returns FAILURE (never raises), a burst of failures
    logs exactly one warning saying it is full, the app's own spans keep ending, and writing resumes (with
    exact rollups) once there is room."""
    exporter = LensSpanExporter(sqlite_settings)
    logs = LensLogExporter(sqlite_settings)
    factory = SpanFactory()
    try:
        assert exporter.export(factory.traces(20, 5, label="before")) is SpanExportResult.SUCCESS
        _limit_pages(exporter, 0)
        caplog.set_level(logging.WARNING)

        results = [exporter.export(factory.traces(20, 5, label="full", payload=2000)) for _ in range(30)]
        assert set(results) == {SpanExportResult.FAILURE}
        assert logs.export(LogFactory().records(["x" * 50_000] * 20)).name == "FAILURE"
        # The application's side: a provider whose spans go straight to the full store keeps working.
        provider = TracerProvider(resource=Resource.create({"service.name": "app"}), shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("app")
        for number in range(20):
            with tracer.start_as_current_span(f"work {number}", attributes={"blob": "y" * 4000}):
                pass

        warnings = [r for r in caplog.records if r.name.startswith("otel_lens") and r.levelno >= logging.WARNING]
        assert len([r for r in warnings if "full" in r.getMessage()]) == 1, [r.getMessage() for r in warnings]
        message = next(r.getMessage() for r in warnings if "full" in r.getMessage())
        assert str(db_path) in message and "\n" not in message

        _limit_pages(exporter, None)
        assert exporter.export(factory.traces(20, 5, label="after")) is SpanExportResult.SUCCESS
        assert logs.export(LogFactory().records(["after the disk was freed"])).name == "SUCCESS"
    finally:
        logs.shutdown()
        exporter.shutdown()
    assert integrity(db_path) == "ok"
    assert rollup_mismatches(db_path) == []
    with sqlite3.connect(db_path) as conn:
        labels = dict(conn.execute("SELECT root_name, count(*) FROM lens_traces GROUP BY root_name").fetchall())
    assert labels == {"root before": 20, "root after": 20}
