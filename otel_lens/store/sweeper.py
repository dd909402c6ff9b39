"""Retention: delete data past its age or beyond the size budget, in short transactions, then shrink the file.

Deletes go oldest first in chunks sized to hold the write lock for a few milliseconds, so an
exporter waiting behind the sweeper is delayed about as much as by a checkpoint. Only trace and
log ids are ever loaded, never the rows themselves, so memory stays flat on any store size. Spans,
their trace rollup and the trace's logs are deleted in the same transaction: a kill at any moment
leaves no orphans (no span without its rollup, no log pointing at a deleted trace).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import peewee as pw

from otel_lens.store import _latency_levels, _running, _sessions_upkeep
from otel_lens.store._backends import Backend

if TYPE_CHECKING:
    from otel_lens.store.database import Location

_TARGET_CHUNK_S = 0.004
_MIN_CHUNK, _MAX_CHUNK = 8, 2000
_SIZE_HEADROOM = 0.9  # a size sweep stops at 90% of the budget so it does not run again at once


@dataclasses.dataclass
class PruneSummary:
    """What one retention pass removed."""

    traces_deleted: int = 0
    spans_deleted: int = 0
    logs_deleted: int = 0
    bodies_deleted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0
    skipped: str | None = None  # set when another process was sweeping

    @property
    def bytes_reclaimed(self) -> int:
        return max(self.bytes_before - self.bytes_after, 0)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["bytes_reclaimed"] = self.bytes_reclaimed
        return data


Transaction = Callable[[], AbstractContextManager[Any]]
"""Opens one short write transaction on the store and yields its cursor (the store's writer lock held)."""
Locked = Callable[[], AbstractContextManager[Any]]
"""Holds the store's writer lock, outside any transaction, and yields the raw connection."""


class Sweeper:
    """Deletes expired or excess data from one database through ``transaction``."""

    def __init__(
        self, db: pw.Database, transaction: Transaction, locked: Locked, location: Location, backend: Backend
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._locked = locked
        # Through lambdas, so the space always goes through this sweeper's current transaction and lock.
        self._space = backend.space(location, lambda: self._locked(), lambda: self._transaction())
        self._p = db.param
        self._backend = backend
        self._chunk = 200

    # -- size -----------------------------------------------------------------------------------

    def store_size(self) -> int:
        """Bytes the store takes: the SQLite file plus its -wal, or the PostgreSQL tables."""
        return self._space.store_size()

    def _used_bytes(self, summary: PruneSummary) -> int:
        """Bytes live data takes after this pass's deletes, which is what a size pass brings under budget."""
        return self._space.used_bytes(
            {
                "lens_spans": summary.spans_deleted,
                "lens_traces": summary.traces_deleted,
                "lens_logs": summary.logs_deleted,
            }
        )

    def _read_one(self, sql: str) -> tuple[Any, ...]:
        """One row of a read-only statement, under the store lock but outside any write transaction."""
        with self._locked() as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return tuple(cursor.fetchone())

    def after_fork(self) -> list[Any]:
        """In a fork child: forget the parent's pass connections; returns them, to be kept alive unused."""
        return self._space.forget_after_fork()

    # -- passes ---------------------------------------------------------------------------------

    def prune(self, max_age: float, max_size: int, now_ns: int | None = None) -> PruneSummary:
        """Delete data older than ``max_age`` seconds, then the oldest data beyond ``max_size`` bytes."""
        self._space.begin_pass()
        try:
            return self._prune(max_age, max_size, now_ns)
        finally:
            self._space.end_pass()

    def _between_chunks(self) -> None:
        self._space.between_chunks()

    def _prune(self, max_age: float, max_size: int, now_ns: int | None) -> PruneSummary:
        started = time.monotonic()
        summary = PruneSummary(bytes_before=self.store_size())
        now_ns = time.time_ns() if now_ns is None else now_ns
        if max_age > 0:
            cutoff = now_ns - min(int(max_age * 1e9), now_ns)  # an age past the epoch means: everything older
            while self._delete_oldest_traces(summary, cutoff):
                pass
            while self._delete_oldest_logs(summary, cutoff):
                pass
            self._delete_small(summary, cutoff)
        if max_size > 0 and self.store_size() > max_size:
            target = int(max_size * _SIZE_HEADROOM)
            self._space.start_size_pass()
            per_trace: float | None = None
            while (used := self._used_bytes(summary)) > target:
                trace_start, log_start = self._oldest()
                if trace_start is None and log_start is None:
                    break
                per_trace = per_trace or self._bytes_per_trace(used)
                limit = int((used - target) / per_trace) + 1
                if log_start is None or (trace_start is not None and trace_start <= log_start):
                    deleted = self._delete_oldest_traces(summary, None, limit)  # False: only running ones left
                    if not deleted and (log_start is None or not self._delete_oldest_logs(summary, None, limit * 4)):
                        break
                elif not self._delete_oldest_logs(summary, None, limit * 4):
                    break
            self._delete_small(summary, self._oldest_kept())
        if summary.spans_deleted or summary.logs_deleted or summary.bodies_deleted:
            self.shrink()
        summary.bytes_after = self.store_size()
        summary.seconds = time.monotonic() - started
        return summary

    def _timed(self, work: Callable[[Any, int], int], limit: int | None = None) -> int:
        """Run ``work(cursor, chunk)`` in one transaction, adapting the chunk to the lock-time target.

        ``limit`` caps one chunk (a size pass deletes only what the budget needs, not a whole chunk).
        """
        chunk = self._chunk if limit is None else max(min(self._chunk, limit), 1)
        with self._transaction() as cursor:
            started = time.perf_counter()  # lock held from here: waiting for it says nothing of the chunk
            done = work(cursor, chunk)
        elapsed = time.perf_counter() - started  # including the commit
        if done >= chunk == self._chunk and elapsed < _TARGET_CHUNK_S / 2:
            self._chunk = min(self._chunk * 2, _MAX_CHUNK)
        elif elapsed > _TARGET_CHUNK_S:
            self._chunk = max(int(self._chunk * _TARGET_CHUNK_S / elapsed), _MIN_CHUNK)
        self._between_chunks()
        return done

    def _delete_oldest_traces(self, summary: PruneSummary, cutoff: int | None, limit: int | None = None) -> bool:
        p = self._p

        def work(cursor: Any, chunk: int) -> int:
            where = f"WHERE start_ns < {p} AND " if cutoff is not None else "WHERE "
            where += _running.not_running_now(cursor, time.time_ns()) + " "  # a live run is kept while it runs
            params: tuple[Any, ...] = (cutoff, chunk) if cutoff is not None else (chunk,)
            cursor.execute(f"SELECT id, trace_id FROM lens_traces {where}ORDER BY start_ns LIMIT {p}", params)
            found = cursor.fetchall()
            if not found:
                return 0
            ids = [row[0] for row in found]
            marks = ", ".join([p] * len(ids))
            # A trace's logs go with it, in the same transaction: its logs are usually newer than its
            # start (and than older traces), so deleting by time alone would leave them pointing at
            # nothing. (trace_id, timestamp_ns) is indexed.
            cursor.execute(f"DELETE FROM lens_logs WHERE trace_id IN ({marks})", [bytes(row[1]) for row in found])
            summary.logs_deleted += max(cursor.rowcount, 0)
            cursor.execute(f"DELETE FROM lens_spans WHERE trace_row IN ({marks})", ids)
            summary.spans_deleted += max(cursor.rowcount, 0)
            _running.delete_of_traces(cursor, marks, ids)  # running and abandoned spans go with their trace
            cursor.execute(f"DELETE FROM lens_traces WHERE id IN ({marks})", ids)
            summary.traces_deleted += max(cursor.rowcount, 0)
            _sessions_upkeep.forget_traces(cursor, p, [bytes(row[1]) for row in found])  # their sessions shrink
            return len(ids)

        return self._timed(work, limit) > 0

    def _delete_oldest_logs(self, summary: PruneSummary, cutoff: int | None, limit: int | None = None) -> bool:
        p = self._p

        def work(cursor: Any, chunk: int) -> int:
            where = f"WHERE timestamp_ns < {p} " if cutoff is not None else ""
            rows = chunk * 4 if limit is None else chunk
            params: tuple[Any, ...] = (cutoff, rows) if cutoff is not None else (rows,)
            cursor.execute(
                f"DELETE FROM lens_logs WHERE id IN (SELECT id FROM lens_logs {where}ORDER BY timestamp_ns LIMIT {p})",
                params,
            )
            deleted = max(int(cursor.rowcount), 0)
            summary.logs_deleted += deleted
            return deleted

        return self._timed(work, limit) > 0

    def _bytes_per_trace(self, used: int) -> float:
        """The store's own bytes per trace, so a size pass deletes about what the budget needs, not more."""
        traces = int(self._read_one("SELECT count(*) FROM lens_traces")[0])
        logs = int(self._read_one("SELECT count(*) FROM lens_logs")[0])
        rows = traces + logs / 4  # a trace (≈5 spans + rollup) weighs about as much as four log records
        return max(used / rows, 1.0) if rows else 1.0

    def _oldest(self) -> tuple[int | None, int | None]:
        trace = self._read_one("SELECT min(start_ns) FROM lens_traces")[0]
        log = self._read_one("SELECT min(timestamp_ns) FROM lens_logs")[0]
        return trace, log

    def _oldest_kept(self) -> int:
        trace, log = self._oldest()
        candidates = [t for t in (trace, log) if t is not None]
        return min(candidates) if candidates else time.time_ns()

    def _delete_small(self, summary: PruneSummary, cutoff: int) -> None:
        """Bodies last seen, usage and latency buckets ended before ``cutoff`` (small tables, chunked anyway)."""
        p = self._p

        def bodies(cursor: Any, chunk: int) -> int:
            cursor.execute(
                f"DELETE FROM lens_bodies WHERE digest IN (SELECT digest FROM lens_bodies WHERE last_seen_ns < {p} "
                f"LIMIT {p})",
                (cutoff, chunk),
            )
            deleted = max(int(cursor.rowcount), 0)
            summary.bodies_deleted += deleted
            return deleted

        while self._timed(bodies):
            pass
        with self._transaction() as cursor:
            cursor.execute(f"DELETE FROM lens_usage WHERE bucket_ns < {p}", (cutoff - 3600 * 10**9,))
            _latency_levels.sweep(cursor, p, self._backend, cutoff - 3600 * 10**9)  # hourly rows and their levels
            _running.delete_idle_writers(cursor, p, cutoff)

    def shrink(self) -> None:
        """Give freed space back to the file system (SQLite: incremental vacuum, then an emptied WAL)."""
        self._space.shrink()

    def checkpoint(self, truncate: bool = False) -> None:
        """Copy the WAL into the database (and with ``truncate``, empty the -wal file); SQLite only."""
        self._space.checkpoint(truncate)
