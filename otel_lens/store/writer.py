"""The hot write path: one transaction per batch, one prepared INSERT run with ``executemany``.

Peewee owns the schema and the queries; the per-row insert goes straight through the DB-API
cursor, because building SQL per row costs several times the insert itself. The trace rollup and
GenAI usage totals are updated in the same transaction from the rows actually inserted, so a
batch exported twice (or overlapping an earlier one) is counted once.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import peewee as pw

from otel_lens.store import _latency, _postgres, rollups
from otel_lens.store.database import BUSY_TIMEOUT_S
from otel_lens.store.errors import ConnectionLost, StoreError, StoreFull
from otel_lens.store.rows import (
    LOG_COLUMNS,
    LOG_RESOURCE,
    LOG_SCOPE,
    RESOURCE_COLUMNS,
    SCOPE_COLUMNS,
    SPAN_COLUMNS,
    SPAN_RESOURCE,
    SPAN_SCOPE,
    STATUS_ERROR,
    EncodedBatch,
    ResourceRow,
    ScopeRow,
)
from otel_lens.store.schema import models_for

_NEW_ONLY_CHUNK = 400  # ids per IN (...) when looking rows up by key
_UPSERT_CHUNK = 1000  # trace rows per multi-row upsert (10 parameters each, under SQLite's 32766)
# Encoded span rows carry the 16-byte trace id first; the table keeps the trace's row id there.
_SPAN_TABLE_COLUMNS = ("trace_row", *SPAN_COLUMNS[1:])


class Writer:
    """Batch inserts into one database; the caller serializes calls (one writer per connection)."""

    def __init__(self, db: pw.Database) -> None:
        self._db = db
        self._postgres = isinstance(db, pw.PostgresqlDatabase)
        self._known: dict[tuple[str, bytes], int] = {}  # committed resource/scope digests → row ids
        self._busy_ms = int(BUSY_TIMEOUT_S * 1000)  # what open_sqlite's connection starts with
        p = db.param
        self._insert_spans = (
            f"INSERT INTO lens_spans ({', '.join(_SPAN_TABLE_COLUMNS)}) "
            f"VALUES ({rollups.placeholders(db, len(SPAN_COLUMNS))}) ON CONFLICT (trace_row, span_id) DO NOTHING"
        )
        self._insert_logs = (
            f"INSERT INTO lens_logs ({', '.join(LOG_COLUMNS)}) VALUES ({rollups.placeholders(db, len(LOG_COLUMNS))}) "
            "ON CONFLICT (uid) DO NOTHING"
        )
        self._upsert_traces = rollups.upsert_traces_sql(db)
        self._multi_upserts: dict[int, str] = {}  # rows → the multi-row upsert returning ids (SQLite)
        self._upsert_usage = rollups.upsert_usage_sql(db)
        self._latency = _latency.LatencyWriter(db)
        self._param = p
        if self._postgres:
            self._init_postgres()

    def _init_postgres(self) -> None:
        """One-statement forms of the batch statements (see :mod:`otel_lens.store._postgres`)."""
        models = models_for(self._db)
        self._span_types = _postgres.column_types(models.span, _SPAN_TABLE_COLUMNS)
        self._log_types = _postgres.column_types(models.log, LOG_COLUMNS)
        trace_columns = ("trace_id", "root_span_id", "root_name", "root_rank", "service", "start_ns", "end_ns")
        self._trace_types = _postgres.column_types(
            models.trace, (*trace_columns, "span_count", "error_count", "root_start_ns")
        )
        usage_columns = ("bucket_ns", "service", "provider", "model", "span_count", "input_tokens", "output_tokens")
        self._usage_types = _postgres.column_types(
            models.usage, (*usage_columns, "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens")
        )
        self._pg_insert_spans = (
            _postgres.unnest_form(self._insert_spans, self._span_types) + " RETURNING trace_row, span_id"
        )
        self._pg_insert_logs = _postgres.unnest_form(self._insert_logs, self._log_types)
        self._pg_upsert_traces = (
            _postgres.unnest_form(self._upsert_traces, self._trace_types) + " RETURNING trace_id, id"
        )
        self._pg_upsert_usage = _postgres.unnest_form(self._upsert_usage, self._usage_types)

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self, deadline: float) -> Iterator[Any]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite) retried on lock contention until ``deadline``.

        Raises:
            StoreFull: the disk or database size limit is full.
            StoreError: the lock could not be had before ``deadline``, or the database failed.
        """
        conn = self._db.connection()
        cursor = conn.cursor()
        self._begin(cursor, deadline)
        try:
            yield cursor
            cursor.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the transaction may already be gone (e.g. after SQLITE_FULL)
                cursor.execute("ROLLBACK")
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                raise _translate(exc, self._db) from exc
            raise

    def _begin(self, cursor: Any, deadline: float) -> None:
        if self._postgres:
            # Row locks wait without a busy timeout on PostgreSQL: bound the whole transaction instead.
            try:
                cursor.execute(f"BEGIN; {_postgres.statement_timeout_sql(deadline - time.monotonic())}")
            except Exception as exc:  # typically the first sign of a dropped connection
                if _postgres.is_connection_lost(exc):  # nothing written yet: the caller may reconnect and retry
                    raise ConnectionLost(str(_translate(exc, self._db))) from exc
                raise _translate(exc, self._db) from exc
            return
        delay = 0.005
        while True:
            # SQLite's busy handler waits up to busy_timeout inside BEGIN: never past the deadline.
            self._bound_busy_timeout(cursor, deadline - time.monotonic())
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() + delay > deadline:
                    raise _translate(exc, self._db) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _bound_busy_timeout(self, cursor: Any, remaining: float) -> None:
        wanted = int(min(max(remaining, 0.0), BUSY_TIMEOUT_S) * 1000)
        if wanted != self._busy_ms:
            cursor.execute(f"PRAGMA busy_timeout = {wanted}")
            self._busy_ms = wanted

    # -- spans ----------------------------------------------------------------------------------

    def write_spans(self, batch: EncodedBatch, deadline: float) -> int:
        """Store ``batch`` with its rollups in one transaction; returns how many spans were new."""
        if not batch.rows:
            return 0
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            resource_ids = self._resolve_references(cursor, batch, SPAN_RESOURCE, SPAN_SCOPE, pending)
            rows = batch.rows
            services = {rid: resource.service for rid, resource in zip(resource_ids, batch.resources, strict=True)}
            if self._postgres:
                indexes = self._insert_spans_postgres(cursor, rows, services)
            else:
                indexes = self._insert_spans_sqlite(cursor, rows, services)
            inserted = rows if indexes is None else [rows[i] for i in indexes]
            self._latency.apply(cursor, _latency.deltas(inserted, services, SPAN_RESOURCE))
            if batch.genai:
                wanted = batch.genai if indexes is None else {i: batch.genai[i] for i in indexes if i in batch.genai}
                if wanted and self._postgres:
                    usage = rollups.usage_rows(rows, wanted, services)
                    self._bulk(cursor, self._pg_upsert_usage, usage, self._usage_types, key=4)
                elif wanted:
                    cursor.executemany(self._upsert_usage, rollups.usage_rows(rows, wanted, services))
            if batch.bodies:
                cursor.executemany(rollups.upsert_bodies_sql(self._db), [dataclasses.astuple(b) for b in batch.bodies])
        self._known.update(pending)
        return len(rows) if indexes is None else len(indexes)

    def _insert_spans_sqlite(
        self, cursor: Any, rows: list[list[Any]], services: dict[int, str | None]
    ) -> list[int] | None:
        """Upsert the batch's trace rollups, then insert its spans under their trace rows.

        Returns None when every span was new (the common case: two ``executemany`` and one id
        lookup). When the row count says some spans were already stored (a retried or overlapping
        export), everything is rolled back to a savepoint and redone for the new spans alone, so
        the rollup counts each span once; then the indexes of the new rows are returned.
        """
        cursor.execute("SAVEPOINT lens_batch")
        if self._insert_with_rollups(cursor, rows, services):
            cursor.execute("RELEASE SAVEPOINT lens_batch")
            return None
        cursor.execute("ROLLBACK TO SAVEPOINT lens_batch")
        indexes = self._new_span_indexes(cursor, rows)
        if indexes:
            self._insert_with_rollups(cursor, [rows[i] for i in indexes], services)
        cursor.execute("RELEASE SAVEPOINT lens_batch")
        return indexes

    def _insert_with_rollups(self, cursor: Any, rows: list[list[Any]], services: dict[int, str | None]) -> bool:
        trace_rows = self._upsert_trace_rows(cursor, rollups.trace_rollups(rows, services))
        cursor.executemany(self._insert_spans, [[trace_rows[row[0]], *row[1:]] for row in rows])
        return bool(cursor.rowcount == len(rows))

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

    def _new_span_indexes(self, cursor: Any, rows: list[list[Any]]) -> list[int]:
        """Indexes of the rows whose span is not stored yet (the first of duplicates within the batch)."""
        trace_ids = sorted({bytes(row[0]) for row in rows})
        existing: set[tuple[bytes, bytes]] = set()
        for start in range(0, len(trace_ids), _NEW_ONLY_CHUNK):
            chunk = trace_ids[start : start + _NEW_ONLY_CHUNK]
            cursor.execute(
                "SELECT t.trace_id, s.span_id FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row "
                f"WHERE t.trace_id IN ({rollups.placeholders(self._db, len(chunk))})",
                chunk,
            )
            existing.update((bytes(a), bytes(b)) for a, b in cursor.fetchall())
        indexes = []
        for index, row in enumerate(rows):
            ident = (bytes(row[0]), bytes(row[1]))
            if ident not in existing:
                existing.add(ident)
                indexes.append(index)
        return indexes

    def _insert_spans_postgres(
        self, cursor: Any, rows: list[list[Any]], services: dict[int, str | None]
    ) -> list[int] | None:
        """Like :meth:`_insert_spans_sqlite` in two statements: the trace upsert returns the row ids, the
        span insert returns what was new, and duplicates' counts are taken back out of the rollups."""
        deltas = rollups.trace_rollups(rows, services)
        self._bulk(cursor, self._pg_upsert_traces, deltas, self._trace_types)
        trace_rows = {bytes(trace_id): int(row_id) for trace_id, row_id in cursor.fetchall()}
        table_rows = [[trace_rows[bytes(row[0])], *row[1:]] for row in rows]
        self._bulk(cursor, self._pg_insert_spans, table_rows, self._span_types, key=2)
        new = {(int(trace_row), bytes(span_id)) for trace_row, span_id in cursor.fetchall()}
        if len(new) == len(rows):
            return None
        indexes = []
        for index, row in enumerate(table_rows):
            ident = (row[0], bytes(row[1]))
            if ident in new:
                new.discard(ident)  # a span twice in one batch counts once
                indexes.append(index)
        kept = set(indexes)
        over: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])
        for index, row in enumerate(table_rows):
            if index not in kept:
                over[row[0]][0] += 1
                over[row[0]][1] += 1 if row[SPAN_COLUMNS.index("status_code")] == STATUS_ERROR else 0
        cursor.executemany(
            "UPDATE lens_traces SET span_count = span_count - %s, error_count = error_count - %s WHERE id = %s",
            [(spans, errors, trace_row) for trace_row, (spans, errors) in sorted(over.items())],
        )
        return indexes

    def write_logs(self, batch: EncodedBatch, deadline: float) -> int:
        """Store the log rows of ``batch`` in one transaction; returns how many were new."""
        if not batch.rows:
            return 0
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            self._resolve_references(cursor, batch, LOG_RESOURCE, LOG_SCOPE, pending)
            if self._postgres:
                self._bulk(cursor, self._pg_insert_logs, batch.rows, self._log_types)
            else:
                cursor.executemany(self._insert_logs, batch.rows)
            count = cursor.rowcount
        self._known.update(pending)
        return count if count >= 0 else len(batch.rows)

    @staticmethod
    def _bulk(cursor: Any, sql: str, rows: Sequence[Sequence[Any]], types: Sequence[str], key: int = 1) -> None:
        """Run a one-statement batch: rows sorted by their first ``key`` columns (lock order), as column arrays."""
        ordered = sorted(rows, key=lambda row: tuple(row[:key]))
        cursor.execute(sql, _postgres.as_columns(ordered, types))

    # -- resources and scopes -------------------------------------------------------------------

    def _resolve_references(
        self,
        cursor: Any,
        batch: EncodedBatch,
        resource_column: int,
        scope_column: int,
        pending: dict[tuple[str, bytes], int],
    ) -> list[int]:
        """Swap the rows' batch-local resource/scope indexes for row ids; returns the resource ids in batch order."""
        resource_ids = self._resource_ids(cursor, batch.resources, pending)
        scope_ids = self._scope_ids(cursor, batch.scopes, pending)
        for row in batch.rows:
            row[resource_column] = resource_ids[row[resource_column]]
            row[scope_column] = scope_ids[row[scope_column]]
        return resource_ids

    def _resource_ids(
        self, cursor: Any, rows: Sequence[ResourceRow], pending: dict[tuple[str, bytes], int]
    ) -> list[int]:
        if self._postgres:  # new resources in digest order, so concurrent writers lock them in the same order
            for r in sorted(rows, key=lambda r: r.digest):
                self._intern(cursor, "lens_resources", r, pending)
        return [self._intern(cursor, "lens_resources", r, pending) for r in rows]

    def _scope_ids(self, cursor: Any, rows: Sequence[ScopeRow], pending: dict[tuple[str, bytes], int]) -> list[int]:
        if self._postgres:
            for s in sorted(rows, key=lambda s: s.digest):
                self._intern(cursor, "lens_scopes", s, pending)
        return [self._intern(cursor, "lens_scopes", s, pending) for s in rows]

    def _intern(
        self, cursor: Any, table: str, row: ResourceRow | ScopeRow, pending: dict[tuple[str, bytes], int]
    ) -> int:
        digest = row.digest
        key = (table, digest)
        known = self._known.get(key) or pending.get(key)
        if known is not None:
            return known
        columns = RESOURCE_COLUMNS if table == "lens_resources" else SCOPE_COLUMNS
        values = dataclasses.astuple(row)
        if self._postgres:
            values = _postgres.clean_row(values)
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({rollups.placeholders(self._db, len(columns))}) "
            "ON CONFLICT (digest) DO NOTHING",
            values,
        )
        cursor.execute(f"SELECT id FROM {table} WHERE digest = {self._param}", (digest,))
        row_id = int(cursor.fetchone()[0])
        pending[key] = row_id
        return row_id

    def forget_cached_ids(self) -> None:
        """Drop cached resource/scope ids (after a prune removed rows, or a fork)."""
        self._known.clear()


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _translate(exc: BaseException, db: pw.Database) -> StoreError:
    """A :class:`StoreError` with a user-facing message for a driver error."""
    if isinstance(db, pw.PostgresqlDatabase):
        translated = _postgres.translate(exc, db)
        if translated is not None:
            return translated
    where = _postgres.describe(db)  # never the PostgreSQL password
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered and ("disk" in lowered or "database" in lowered):
        return StoreFull(f"database {where} is full (disk or size limit): {text}; writing resumes once there is room")
    if _is_busy(exc):
        return StoreError(f"database {where} stayed locked by another writer past the export deadline ({text})")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"database {where} is read-only ({text})")
    return StoreError(f"writing to database {where} failed: {type(exc).__name__}: {text}")
