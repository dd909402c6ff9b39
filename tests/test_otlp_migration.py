"""Schema migration 2 (the columns a lossless export needs) on a real version-1 store, on SQLite and PostgreSQL.

``tests/data/lens_v1.db`` was written by otel-lens before the migration existed (see
``tests/data/make_lens_v1_db.py``): readers must read it as it is, and the first writer upgrades it once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState, set_span_in_context

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store.migrations import MIGRATIONS, latest_version, table_columns
from otel_lens.store.rows import SCHEMA_3_COLUMNS
from tests._store_helpers import models as store_models

V1_FILE = Path(__file__).parent / "data" / "lens_v1.db"
T0 = 1_704_067_200 * 10**9
# The step's number (2 on its branch; renumbered when other migrations land before it).
STEP = next(v for v, step in MIGRATIONS.items() if step.__name__ == "_add_lossless_export_columns")


def _v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "v1.db"
    shutil.copyfile(V1_FILE, path)
    return path


def _meta(path: Path) -> tuple[int, dict[str, str], dict[str, set[str]]]:
    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        meta = dict(conn.execute("SELECT key, value FROM lens_meta").fetchall())
        columns = {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in SCHEMA_3_COLUMNS}
    conn.close()
    return version, meta, columns


def _write_span_with_trace_state(settings: Settings) -> None:
    provider = TracerProvider(resource=Resource({"service.name": "v2-app"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    parent = SpanContext(0x77, 0x78, is_remote=True, trace_flags=TraceFlags(1), trace_state=TraceState([("k", "v")]))
    span = provider.get_tracer("v2.scope", schema_url="https://example.com/s/2").start_span(
        "after", context=set_span_in_context(NonRecordingSpan(parent)), start_time=T0 + 10_000
    )
    span.end(end_time=T0 + 20_000)
    provider.shutdown()


def test_a_version_1_file_is_read_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reading (traces, show, logs, stats, usage, export of both signals) a version-1 store that no writer has
    migrated yet works, with the new fields empty, and changes not one byte of the file."""
    path = _v1_copy(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with open_store(str(path)) as store:
        (summary,) = store.traces()
        detail = store.trace(summary.trace_id)
        assert sorted(s.name for s in detail.spans) == ["GET /v1", "db.query"]
        child = next(s for s in detail.spans if s.name == "db.query")
        assert (child.trace_state, child.dropped_attributes_count) == (None, 0)
        assert [(k.attributes, k.flags) for k in child.links] == [({"why": "v1"}, None)]
        assert [log.body for log in store.logs()] == ["stored by v1"]
        assert sorted(row.key for row in store.stats(since=None)) == ["GET /v1", "db.query"]
        assert store.usage(since=None, bundled_prices=False) == []  # its lens_usage lacks reasoning_tokens
    for command in (["usage", "--no-bundled-prices"], ["stats"]):
        assert main([*command, "--database", str(path)]) == 0, command
    capsys.readouterr()
    assert main(["export", "--signal", "all", "--database", str(path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [next(iter(line)) for line in lines] == ["resourceSpans", "resourceLogs"]
    (record,) = lines[1]["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert record["body"] == {"stringValue": "stored by v1"} and "flags" not in record  # v1 did not keep them
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert _meta(path)[0] == 1


def test_a_version_1_file_is_migrated_once_by_the_first_writer(tmp_path: Path) -> None:
    """The first exporter to open a version-1 store adds the schema-2 columns (ALTER TABLE) and records the
    step once; old rows read with the new fields empty, new rows keep them; a second open changes nothing."""
    path = _v1_copy(tmp_path)
    settings = Settings.load(environ={}, database=str(path), sweep_interval=0)
    _write_span_with_trace_state(settings)
    version, meta, columns = _meta(path)
    assert version == latest_version()
    steps = sorted((k for k in meta if k.startswith("migrated_to_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    assert steps == [f"migrated_to_{v}" for v in range(1, latest_version() + 1)]
    for table, wanted in SCHEMA_3_COLUMNS.items():
        assert set(wanted) <= columns[table], table
    stamp = meta[f"migrated_to_{STEP}"]
    LensSpanExporter(settings).shutdown()
    assert _meta(path)[1][f"migrated_to_{STEP}"] == stamp
    with open_store(str(path)) as store:
        spans = {s.name: s for t in store.traces() for s in store.trace(t.trace_id).spans}
    assert spans["db.query"].trace_state is None and spans["db.query"].links[0].flags is None
    assert spans["after"].trace_state == "k=v" and spans["after"].scope.schema_url == "https://example.com/s/2"


@pytest.mark.postgres
def test_a_version_1_postgres_store_is_migrated_once(postgres_url: str) -> None:
    """On PostgreSQL a store one step before (the schema-2 columns dropped again, version set back) gets the
    columns by ALTER TABLE on the next open, once, and keeps its rows."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    _write_span_with_trace_state(settings)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for table, columns in SCHEMA_3_COLUMNS.items():
            for column in columns:
                conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        conn.execute("UPDATE lens_meta SET value = %s WHERE key = 'schema_version'", (str(STEP - 1),))
        conn.execute("DELETE FROM lens_meta WHERE key LIKE 'migrated_to_%%' AND substr(key, 13)::int >= %s", (STEP,))
    with open_store(postgres_url) as store:  # a reader copes before the writer migrates
        (old,) = [s for t in store.traces() for s in store.trace(t.trace_id).spans]
        assert old.trace_state is None and old.scope.schema_url is None
    exporter = LensSpanExporter(settings)
    db = store_models(exporter.store).span._meta.database
    for table, columns in SCHEMA_3_COLUMNS.items():
        assert set(columns) <= table_columns(db, table)
    exporter.shutdown()
    _write_span_with_trace_state(settings)  # a second span of the same trace, stored with its tracestate
    with psycopg.connect(postgres_url) as conn:
        meta = dict(conn.execute("SELECT key, value FROM lens_meta").fetchall())
    assert meta["schema_version"] == str(latest_version()) and f"migrated_to_{STEP}" in meta
    with open_store(postgres_url) as store:
        (trace,) = store.traces()
        assert sorted((s.trace_state or "") for s in store.trace(trace.trace_id).spans) == ["", "k=v"]
