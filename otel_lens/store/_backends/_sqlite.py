"""The SQLite backend: a WAL file, ``BEGIN IMMEDIATE`` writers, ``executemany`` batches, a file sweep lock.

Across processes SQLite's WAL write lock serializes writers; a deferred transaction that reads first
would get ``SQLITE_BUSY_SNAPSHOT``, so every write transaction takes the lock at BEGIN.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import peewee as pw

from otel_lens.store import rollups
from otel_lens.store._backends._base import Backend, Locked, Space, Statements, TableRows, TraceDeltas
from otel_lens.store._backends._sqlite_files import (
    APPLICATION_ID,
    BUSY_TIMEOUT_S,
    check_sqlite_header,
    check_sqlite_identity,
    is_busy,
    open_sqlite,
    prepare_sqlite_file,
)
from otel_lens.store._backends._sqlite_space import SqliteSpace
from otel_lens.store._histogram import merge_stored
from otel_lens.store.errors import (
    DatabaseNotReady,
    EmptySqliteDatabase,
    NotALensDatabase,
    StoreBusy,
    StoreError,
    StoreFull,
)
from otel_lens.store.rows import ID_CHUNK, SPAN_SPAN_ID, SPAN_TRACE_ID, SpanRow

if TYPE_CHECKING:
    from otel_lens.store.database import Location
    from otel_lens.store.schema import Models

_UPSERT_CHUNK = 1000  # trace rows per multi-row upsert (10 parameters each, under SQLite's 32766)
_INSERT_CHUNK = 64  # span rows per multi-row INSERT (16 parameters each); a batch's remainder goes by executemany
_OPEN_PAUSE_MAX_S = 0.1


class SqliteBackend(Backend):
    kind = "sqlite"
    database_class = pw.SqliteDatabase

    def __init__(self) -> None:
        self._busy_ms = int(BUSY_TIMEOUT_S * 1000)  # what open_sqlite's connection starts with
        self._multi_upserts: dict[int, str] = {}  # rows → the multi-row upsert returning ids
        self._sweep_fd: int | None = None

    @classmethod
    def claims(cls, text: str) -> str | None:
        if text.startswith("sqlite:"):
            rest = text[len("sqlite:") :]
            if rest.startswith("///"):  # sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy's convention)
                text = unquote(rest[3:])
            elif rest.startswith("//"):
                return None  # a host part: parse_location says why it is refused
            else:
                text = unquote(rest)
        elif "://" in text:
            return None
        if text == ":memory:":
            raise StoreError("database ':memory:' cannot be shared by exporter threads and readers; use a file path")
        return str(Path(text).expanduser().absolute())

    # -- opening ---------------------------------------------------------------------------------

    def open_for_writing(self, location: Location, busy_wait_s: float) -> pw.Database:
        from otel_lens.store.migrations import ensure_schema, refuse_newer  # migrations ask backends: import late

        path = location.path
        created = prepare_sqlite_file(path)
        if not created:
            refuse_newer(None, str(path), check_sqlite_identity(path))  # before anything writes to the file
        # Each wait inside the opening (pragmas, the migration's BEGIN IMMEDIATE) is bounded by the
        # opening's own bound, so a short one (the application's start) is not stretched to the busy timeout.
        db = open_sqlite(path, busy_timeout=min(BUSY_TIMEOUT_S, busy_wait_s))
        try:
            _when_free(db.connect, str(path), busy_wait_s)
            _when_free(lambda: ensure_schema(db, str(path)), str(path), busy_wait_s)
            db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            db.timeout = BUSY_TIMEOUT_S  # what the writer expects (and what a reconnect after fork gets)
        except StoreError:
            db.close()
            raise
        except Exception as exc:
            db.close()
            raise StoreError(f"cannot open database {path}: {exc}") from None
        return db

    def open_for_reading(self, location: Location) -> pw.Database | None:
        path = location.path
        if not path.exists():
            raise DatabaseNotReady(f"no otel-lens database at {path} (nothing stored yet, or a wrong --database)")
        if path.is_dir():
            # Not an otel-lens database, and waiting will not make it one: readers stop retrying (the viewer).
            raise NotALensDatabase(
                f"database path {path} is a directory; give the database file, e.g. {path / 'lens.db'}"
            )
        if not os.access(path, os.R_OK):
            raise StoreError(f"database {path} is not readable")
        if path.stat().st_size == 0:
            raise DatabaseNotReady(f"database {path} is empty: nothing has been stored in it yet")
        check_sqlite_header(path)
        return None  # each read picks an immutable or ordinary read-only connection (query/_reader.py)

    def exists(self, location: Location) -> bool:
        return location.path.exists()

    def open_per_read(self, location: Location, immutable: bool) -> pw.Database:
        return open_sqlite(location.path, readonly=True, immutable=immutable)

    def check_identity(self, db: pw.Database, where: str) -> None:
        application_id = db.execute_sql("PRAGMA application_id").fetchone()[0]
        if application_id != APPLICATION_ID:
            tables = db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()[0]
            # No schema at all may be a database a writer is creating this moment (logs --follow waits).
            error = EmptySqliteDatabase if application_id == 0 and tables == 0 else NotALensDatabase
            raise error(
                f"{where} is not an otel-lens database (an SQLite database with application_id="
                f"{application_id} and {tables} schema objects)"
            )

    def is_driver_error(self, exc: BaseException) -> bool:
        return super().is_driver_error(exc) or isinstance(exc, sqlite3.Error)

    # -- transactions ----------------------------------------------------------------------------

    def begin(self, cursor: Any, deadline: float) -> None:
        delay = 0.005
        while True:
            # SQLite's busy handler waits up to busy_timeout inside BEGIN: never past the deadline.
            self._bound_busy_timeout(cursor, deadline - time.monotonic())
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy_text(exc) or time.monotonic() + delay > deadline:
                    raise self.write_error(exc, self.where) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _bound_busy_timeout(self, cursor: Any, remaining: float) -> None:
        wanted = int(min(max(remaining, 0.0), BUSY_TIMEOUT_S) * 1000)
        if wanted != self._busy_ms:
            cursor.execute(f"PRAGMA busy_timeout = {wanted}")
            self._busy_ms = wanted

    def write_error(self, exc: BaseException, where: str) -> StoreError:
        text = str(exc)
        lowered = text.lower()
        if "full" in lowered and ("disk" in lowered or "database" in lowered):
            return StoreFull(
                f"database {where} is full (disk or size limit): {text}; writing resumes once there is room"
            )
        if _is_busy_text(exc):
            return StoreError(f"database {where} stayed locked by another writer past the export deadline ({text})")
        if "readonly" in lowered or "read-only" in lowered:
            return StoreError(f"database {where} is read-only ({text})")
        return StoreError(f"writing to database {where} failed: {type(exc).__name__}: {text}")

    # -- batch statements --------------------------------------------------------------------------

    def prepare(self, db: pw.Database, statements: Statements) -> None:
        super().prepare(db, statements)
        self._insert_spans_multi = _multi_row(statements.insert_spans, len(statements.span_columns), _INSERT_CHUNK)

    def insert_spans(
        self, cursor: Any, rows: Sequence[SpanRow], deltas_of: TraceDeltas, table_rows_of: TableRows
    ) -> list[int] | None:
        """Two ``executemany`` and one id lookup when every span is new (the common case).

        When the row count says some spans were already stored (a retried or overlapping export),
        everything is rolled back to a savepoint and redone for the new spans alone, so the rollup
        counts each span once.
        """
        cursor.execute("SAVEPOINT lens_batch")
        if self._insert_with_rollups(cursor, rows, deltas_of, table_rows_of):
            cursor.execute("RELEASE SAVEPOINT lens_batch")
            return None
        cursor.execute("ROLLBACK TO SAVEPOINT lens_batch")
        indexes = self._new_span_indexes(cursor, rows)
        if indexes:
            self._insert_with_rollups(cursor, [rows[i] for i in indexes], deltas_of, table_rows_of)
        cursor.execute("RELEASE SAVEPOINT lens_batch")
        return indexes

    def _insert_with_rollups(
        self, cursor: Any, rows: Sequence[SpanRow], deltas_of: TraceDeltas, table_rows_of: TableRows
    ) -> bool:
        trace_rows = self._upsert_trace_rows(cursor, deltas_of(rows))
        table_rows = table_rows_of(rows, trace_rows)
        # Whole chunks as one multi-row INSERT each: a fifth less time per span than a step per row
        # (measured, 512-span batches); the rest by executemany, so only one statement form is kept.
        whole = len(table_rows) - len(table_rows) % _INSERT_CHUNK
        inserted = 0
        for start in range(0, whole, _INSERT_CHUNK):
            cursor.execute(
                self._insert_spans_multi, list(itertools.chain.from_iterable(table_rows[start : start + _INSERT_CHUNK]))
            )
            inserted += cursor.rowcount
        if whole < len(table_rows):
            cursor.executemany(self._statements.insert_spans, table_rows[whole:])
            inserted += cursor.rowcount
        return inserted == len(rows)

    def _upsert_trace_rows(self, cursor: Any, deltas: Sequence[tuple[Any, ...]]) -> dict[bytes, int]:
        """Merge the batch's trace deltas and return each trace's lens_traces row id (multi-row upserts)."""
        found: dict[bytes, int] = {}
        for start in range(0, len(deltas), _UPSERT_CHUNK):
            chunk = deltas[start : start + _UPSERT_CHUNK]
            sql = self._multi_upserts.get(len(chunk))
            if sql is None:
                if len(self._multi_upserts) > 64:  # batch sizes vary; keep the prepared forms few
                    self._multi_upserts.clear()
                sql = self._multi_upserts[len(chunk)] = rollups.upsert_traces_sql(self._db, len(chunk), returning=True)
            cursor.execute(sql, list(itertools.chain.from_iterable(chunk)))
            found.update((bytes(trace_id), int(row_id)) for trace_id, row_id in cursor.fetchall())
        return found

    def _new_span_indexes(self, cursor: Any, rows: Sequence[SpanRow]) -> list[int]:
        """Indexes of the rows whose span is not stored yet (the first of duplicates within the batch)."""
        trace_ids = sorted({bytes(row[SPAN_TRACE_ID]) for row in rows})
        existing: set[tuple[bytes, bytes]] = set()
        for start in range(0, len(trace_ids), ID_CHUNK):
            chunk = trace_ids[start : start + ID_CHUNK]
            cursor.execute(
                "SELECT t.trace_id, s.span_id FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row "
                f"WHERE t.trace_id IN ({rollups.placeholders(self._db, len(chunk))})",
                chunk,
            )
            existing.update((bytes(a), bytes(b)) for a, b in cursor.fetchall())
        indexes = []
        for index, row in enumerate(rows):
            ident = (bytes(row[SPAN_TRACE_ID]), bytes(row[SPAN_SPAN_ID]))
            if ident not in existing:
                existing.add(ident)
                indexes.append(index)
        return indexes

    def insert_logs(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> int:
        cursor.executemany(self._statements.insert_logs, rows)
        return int(cursor.rowcount)

    def upsert_usage(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
        cursor.executemany(self._statements.upsert_usage, rows)

    latency_histogram_merge = "lens_histogram_add(l.histogram, excluded.histogram)"

    def upsert_latency(self, cursor: Any, deltas: Sequence[Sequence[Any]], table: str = "lens_latency") -> None:
        if not deltas:
            return
        # ~3 µs, per batch: the connection may have been replaced since the last one (e.g. after a fork).
        cursor.connection.create_function("lens_histogram_add", 2, merge_stored, deterministic=True)
        cursor.executemany(self._latency_upserts[table], deltas)

    # -- retention ---------------------------------------------------------------------------------

    def try_sweep_lock(self, location: Location, locked: Locked, where: str) -> bool:
        fd = os.open(f"{location.target}-sweep.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._sweep_fd = fd
        return True

    def release_sweep_lock(self, locked: Locked) -> None:
        if self._sweep_fd is not None:
            os.close(self._sweep_fd)  # closing drops the flock
            self._sweep_fd = None

    def forget_sweep_lock_after_fork(self) -> None:
        if self._sweep_fd is not None:
            os.close(self._sweep_fd)  # the parent's sweep holds the flock; our copy must not keep it
            self._sweep_fd = None

    def space(self, location: Location, locked: Locked, transaction: Locked) -> Space:
        return SqliteSpace(location, locked, transaction)

    # -- schema --------------------------------------------------------------------------------

    def read_version(self, db: pw.Database) -> int:
        return int(db.execute_sql("PRAGMA user_version").fetchone()[0])

    def write_version(self, db: pw.Database, models: Models, version: int) -> None:
        db.execute_sql(f"PRAGMA user_version = {int(version)}")
        db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")

    @contextlib.contextmanager
    def migration_lock(self, db: pw.Database, models: Models) -> Iterator[None]:
        _make_vacuum_incremental(db)
        with db.atomic(lock_type="IMMEDIATE"):
            yield

    def table_columns(self, db: pw.Database, table: str) -> set[str]:
        cursor = db.execute_sql(f'PRAGMA table_info("{table}")')
        return {str(row[1]) for row in cursor.fetchall()}


def _multi_row(insert: str, columns: int, rows: int) -> str:
    """The one-row ``INSERT … VALUES (?, …) …`` statement ``insert`` with ``rows`` parameter groups."""
    group = f"({', '.join(['?'] * columns)})"
    head, values, tail = insert.partition(f" VALUES {group}")
    if not values:
        raise ValueError(f"not a one-row INSERT of {columns} values: {insert}")
    return f"{head} VALUES {', '.join([group] * rows)}{tail}"


def _make_vacuum_incremental(db: pw.Database) -> None:
    """Give an adopted empty SQLite file (e.g. made with journal_mode=WAL) incremental auto-vacuum.

    The pragma only takes effect before the first table, or through a VACUUM, which costs nothing on
    an empty file. Without it, deleted rows could never be given back to the file system.
    """
    if db.execute_sql("PRAGMA auto_vacuum").fetchone()[0] == 2:
        return
    if db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        return
    db.execute_sql("PRAGMA auto_vacuum = INCREMENTAL")
    db.execute_sql("VACUUM")


def _when_free(step: Callable[[], Any], where: str, wait_s: float) -> Any:
    """Run an opening ``step`` (connect, migrate), again while SQLite says the database is busy, within ``wait_s``.

    Processes creating or migrating a database together queue for its write lock; on a loaded
    machine one of them may wait past the busy timeout (SQLite's busy handler is not fair, and
    each holder may be descheduled while holding it). Every step is safe to run again: a migration
    re-reads the version under the lock, and a failed connect leaves no connection behind.
    """
    deadline = time.monotonic() + wait_s
    pause = 0.01
    while True:
        try:
            return step()
        except pw.OperationalError as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise StoreBusy(
                    f"cannot open database {where}: other processes kept its write lock for {wait_s:.1f}s"
                ) from None
        time.sleep(pause)
        pause = min(pause * 2, _OPEN_PAUSE_MAX_S)


def _is_busy_text(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
