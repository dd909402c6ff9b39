"""The hot write path: one transaction per batch, one prepared INSERT run with ``executemany``.

Peewee owns the schema and the queries; the per-row insert goes straight through the DB-API
cursor, because building SQL per row costs several times the insert itself. The trace rollup and
GenAI usage totals are updated in the same transaction from the rows actually inserted, so a
batch exported twice (or overlapping an earlier one) is counted once.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import peewee as pw

from otel_lens.export.encode import (
    FLAG_IS_REMOTE,
    LOG_COLUMNS,
    LOG_RESOURCE,
    LOG_SCOPE,
    SPAN_COLUMNS,
    SPAN_RESOURCE,
    SPAN_SCOPE,
    EncodedBatch,
    ResourceRow,
    ScopeRow,
)
from otel_lens.store.errors import StoreError, StoreFull

USAGE_BUCKET_NS = 3600 * 10**9
_ERROR = 2  # StatusCode.ERROR
_NEW_ONLY_CHUNK = 400  # ids per IN (...) when filtering out rows already stored


def _placeholders(db: pw.Database, count: int) -> str:
    return ", ".join([db.param] * count)


class Writer:
    """Batch inserts into one database; the caller serializes calls (one writer per connection)."""

    def __init__(self, db: pw.Database) -> None:
        self._db = db
        self._postgres = isinstance(db, pw.PostgresqlDatabase)
        self._known: dict[tuple[str, bytes], int] = {}  # committed resource/scope digests → row ids
        p = db.param
        self._insert_spans = (
            f"INSERT INTO lens_spans ({', '.join(SPAN_COLUMNS)}) VALUES ({_placeholders(db, len(SPAN_COLUMNS))}) "
            "ON CONFLICT (trace_id, span_id) DO NOTHING"
        )
        self._insert_logs = (
            f"INSERT INTO lens_logs ({', '.join(LOG_COLUMNS)}) VALUES ({_placeholders(db, len(LOG_COLUMNS))}) "
            "ON CONFLICT (uid) DO NOTHING"
        )
        newer_root = "(excluded.root_rank > t.root_rank)"
        self._upsert_traces = (
            "INSERT INTO lens_traces AS t (trace_id, root_span_id, root_name, root_rank, service, start_ns, end_ns, "
            f"span_count, error_count) VALUES ({_placeholders(db, 9)}) ON CONFLICT (trace_id) DO UPDATE SET "
            f"root_span_id = CASE WHEN {newer_root} THEN excluded.root_span_id ELSE t.root_span_id END, "
            f"root_name = CASE WHEN {newer_root} THEN excluded.root_name ELSE t.root_name END, "
            f"service = CASE WHEN {newer_root} THEN excluded.service ELSE t.service END, "
            f"root_rank = CASE WHEN {newer_root} THEN excluded.root_rank ELSE t.root_rank END, "
            "start_ns = CASE WHEN excluded.start_ns < t.start_ns THEN excluded.start_ns ELSE t.start_ns END, "
            "end_ns = CASE WHEN excluded.end_ns > t.end_ns THEN excluded.end_ns ELSE t.end_ns END, "
            "span_count = t.span_count + excluded.span_count, "
            "error_count = t.error_count + excluded.error_count"
        )
        self._upsert_usage = (
            "INSERT INTO lens_usage AS u (bucket_ns, service, provider, model, span_count, input_tokens, "
            f"output_tokens, cache_read_tokens, cache_creation_tokens) VALUES ({_placeholders(db, 9)}) "
            "ON CONFLICT (bucket_ns, service, provider, model) DO UPDATE SET "
            "span_count = u.span_count + excluded.span_count, "
            "input_tokens = u.input_tokens + excluded.input_tokens, "
            "output_tokens = u.output_tokens + excluded.output_tokens, "
            "cache_read_tokens = u.cache_read_tokens + excluded.cache_read_tokens, "
            "cache_creation_tokens = u.cache_creation_tokens + excluded.cache_creation_tokens"
        )
        self._param = p

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
            try:
                cursor.execute("ROLLBACK")
            except Exception:  # the transaction may already be gone (e.g. after SQLITE_FULL)
                pass
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                raise _translate(exc, self._db) from exc
            raise

    def _begin(self, cursor: Any, deadline: float) -> None:
        delay = 0.005
        while True:
            try:
                cursor.execute("BEGIN" if self._postgres else "BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() + delay > deadline:
                    raise _translate(exc, self._db) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    # -- spans ----------------------------------------------------------------------------------

    def write_spans(self, batch: EncodedBatch, deadline: float) -> int:
        """Store ``batch`` with its rollups in one transaction; returns how many spans were new."""
        if not batch.rows:
            return 0
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            resource_ids = self._resource_ids(cursor, batch.resources, pending)
            scope_ids = self._scope_ids(cursor, batch.scopes, pending)
            rows = batch.rows
            for row in rows:
                row[SPAN_RESOURCE] = resource_ids[row[SPAN_RESOURCE]]
                row[SPAN_SCOPE] = scope_ids[row[SPAN_SCOPE]]
            indexes = self._insert_new(cursor, self._insert_spans, rows, "lens_spans", ("trace_id", "span_id"))
            inserted = rows if indexes is None else [rows[i] for i in indexes]
            services = {rid: resource.service for rid, resource in zip(resource_ids, batch.resources)}
            cursor.executemany(self._upsert_traces, _trace_rollups(inserted, services))
            if batch.genai:
                wanted = batch.genai if indexes is None else {i: batch.genai[i] for i in indexes if i in batch.genai}
                if wanted:
                    cursor.executemany(self._upsert_usage, _usage_rows(rows, wanted, services))
        self._known.update(pending)
        return len(inserted)

    def write_logs(self, batch: EncodedBatch, deadline: float) -> int:
        """Store the log rows of ``batch`` in one transaction; returns how many were new."""
        if not batch.rows:
            return 0
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            resource_ids = self._resource_ids(cursor, batch.resources, pending)
            scope_ids = self._scope_ids(cursor, batch.scopes, pending)
            for row in batch.rows:
                row[LOG_RESOURCE] = resource_ids[row[LOG_RESOURCE]]
                row[LOG_SCOPE] = scope_ids[row[LOG_SCOPE]]
            cursor.executemany(self._insert_logs, batch.rows)
            count = cursor.rowcount
        self._known.update(pending)
        return count if count >= 0 else len(batch.rows)

    def _insert_new(
        self, cursor: Any, sql: str, rows: list[list[Any]], table: str, key: tuple[str, str]
    ) -> list[int] | None:
        """Insert ``rows``; ``None`` when all were new, else the indexes of the rows that were.

        The common case costs one ``executemany``; only when the row count says some rows existed
        (a retried or overlapping export) is the insert redone for the new rows alone.
        """
        cursor.execute("SAVEPOINT lens_batch")
        cursor.executemany(sql, rows)
        if cursor.rowcount == len(rows):
            cursor.execute("RELEASE SAVEPOINT lens_batch")
            return None
        cursor.execute("ROLLBACK TO SAVEPOINT lens_batch")
        existing: set[tuple[bytes, bytes]] = set()
        first_values = sorted({bytes(row[0]) for row in rows})
        for start in range(0, len(first_values), _NEW_ONLY_CHUNK):
            chunk = first_values[start : start + _NEW_ONLY_CHUNK]
            cursor.execute(
                f"SELECT {key[0]}, {key[1]} FROM {table} WHERE {key[0]} IN ({_placeholders(self._db, len(chunk))})",
                chunk,
            )
            existing.update((bytes(a), bytes(b)) for a, b in cursor.fetchall())
        indexes, seen = [], set()
        for index, row in enumerate(rows):
            ident = (bytes(row[0]), bytes(row[1]))
            if ident not in existing and ident not in seen:
                seen.add(ident)
                indexes.append(index)
        cursor.executemany(sql, [rows[i] for i in indexes])
        cursor.execute("RELEASE SAVEPOINT lens_batch")
        return indexes

    # -- resources and scopes -------------------------------------------------------------------

    def _resource_ids(self, cursor: Any, rows: Sequence[ResourceRow], pending: dict[tuple[str, bytes], int]) -> list[int]:
        return [
            self._intern(cursor, "lens_resources", r.digest, (r.digest, r.service, r.attributes, r.schema_url), pending)
            for r in rows
        ]

    def _scope_ids(self, cursor: Any, rows: Sequence[ScopeRow], pending: dict[tuple[str, bytes], int]) -> list[int]:
        return [
            self._intern(cursor, "lens_scopes", s.digest, (s.digest, s.name, s.version, s.attributes), pending)
            for s in rows
        ]

    def _intern(
        self, cursor: Any, table: str, digest: bytes, values: tuple[Any, ...], pending: dict[tuple[str, bytes], int]
    ) -> int:
        key = (table, digest)
        known = self._known.get(key) or pending.get(key)
        if known is not None:
            return known
        columns = "digest, service, attributes, schema_url" if table == "lens_resources" else "digest, name, version, attributes"
        p = self._param
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (digest) DO NOTHING", values)
        cursor.execute(f"SELECT id FROM {table} WHERE digest = {p}", (digest,))
        row_id = int(cursor.fetchone()[0])
        pending[key] = row_id
        return row_id

    def forget_cached_ids(self) -> None:
        """Drop cached resource/scope ids (after a prune removed rows, or a fork)."""
        self._known.clear()


def _trace_rollups(rows: Sequence[list[Any]], services: dict[int, str | None]) -> list[tuple[Any, ...]]:
    """One rollup delta per trace in ``rows``: root candidate, time bounds, span and error counts."""
    traces: dict[bytes, list[Any]] = {}
    for row in rows:
        trace_id, span_id, parent, name, _kind, flags, start, duration, status = row[:9]
        rank = 2 if parent is None else (1 if flags & FLAG_IS_REMOTE else 0)
        end = start + duration
        errors = 1 if status == _ERROR else 0
        entry = traces.get(trace_id)
        if entry is None:
            traces[trace_id] = [trace_id, span_id, name, rank, services.get(row[SPAN_RESOURCE]), start, end, 1, errors, start]
            continue
        # A better root candidate: a higher rank, or the same rank starting earlier.
        if rank > entry[3] or (rank == entry[3] and start < entry[9]):
            entry[1], entry[2], entry[3], entry[4], entry[9] = span_id, name, rank, services.get(row[SPAN_RESOURCE]), start
        if start < entry[5]:
            entry[5] = start
        if end > entry[6]:
            entry[6] = end
        entry[7] += 1
        entry[8] += errors
    return [tuple(entry[:9]) for entry in traces.values()]


def _usage_rows(rows: Sequence[list[Any]], genai: dict[int, Any], services: dict[int, str | None]) -> list[tuple[Any, ...]]:
    totals: dict[tuple[int, str, str, str], list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for index, usage in genai.items():
        row = rows[index]
        bucket = row[6] - row[6] % USAGE_BUCKET_NS
        total = totals[(bucket, services.get(row[SPAN_RESOURCE]) or "", usage.provider, usage.model)]
        total[0] += 1
        total[1] += usage.input_tokens
        total[2] += usage.output_tokens
        total[3] += usage.cache_read_tokens
        total[4] += usage.cache_creation_tokens
    return [(*key, *values) for key, values in totals.items()]


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _translate(exc: BaseException, db: pw.Database) -> StoreError:
    """A :class:`StoreError` with a user-facing message for a driver error."""
    where = getattr(db, "database", "the database")
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered and ("disk" in lowered or "database" in lowered):
        return StoreFull(f"database {where} is full (disk or size limit): {text}; writing resumes once there is room")
    if _is_busy(exc):
        return StoreError(f"database {where} stayed locked by another writer past the export deadline ({text})")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"database {where} is read-only ({text})")
    return StoreError(f"writing to database {where} failed: {type(exc).__name__}: {text}")
