"""The row format of store/rows.py: named slots that mean one thing, rows the writer never changes.

The writer used to overwrite the batch's resource/scope slots with row ids (a batch written twice, or
read after writing, then pointed at the wrong rows); now it builds the table's rows anew. The column
tuples are the only statement of each table's column order: they must match the schema.
"""

from __future__ import annotations

import copy

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens.export.encode import encode_logs, encode_spans
from otel_lens.settings import Settings
from otel_lens.store import rows
from otel_lens.store.schema import models_for
from otel_lens.store.shared import acquire, release


def _spans_and_logs() -> tuple[list[object], list[object]]:
    """Real SDK spans and logs of two resources (so batch indexes 0, 1 differ from row ids 1, 2)."""
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    providers: list[TracerProvider | LoggerProvider] = []
    for service in ("first", "second"):
        resource = Resource({"service.name": service})
        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        with tracer_provider.get_tracer(f"scope.{service}").start_as_current_span(f"root {service}"):
            tracer_provider.get_tracer("scope.shared").start_span(f"child {service}").end()
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        logger_provider.get_logger(f"logs.{service}").emit(body=f"hello from {service}")
        providers += [tracer_provider, logger_provider]
    finished = list(spans.get_finished_spans()), list(logs.get_finished_logs())
    for provider in providers:  # shutting one down would shut the shared in-memory exporters too
        provider.shutdown()
    return finished


def test_writing_a_batch_leaves_its_rows_as_they_were(sqlite_settings: Settings) -> None:
    """write_spans / write_logs never change the batch (its resource and scope slots stay batch indexes), so the same
    batch written again is recognized as the same spans and records and stored once."""
    spans, logs = _spans_and_logs()
    span_batch, log_batch = encode_spans(spans), encode_logs(logs)  # type: ignore[arg-type]
    span_rows, log_rows = copy.deepcopy(list(span_batch.rows)), copy.deepcopy(list(log_batch.rows))
    assert {row[rows.SPAN_RESOURCE] for row in span_rows} == {0, 1}
    store = acquire(sqlite_settings)
    try:
        assert store.write_spans(span_batch) == 4 and store.write_logs(log_batch) == 2
        assert list(span_batch.rows) == span_rows and list(log_batch.rows) == log_rows
        assert store.write_spans(span_batch) == 0 and store.write_logs(log_batch) == 0
        models = models_for(store.db)
        services = {
            span.name: resource.service
            for span, resource in ((s, models.resource.get_by_id(s.resource_id)) for s in models.span.select())
        }
        log_services = {log.body: models.resource.get_by_id(log.resource_id).service for log in models.log.select()}
    finally:
        release(store)
    assert services == {"root first": "first", "child first": "first", "root second": "second",
                        "child second": "second"}  # fmt: skip
    assert log_services == {'"hello from first"': "first", '"hello from second"': "second"}


def test_column_tuples_are_the_tables_columns(sqlite_settings: Settings) -> None:
    """SPAN_TABLE_COLUMNS, LOG_COLUMNS and the trace/usage delta columns name real columns of their tables (the SQL
    and the PostgreSQL types are built from them), and the named slots point where their names say."""
    store = acquire(sqlite_settings)
    try:
        models = models_for(store.db)

        def columns(model: object) -> set[str]:
            return {field.column_name for field in model._meta.sorted_fields}  # type: ignore[attr-defined]

        assert set(rows.SPAN_TABLE_COLUMNS) == columns(models.span) - {"id"}
        assert set(rows.LOG_COLUMNS) == columns(models.log) - {"id"}
        assert set(rows.TRACE_DELTA_COLUMNS) <= columns(models.trace)
        assert set(rows.USAGE_DELTA_COLUMNS) == columns(models.usage) - {"id"}
        assert set(rows.RESOURCE_COLUMNS) == columns(models.resource) - {"id"}
        assert set(rows.SCOPE_COLUMNS) == columns(models.scope) - {"id"}
        assert set(rows.BODY_COLUMNS) == columns(models.body)
    finally:
        release(store)
    for name in ("trace_id", "span_id", "flags", "start_ns", "duration_ns", "resource_id", "scope_id"):
        slot = getattr(rows, "SPAN_" + {"span_id": "SPAN_ID", "trace_id": "TRACE_ID", "resource_id": "RESOURCE",
                                          "scope_id": "SCOPE", "start_ns": "START", "duration_ns": "DURATION",
                                          "flags": "FLAGS"}[name])  # fmt: skip
        assert rows.SPAN_COLUMNS[slot] == name
    assert rows.SPAN_TABLE_COLUMNS[rows.TABLE_TRACE_ROW] == "trace_row"
