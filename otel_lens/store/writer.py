"""The hot write path: one transaction per batch, one prepared span INSERT per batch (the backend's batch form).

Peewee owns the schema and the queries; the per-row insert goes straight through the DB-API
cursor, because building SQL per row costs several times the insert itself. The trace rollup and
GenAI usage totals are updated in the same transaction from the rows actually inserted, so a
batch exported twice (or overlapping an earlier one) is counted once.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import peewee as pw

from otel_lens.store import _latency, _latency_levels, _running, _sessions, rollups
from otel_lens.store._backends import Backend, Statements, backend_of
from otel_lens.store.errors import StoreError
from otel_lens.store.rows import (
    LOG_COLUMNS,
    RESOURCE_COLUMNS,
    SCOPE_COLUMNS,
    SPAN_RESOURCE,
    SPAN_TABLE_COLUMNS,
    TRACE_DELTA_COLUMNS,
    USAGE_DELTA_COLUMNS,
    EncodedBatch,
    ResourceRow,
    ScopeRow,
    SpanRow,
    log_table_rows,
    span_table_rows,
)

_RowIds = tuple[list[int], list[int]]
"""The row ids of a batch's resources and of its scopes, by batch index."""


_V = TypeVar("_V")


def _inserted(by_row: Mapping[int, _V], indexes: list[int] | None) -> Mapping[int, _V]:
    """What ``by_row`` says of the inserted spans (GenAI usage, sessions named), by their index among them."""
    if indexes is None or not by_row:
        return by_row
    return {new: by_row[old] for new, old in enumerate(indexes) if old in by_row}


class Writer:
    """Batch inserts into one database; the caller serializes calls (one writer per connection)."""

    def __init__(self, db: pw.Database, backend: Backend | None = None) -> None:
        self._db = db
        self._backend = backend_of(db) if backend is None else backend
        self._known: dict[tuple[str, bytes], int] = {}  # committed resource/scope digests → row ids
        p = db.param
        insert_spans = (
            f"INSERT INTO lens_spans ({', '.join(SPAN_TABLE_COLUMNS)}) "
            f"VALUES ({rollups.placeholders(db, len(SPAN_TABLE_COLUMNS))}) ON CONFLICT (trace_row, span_id) DO NOTHING"
        )
        insert_logs = (
            f"INSERT INTO lens_logs ({', '.join(LOG_COLUMNS)}) VALUES ({rollups.placeholders(db, len(LOG_COLUMNS))}) "
            "ON CONFLICT (uid) DO NOTHING"
        )
        self._backend.prepare(
            db,
            Statements(
                insert_spans,
                SPAN_TABLE_COLUMNS,
                insert_logs,
                tuple(LOG_COLUMNS),
                rollups.upsert_traces_sql(db),
                TRACE_DELTA_COLUMNS,
                rollups.upsert_usage_sql(db),
                USAGE_DELTA_COLUMNS,
            ),
        )
        self._backend.prepare_latency(
            db, _latency.upsert_sql(db, self._backend.latency_histogram_merge), _latency.COLUMNS
        )
        _latency_levels.prepare(db, self._backend)
        self._param = p
        self.running = _running.RunningRows(db, self._backend)  # spans still open: see store/_running.py

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self, deadline: float) -> Iterator[Any]:
        """A write transaction (the backend's BEGIN) retried on lock contention until ``deadline``.

        Raises:
            StoreFull: the disk or database size limit is full.
            ConnectionLost: the connection was found dropped at BEGIN (nothing written).
            StoreError: the lock could not be had before ``deadline``, or the database failed.
        """
        conn = self._db.connection()
        cursor = conn.cursor()
        self._backend.begin(cursor, deadline)
        try:
            yield cursor
            cursor.execute("COMMIT")
        except BaseException as exc:
            self.running.rolled_back()  # its bookkeeping follows what the database holds
            with contextlib.suppress(Exception):  # the transaction may already be gone (e.g. after SQLITE_FULL)
                cursor.execute("ROLLBACK")
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                raise self._backend.write_error(exc, self._backend.where) from exc
            raise
        self.running.committed()

    # -- spans ----------------------------------------------------------------------------------

    def write_spans(self, batch: EncodedBatch, deadline: float) -> int:
        """Store ``batch`` with its rollups in one transaction; returns how many spans were new."""
        if not batch.rows:
            return 0
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            ids = self._references(cursor, batch, pending)
            rows: Sequence[SpanRow] = batch.rows
            services = [resource.service for resource in batch.resources]  # by the rows' resource index
            traces: list[list[tuple[Any, ...]]] = []  # each call's trace deltas: the sessions rollup reuses them

            def trace_deltas(part: Sequence[SpanRow]) -> list[tuple[Any, ...]]:
                traces.append(rollups.trace_rollups(part, services))
                return traces[-1]

            indexes = self._backend.insert_spans(
                cursor, rows, trace_deltas, lambda part, trace_rows: span_table_rows(part, trace_rows, *ids)
            )
            inserted = rows if indexes is None else [rows[i] for i in indexes]
            self.running.ended(cursor, rows)  # the finished spans replace their running rows
            hourly = _latency.deltas(inserted, services, SPAN_RESOURCE)
            _latency_levels.write(cursor, self._param, self._backend, hourly)
            if batch.genai:
                wanted = batch.genai if indexes is None else {i: batch.genai[i] for i in indexes if i in batch.genai}
                if wanted:
                    self._backend.upsert_usage(cursor, rollups.usage_rows(rows, wanted, services))
            _sessions.apply(
                cursor,
                self._db,
                inserted,
                _inserted(batch.genai, indexes),
                None if batch.sessions is None else _inserted(batch.sessions, indexes),
                traces[0] if indexes is None and len(traces) == 1 else rollups.trace_rollups(inserted, services),
            )
            if batch.bodies:
                cursor.executemany(rollups.upsert_bodies_sql(self._db), [dataclasses.astuple(b) for b in batch.bodies])
        self._known.update(pending)
        return len(rows) if indexes is None else len(indexes)

    def write_running(self, batch: EncodedBatch, deadline: float, interval_ns: int) -> int:
        """Store ``batch`` as running spans (see :mod:`otel_lens.store._running`); returns how many were new."""
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            count = self.running.write(cursor, batch, self._references(cursor, batch, pending), interval_ns)
        self._known.update(pending)
        return count

    def write_logs(self, batch: EncodedBatch, deadline: float) -> int:
        """Store the log rows of ``batch`` in one transaction; returns how many were new."""
        if not batch.rows:
            return 0
        with self.transaction(deadline) as cursor:
            pending: dict[tuple[str, bytes], int] = {}
            count = self._backend.insert_logs(
                cursor, log_table_rows(batch.rows, *self._references(cursor, batch, pending))
            )
        self._known.update(pending)
        return count if count >= 0 else len(batch.rows)

    # -- resources and scopes -------------------------------------------------------------------

    def _references(self, cursor: Any, batch: EncodedBatch, pending: dict[tuple[str, bytes], int]) -> _RowIds:
        """The row ids of the batch's resources and scopes, in batch order (the rows refer to them by index)."""
        return self._resource_ids(cursor, batch.resources, pending), self._scope_ids(cursor, batch.scopes, pending)

    def _resource_ids(
        self, cursor: Any, rows: Sequence[ResourceRow], pending: dict[tuple[str, bytes], int]
    ) -> list[int]:
        if self._backend.sorted_interning:  # new ones in digest order: concurrent writers lock in one order
            for r in sorted(rows, key=lambda r: r.digest):
                self._intern(cursor, "lens_resources", r, pending)
        return [self._intern(cursor, "lens_resources", r, pending) for r in rows]

    def _scope_ids(self, cursor: Any, rows: Sequence[ScopeRow], pending: dict[tuple[str, bytes], int]) -> list[int]:
        if self._backend.sorted_interning:
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
        values = self._backend.clean_row(dataclasses.astuple(row))
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
