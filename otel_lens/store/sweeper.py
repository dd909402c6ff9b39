"""Retention: delete data past its age or beyond the size budget, in short transactions, then shrink the file.

Deletes go oldest first in chunks sized to hold the write lock for a few milliseconds, so an
exporter waiting behind the sweeper is delayed about as much as by a checkpoint. Only trace and
log ids are ever loaded, never the rows themselves, so memory stays flat on any store size. Spans,
their trace rollup and the trace's logs are deleted in the same transaction: a kill at any moment
leaves no orphans (no span without its rollup, no log pointing at a deleted trace).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import peewee as pw

from otel_lens.store import _postgres

_TARGET_CHUNK_S = 0.004
_MIN_CHUNK, _MAX_CHUNK = 8, 2000
_VACUUM_PAGES = 128  # pages per incremental_vacuum step: ~1 ms of lock when the machine is idle
_SIDE_TIMEOUT_S = 5.0  # busy timeout of a pass's checkpoint connection
_SIZE_HEADROOM = 0.9  # a size sweep stops at 90% of the budget so it does not run again at once
_AUTO_VACUUM_INCREMENTAL = 2
_TRUNCATE_WAIT_MS, _TRUNCATE_TRIES = 20, 10


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

    _side: sqlite3.Connection | None = None  # a pass's checkpoint connection (SQLite)

    def __init__(self, db: pw.Database, transaction: Transaction, locked: Locked, path: Path | None) -> None:
        self._db = db
        self._transaction = transaction
        self._locked = locked
        self._path = path  # the SQLite file, for size accounting; None on PostgreSQL
        self._p = db.param
        self._chunk = 200
        self._pg_rows: dict[str, tuple[int, float, int]] | None = None  # PostgreSQL: live-size baseline of a pass
        self._pg_other_bytes = 0

    # -- size -----------------------------------------------------------------------------------

    def store_size(self) -> int:
        """Bytes the store takes: the SQLite file plus its -wal, or the PostgreSQL tables."""
        if self._path is None:
            with self._locked() as conn:
                return _postgres.store_size(conn.cursor())
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(f"{self._path}{suffix}").st_size
        return total

    def _used_bytes(self, summary: PruneSummary) -> int:
        """Bytes in use after deletes (free pages excluded), which is what the file shrinks to."""
        if self._path is None:
            return self._pg_live_bytes(summary)
        page_size, pages, free = (
            self._read_one("PRAGMA page_size")[0],
            self._read_one("PRAGMA page_count")[0],
            self._read_one("PRAGMA freelist_count")[0],
        )
        return int((pages - free) * page_size)

    def _read_one(self, sql: str) -> tuple[Any, ...]:
        """One row of a read-only statement, under the store lock but outside any write transaction."""
        with self._locked() as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return tuple(cursor.fetchone())

    def _pg_live_bytes(self, summary: PruneSummary) -> int:
        """PostgreSQL: the bytes live rows take, estimated once per pass and reduced by each delete.

        Deleted rows' space is only reused by new rows (after autovacuum), never returned to the file
        system, so the files' size cannot tell when a size sweep has deleted enough.
        """
        deleted = {
            "lens_spans": summary.spans_deleted,
            "lens_traces": summary.traces_deleted,
            "lens_logs": summary.logs_deleted,
        }
        if self._pg_rows is None:
            with self._transaction() as cursor:
                total = _postgres.store_size(cursor)
                self._pg_rows = {}
                for table in deleted:
                    rows, cost, size = _postgres.bytes_per_row(cursor, table)
                    self._pg_rows[table] = (rows + deleted[table], cost, size)  # rows as if nothing was deleted yet
            self._pg_other_bytes = max(total - sum(size for _, _, size in self._pg_rows.values()), 0)
        live = float(self._pg_other_bytes)
        for table, (rows, cost, _) in self._pg_rows.items():
            live += max(rows - deleted[table], 0) * cost
        return int(live)

    # -- passes ---------------------------------------------------------------------------------

    def prune(self, max_age: float, max_size: int, now_ns: int | None = None) -> PruneSummary:
        """Delete data older than ``max_age`` seconds, then the oldest data beyond ``max_size`` bytes."""
        if self._path is not None:
            self._side = sqlite3.connect(self._path, timeout=_SIDE_TIMEOUT_S, isolation_level=None)
        try:
            return self._prune(max_age, max_size, now_ns)
        finally:
            side, self._side = self._side, None
            if side is not None:
                side.close()

    def _between_chunks(self) -> None:
        """Let a waiting exporter take the lock, and checkpoint the WAL without holding it.

        A pass writes thousands of WAL frames. Left to SQLite's autocheckpoint, the copy into the
        database and its fsync (tens of milliseconds) run inside the COMMIT of whichever chunk or
        export crosses the threshold, under the store's lock. A PASSIVE checkpoint from a connection
        of its own never blocks a writer; once it caught up, the next write restarts the WAL, so
        it stays small and the autocheckpoint seldom fires inside the lock.
        """
        time.sleep(0)
        if self._side is not None:
            with contextlib.suppress(sqlite3.Error):  # an optimization here; the final TRUNCATE still runs
                self._side.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

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
            self._pg_rows = None
            per_trace: float | None = None
            while (used := self._used_bytes(summary)) > target:
                trace_start, log_start = self._oldest()
                if trace_start is None and log_start is None:
                    break
                per_trace = per_trace or self._bytes_per_trace(used)
                limit = int((used - target) / per_trace) + 1
                if log_start is None or (trace_start is not None and trace_start <= log_start):
                    self._delete_oldest_traces(summary, None, limit)
                else:
                    self._delete_oldest_logs(summary, None, limit * 4)
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
            where = f"WHERE start_ns < {p} " if cutoff is not None else ""
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
            cursor.execute(f"DELETE FROM lens_traces WHERE id IN ({marks})", ids)
            summary.traces_deleted += max(cursor.rowcount, 0)
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
            cursor.execute(f"DELETE FROM lens_latency WHERE bucket_ns < {p}", (cutoff - 3600 * 10**9,))

    def shrink(self) -> None:
        """Give freed pages back to the file system and truncate the WAL (SQLite; a no-op elsewhere)."""
        if self._path is None:
            return
        if self._read_one("PRAGMA auto_vacuum")[0] == _AUTO_VACUUM_INCREMENTAL:
            free = self._read_one("PRAGMA freelist_count")[0]
            while free:
                with self._locked() as conn:
                    # Python's sqlite3 steps a PRAGMA once, and each step of incremental_vacuum frees ONE
                    # page (execute() then resets it); executescript() steps it to the end. BEGIN
                    # IMMEDIATE: a deferred write would fail with BUSY_SNAPSHOT beside other writers.
                    conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({_VACUUM_PAGES}); COMMIT;")
                    left = conn.execute("PRAGMA freelist_count").fetchone()[0]
                self._between_chunks()
                if left >= free:
                    break  # nothing freed: never spin (the file is what it is)
                free = left
        self.checkpoint(truncate=True)

    def checkpoint(self, truncate: bool = False) -> None:
        """Copy the WAL into the database (and with ``truncate``, empty the -wal file)."""
        if self._path is None:
            return
        if truncate and self._side is not None:
            self._between_chunks()  # most frames copied off the lock: TRUNCATE has little left to do
            # TRUNCATE takes the write lock, then waits for readers to finish, blocking writers meanwhile.
            # From the side connection, each try waits at most _TRUNCATE_WAIT_MS, so an exporter is held
            # up that long at worst, and a reader that stays (a CLI, a viewer) makes it give up: the WAL
            # is then capped by journal_size_limit and emptied by a later pass.
            with contextlib.suppress(sqlite3.Error):
                self._side.execute(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
                for _ in range(_TRUNCATE_TRIES):
                    busy = self._side.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy:
                        break
                    time.sleep(_TRUNCATE_WAIT_MS / 1000)
            return
        with self._locked() as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
