"""What only PostgreSQL has to survive: dropped connections, many hosts at once, forked workers, its driver."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store.errors import StoreError
from otel_lens.store.migrations import latest_version
from otel_lens.store.shared import WriteStore, acquire
from tests._postgres import PostgresServer

pytestmark = pytest.mark.postgres
_WORKER = str(Path(__file__).with_name("_postgres_worker.py"))


@pytest.fixture
def pg_settings(postgres_url: str) -> Settings:
    return Settings.load(environ={}, database=postgres_url, sweep_interval=0)


@pytest.fixture
def exporter(pg_settings: Settings) -> Iterator[LensSpanExporter]:
    exporter = LensSpanExporter(pg_settings)
    yield exporter
    exporter.shutdown()


def _spans(count: int = 3) -> list[ReadableSpan]:
    """Finished spans from a real provider (random ids, so every call gives new spans)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "pg"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.postgres")
    with tracer.start_as_current_span("root"):
        for index in range(count - 1):
            with tracer.start_as_current_span(f"child {index}"):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def _span_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0])  # type: ignore[index]


def _terminate_store_connections(url: str) -> int:
    """Kill every otel-lens session on the test database from another connection, as a failover would."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'otel-lens'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_connection_dropped_while_idle_is_replaced_without_losing_a_batch(
    exporter: LensSpanExporter, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection the server dropped between exports (restart, idle timeout, proxy) is found at BEGIN,
    before anything is written, so the export reconnects and stores its batch: nothing is lost."""
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    assert _terminate_store_connections(postgres_url) == 1
    with caplog.at_level(logging.INFO, logger="otel_lens"):
        assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("otel_lens")]
    assert any("reconnected to database postgresql://127.0.0.1" in m for m in messages), messages
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    assert _span_count(postgres_url) == 9


def test_server_down_fails_exports_with_one_line_then_recovers(
    exporter: LensSpanExporter, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """While the database cannot be reached at all, exports are FAILURE with a one-line warning."""
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    store = exporter.store
    assert store is not None
    good_database = store.db.database
    store.db.close()
    store.db.database = "no_such_database_here"  # every reconnect now fails, as with a server that is down
    store.db.connect_params = {**store.db.connect_params, "dbname": "no_such_database_here"}
    try:
        _terminate_store_connections(postgres_url)
        with caplog.at_level(logging.WARNING, logger="otel_lens"):
            assert exporter.export(_spans()) is SpanExportResult.FAILURE
        (warning,) = [r.getMessage() for r in caplog.records if r.name.startswith("otel_lens")]
        assert "\n" not in warning and "unexpected" not in warning
        assert "database postgresql://127.0.0.1" in warning
    finally:
        store.db.database = good_database
        store.db.connect_params.pop("dbname", None)
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS


def test_retention_sweep_survives_a_lost_connection(exporter: LensSpanExporter, postgres_url: str) -> None:
    """The sweeper shares the store's connection: a disconnect fails one prune clearly, the next one works."""
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    store = exporter.store
    assert store is not None
    _terminate_store_connections(postgres_url)
    with pytest.raises(StoreError, match=r"lost the connection to database .*; the next export reconnects"):
        store.prune(max_age=1e-9, max_size=0)
    summary = store.prune(max_age=1e-9, max_size=0)
    assert (summary.skipped, summary.spans_deleted) == (None, 3)


def test_many_processes_and_threads_lose_nothing(postgres_url: str, tmp_path: Path) -> None:
    """4 processes × 2 threads exporting into one PostgreSQL store at the same moment: every batch stored."""
    go = tmp_path / "go"
    batches = 15
    workers = [
        subprocess.Popen(
            [sys.executable, _WORKER, "write", postgres_url, str(go), str(batches)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(0.5)  # let them connect and prepare their spans: then all start together
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
        assert "Traceback" not in err, err
        results.append(json.loads(out))
    assert all(r == {"span_batches": 2 * batches, "log_batches": 2 * batches, "failures": 0} for r in results)
    total_batches = 4 * 2 * batches
    with psycopg.connect(postgres_url) as conn:
        spans, traces, rolled_up, logs = conn.execute(
            "SELECT (SELECT count(*) FROM lens_spans), (SELECT count(*) FROM lens_traces), "
            "(SELECT sum(span_count) FROM lens_traces), (SELECT count(*) FROM lens_logs)"
        ).fetchone()  # type: ignore[misc]
    assert (spans, traces, rolled_up, logs) == (total_batches * 50, total_batches, total_batches * 50, total_batches)


def test_concurrent_first_open_migrates_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    """Processes opening a new PostgreSQL store at the same moment: one transaction creates the schema."""
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, _WORKER, "open", postgres_url, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    time.sleep(0.5)
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    with psycopg.connect(postgres_url) as conn:
        # xmin is the transaction that wrote a row: a second migration would have rewritten these rows.
        writers = conn.execute(
            "SELECT xmin::text FROM lens_meta WHERE key = 'schema_version' OR key LIKE 'migrated_to_%' "
            "UNION SELECT xmin::text FROM pg_class WHERE relname = 'lens_spans' "
            "AND relnamespace = current_schema()::regnamespace"
        ).fetchall()
        versions = conn.execute("SELECT value FROM lens_meta WHERE key = 'schema_version'").fetchall()
    assert len(writers) == 1
    assert versions == [(str(latest_version()),)]


def test_forked_child_writes_and_its_exit_leaves_the_parents_session(postgres_url: str, tmp_path: Path) -> None:
    """After fork() the child opens its own connection; its normal exit does not end the parent's session."""
    script = tmp_path / "fork.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
            from otel_lens.export.spans import LensSpanExporter
            from otel_lens.settings import Settings
            from tests.test_postgres import _spans
            exporter = LensSpanExporter(Settings.load(environ={{}}, database={postgres_url!r}, sweep_interval=0))
            assert exporter.export(_spans()).name == "SUCCESS"
            pid = os.fork()
            if pid == 0:
                ok = exporter.export(_spans()).name == "SUCCESS"
                sys.exit(0 if ok else 3)  # normal interpreter exit: what the child inherited is finalized
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
            print(exporter.export(_spans()).name)
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SUCCESS", result.stderr
    assert _span_count(postgres_url) == 9


def test_one_sweeper_at_a_time_across_hosts(pg_settings: Settings, exporter: LensSpanExporter) -> None:
    """While one host's store holds the sweep lock, another host's prune skips and deletes nothing."""
    assert exporter.export(_spans()) is SpanExportResult.SUCCESS
    store = exporter.store
    assert store is not None
    other_host = WriteStore(store.location, pg_settings)  # its own connection, as on another machine
    try:
        with store.sweep_lock() as held:
            assert held
            summary = other_host.prune(max_age=1e-9, max_size=0)
            assert summary.skipped is not None and "another process is sweeping" in summary.skipped
            assert summary.spans_deleted == 0
        assert other_host.prune(max_age=1e-9, max_size=0).spans_deleted == 3
    finally:
        other_host.close()


def test_missing_driver_names_the_extra(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without psycopg, opening a PostgreSQL store says what to install, in a form that works from a checkout too."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'psycopg\[binary\]' \(the postgres extra\)"):
        acquire(pg_settings)


def test_unreachable_server_is_a_one_line_error_without_the_password(postgres_server: PostgresServer) -> None:
    """A server that refuses the connection: a clear one-line StoreError that never shows the password."""
    url = f"postgresql://lens:s3cret-pw@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(StoreError) as caught:
        acquire(Settings.load(environ={}, database=url, sweep_interval=0))
    message = str(caught.value)
    assert message.startswith("cannot open database postgresql://127.0.0.1:")
    assert "no_such_database" in message and "s3cret-pw" not in message and "\n" not in message


def test_store_size_counts_only_this_schemas_tables(exporter: LensSpanExporter, postgres_url: str) -> None:
    """The size the sweeper measures grows with the store's tables and ignores same-named tables elsewhere."""
    store = exporter.store
    assert store is not None
    before = store.size()
    for _ in range(20):
        assert exporter.export(_spans(50)) is SpanExportResult.SUCCESS
    after = store.size()
    assert 0 < before < after
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA other_app")
        conn.execute("CREATE TABLE other_app.lens_spans AS SELECT * FROM lens_spans")
    assert store.size() == after
