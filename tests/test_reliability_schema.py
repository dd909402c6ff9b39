"""Schema versions across processes: an older database migrates exactly once, a newer one is refused untouched."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from otel_lens import LensSpanExporter, SchemaTooNew, Settings, StoreError, open_store
from otel_lens.store.migrations import latest_version
from tests._reliability import finish, start_python, wait_until, write_script

pytestmark = pytest.mark.slow

_PROCESSES = 10  # enough that, on a loaded machine, one opens while another switches the new file to WAL

# Each child registers one more migration (in its own process only) whose second run would fail on
# lens_meta's primary key, then opens the store at the same moment as its siblings and exports.
_OPEN_TOGETHER = """
    import os, sys, time
    from _reliability import SpanFactory, append_durably, wait_for_file
    from opentelemetry.sdk.trace.export import SpanExportResult
    from otel_lens import LensSpanExporter
    from otel_lens.store.migrations import MIGRATIONS, latest_version

    database, ready, go, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "extra"
    if extra:
        def add_marker(db, models):
            time.sleep(0.3)  # a wide window for a sibling to run it too, if the lock let it
            db.execute_sql("INSERT INTO lens_meta (key, value) VALUES ('reliability-marker', ?)", (str(os.getpid()),))

        MIGRATIONS[latest_version() + 1] = add_marker
    factory = SpanFactory()
    spans = factory.traces(2, 3, label=str(os.getpid()))
    append_durably(ready, str(os.getpid()))
    wait_for_file(go)
    exporter = LensSpanExporter(database=database, sweep_interval=0)
    result = exporter.export(spans)
    exporter.shutdown()
    sys.exit(0 if result is SpanExportResult.SUCCESS else 1)
"""


def _open_together(tmp_path: Path, db_path: Path, extra: bool) -> None:
    script = write_script(tmp_path, "open.py", _OPEN_TOGETHER)
    ready, go = tmp_path / "ready.txt", tmp_path / "go"
    children = [start_python(script, db_path, ready, go, "extra" if extra else "plain") for _ in range(_PROCESSES)]
    try:
        wait_until(lambda: ready.exists() and len(ready.read_text().split()) == _PROCESSES, what="all children")
        go.touch()
    finally:
        outcomes = [finish(child) for child in children]
    for code, out, err in outcomes:
        assert code == 0 and out == "", err
    assert "locked" not in "".join(err for _, _, err in outcomes)


def _version_and_meta(db_path: Path) -> tuple[int, dict[str, str], int]:
    with sqlite3.connect(db_path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        meta = dict(conn.execute("SELECT key, value FROM lens_meta").fetchall())
        spans = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
    return version, meta, spans


def test_new_database_created_once_by_processes_starting_together(tmp_path: Path, db_path: Path) -> None:
    """Scenario 7: processes opening a database that does not exist yet at the same moment all succeed and
    the schema is created once."""
    _open_together(tmp_path, db_path, extra=False)
    version, meta, spans = _version_and_meta(db_path)
    assert version == latest_version()
    # Each migration ran once, in order (a new store runs them all: 1 creates the tables, later ones find them done).
    steps = sorted((key for key in meta if key.startswith("migrated_to_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    assert steps == [f"migrated_to_{v}" for v in range(1, latest_version() + 1)]
    assert spans == _PROCESSES * 6


def test_older_schema_migrates_exactly_once_with_processes_starting_together(tmp_path: Path, db_path: Path) -> None:
    """Scenario 7: a database one version behind, opened by several processes at the same moment, runs the
    missing migration exactly once and every process then writes."""
    LensSpanExporter(database=str(db_path), sweep_interval=0).shutdown()  # today's schema = the "old" one
    _open_together(tmp_path, db_path, extra=True)
    version, meta, spans = _version_and_meta(db_path)
    assert version == latest_version() + 1
    assert "reliability-marker" in meta and f"migrated_to_{latest_version() + 1}" in meta
    assert spans == _PROCESSES * 6


def test_newer_schema_is_refused_and_left_byte_for_byte(sqlite_settings: Settings, db_path: Path) -> None:
    """Scenario 7: a database whose schema version is ahead of this otel-lens is refused with "upgrade
    otel-lens", and its bytes are unchanged."""
    LensSpanExporter(sqlite_settings).shutdown()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    conn.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()

    with pytest.raises(SchemaTooNew, match="upgrade otel-lens") as caught:
        LensSpanExporter(sqlite_settings)
    assert str(db_path) in str(caught.value) and "\n" not in str(caught.value)
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0


def test_open_waits_while_another_process_holds_the_lock_of_a_new_rollback_mode_file(db_path: Path) -> None:
    """Scenario 7/8: switching a new (still rollback-mode) file to WAL needs the write lock, and SQLite fails
    that pragma at once, without its busy handler, while another connection holds it: the moment several
    processes create a database together. Opening must wait for the lock (bounded), never fail with
    "database is locked"."""
    with sqlite3.connect(db_path, isolation_level=None) as seed:  # an SQLite file with no tables: adopted as new
        seed.execute("CREATE TABLE scratch (x)")
        seed.execute("DROP TABLE scratch")
    seed.close()
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # what a sibling holds while it writes the new file's header
    release = threading.Timer(0.5, holder.commit)
    release.start()
    try:
        exporter = LensSpanExporter(database=str(db_path), sweep_interval=0)
    finally:
        release.join()
        holder.close()
    try:
        store = exporter.store
        assert store is not None
        with store.locked() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, as on a file made here
    finally:
        exporter.shutdown()
    assert _version_and_meta(db_path)[0] == latest_version()


def test_open_outwaits_a_write_lock_held_past_the_busy_timeout(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario 7/8: on a loaded machine a process creating the schema may wait for the write lock longer than
    SQLite's busy timeout (its busy handler is not fair). Opening retries within its own, longer bound, so a
    lock held past the busy timeout delays the open but never fails it with "database is locked"."""
    from otel_lens.store._backends import _sqlite, _sqlite_files

    for module in (_sqlite, _sqlite_files):  # the lock below outlasts it many times over
        monkeypatch.setattr(module, "BUSY_TIMEOUT_S", 0.1)
    with sqlite3.connect(db_path, isolation_level=None) as seed:  # a WAL file with no tables: adopted as new
        seed.execute("PRAGMA journal_mode = wal")
    seed.close()
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, holder.commit)
    release.start()
    try:
        exporter = LensSpanExporter(database=str(db_path), sweep_interval=0)
    finally:
        release.join()
        holder.close()
    exporter.shutdown()
    assert _version_and_meta(db_path)[0] == latest_version()


@pytest.mark.postgres
def test_missing_postgres_schema_is_one_clear_line_naming_it(postgres_url: str) -> None:
    """A PostgreSQL URL whose search_path names a schema that does not exist is refused by the exporter and
    the read API with one line naming the schema and the way out (create it, or pick another), not PG's
    "no schema has been selected to create in"; once the schema exists the same URL works and stores there."""
    import psycopg

    url = f"{postgres_url}?options=-csearch_path%3Dnosuch"
    with pytest.raises(StoreError) as writing:
        LensSpanExporter(database=url, sweep_interval=0)
    with pytest.raises(StoreError) as reading:
        open_store(url)
    for caught in (writing, reading):
        message = str(caught.value)
        assert '"nosuch" does not exist' in message and 'CREATE SCHEMA "nosuch"' in message, message
        assert "search_path" in message and "\n" not in message
        assert "no schema has been selected" not in message

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA nosuch")
    LensSpanExporter(database=url, sweep_interval=0).shutdown()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        schemas = {
            row[0]
            for row in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'lens_spans'"
            )
        }
    assert schemas == {"nosuch"}
    with open_store(url) as store:
        assert store.traces() == []
