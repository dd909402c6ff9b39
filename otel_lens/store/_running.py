"""Running spans on the write side: their rows in lens_running, replaced by the finished span, and the heartbeat.

A span open for longer than one interval is written to ``lens_running`` (the span's columns, no end
yet, and the id of the process that wrote it). It never touches lens_spans nor a rollup count: when
the span ends, its finished row goes into lens_spans as any span does and, in the same transaction,
its running row is deleted. So an ended row is never overwritten, a re-export stays a no-op, and
``span_count``, usage and latency count each span once, when it ends. The running row does take part
in the trace rollup's *root* choice (with zero counts), so a trace whose root still runs lists that
root, not a child that ended first.

Each process that has running rows keeps a heartbeat row in ``lens_writers`` (writer = host, pid and
start time), beaten at its interval while any of its running rows remain. Readers on any host call a
running row ``abandoned`` when its writer's beat is older than :func:`stale_after_ns` of its interval,
or when the writer shut down (``stopped``) leaving it open.

Writes are serialized by the store's lock, so "is the span already stored?" (checked before a running
row is inserted) and "which running rows did this process write?" (checked when spans end) cannot
interleave with each other.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import peewee as pw

from otel_lens.store import rollups
from otel_lens.store._backends import Backend
from otel_lens.store.rows import (
    SPAN_SPAN_ID,
    SPAN_TABLE_COLUMNS,
    SPAN_TRACE_ID,
    TRACE_DELTA_COLUMNS,
    EncodedBatch,
    SpanRow,
    span_table_rows,
)

MIN_STALE_NS = 10 * 10**9
"""A writer's running spans read as abandoned once its last beat is older than max(3 × its interval, this)."""

RUNNING_COLUMNS = (*SPAN_TABLE_COLUMNS, "writer_id")
_COUNTS = (TRACE_DELTA_COLUMNS.index("span_count"), TRACE_DELTA_COLUMNS.index("error_count"))
_END = TRACE_DELTA_COLUMNS.index("end_ns")
_START = TRACE_DELTA_COLUMNS.index("start_ns")


def stale_after_ns(interval_ns: int) -> int:
    """How old a writer's last beat may be before its running spans read as abandoned."""
    return max(3 * int(interval_ns), MIN_STALE_NS)


@dataclasses.dataclass(frozen=True)
class WriterIdentity:
    """Who writes: unique across the hosts and processes sharing one database."""

    host: str
    pid: int
    started_ns: int

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}:{self.started_ns}"


class RunningRows:
    """One writer's running rows and heartbeat (one per :class:`~otel_lens.store.writer.Writer`, so per connection).

    ``self.open`` holds the (trace id, span id) of the running rows this process wrote and has not seen
    end yet: the finished-span hook costs one truthiness test per batch while it is empty. It changes only
    once a transaction commits (the writer calls :meth:`committed` or :meth:`rolled_back`): a running row
    whose replacement was rolled back is still there. The finished span of such a row was dropped with its
    batch (the exporter does not retry), so the row goes in this writer's next transaction instead of
    reading "running", beaten by this process's heartbeat, for as long as it lives.
    """

    def __init__(self, db: pw.Database, backend: Backend) -> None:
        self._db = db
        self._backend = backend
        self._p = db.param
        self.open: set[tuple[bytes, bytes]] = set()
        self._adding: list[tuple[bytes, bytes]] = []  # written in the transaction under way
        self._ending: list[tuple[bytes, bytes]] = []  # deleted in the transaction under way
        self._orphans: set[tuple[bytes, bytes]] = set()  # their finished span was rolled back: delete them
        self._stopping = False
        self.identity = WriterIdentity(socket.gethostname(), os.getpid(), time.time_ns())
        self._writer_id: int | None = None
        columns = ", ".join(RUNNING_COLUMNS)
        self._insert = (
            f"INSERT INTO lens_running ({columns}) VALUES ({rollups.placeholders(db, len(RUNNING_COLUMNS))}) "
            "ON CONFLICT (trace_row, span_id) DO NOTHING"
        )
        self._upsert_trace = rollups.upsert_traces_sql(db, 1, returning=True)

    # -- spans ending ---------------------------------------------------------------------------

    def ended(self, cursor: Any, rows: Sequence[SpanRow]) -> None:
        """Delete the running rows of the spans of ``rows`` (finished spans being stored in this transaction)."""
        self._delete_orphans(cursor)
        open_keys = self.open
        if not open_keys:
            return
        span_ids = {span_id for _, span_id in open_keys}  # few: the long spans open now; no tuple per row
        candidates = [(row[SPAN_TRACE_ID], row[SPAN_SPAN_ID]) for row in rows if row[SPAN_SPAN_ID] in span_ids]
        done = [key for key in candidates if key in open_keys]
        if done:
            self._delete(cursor, done)

    def _delete(self, cursor: Any, keys: Sequence[tuple[bytes, bytes]]) -> None:
        p = self._p
        cursor.executemany(
            f"DELETE FROM lens_running WHERE trace_row = (SELECT id FROM lens_traces WHERE trace_id = {p}) "
            f"AND span_id = {p}",
            keys,
        )
        self._ending.extend(keys)

    def _delete_orphans(self, cursor: Any) -> None:
        if self._orphans:
            self._delete(cursor, sorted(self._orphans))

    # -- the end of the writer's transaction ----------------------------------------------------

    def committed(self) -> None:
        """The transaction committed: what it wrote and deleted is so."""
        if not (self._adding or self._ending or self._stopping):
            return  # most transactions: ended spans none of which was running
        if self._stopping:
            self.open.clear()
            self._orphans.clear()
        else:
            self.open.update(self._adding)
            self.open.difference_update(self._ending)
            self._orphans.difference_update(self._ending)
        self._reset()

    def rolled_back(self) -> None:
        """The transaction failed: rows it wrote are not there; rows it deleted are, and are deleted next time."""
        ending = set(self._ending)
        self.open.difference_update(ending)
        self._orphans.update(ending)
        self._reset()

    def _reset(self) -> None:
        self._adding = []
        self._ending = []
        self._stopping = False

    # -- running rows ---------------------------------------------------------------------------

    def write(self, cursor: Any, batch: EncodedBatch, ids: tuple[list[int], list[int]], interval_ns: int) -> int:
        """Store the batch's rows as running (skipping spans already stored as ended); returns how many were new."""
        now = time.time_ns()
        writer_id = self._beat(cursor, now, interval_ns, force=True)
        rows: Sequence[SpanRow] = batch.rows
        services = [resource.service for resource in batch.resources]
        trace_rows: dict[bytes, int] = {}
        for delta in sorted(rollups.trace_rollups(rows, services)):  # trace id order: one lock order
            values = list(delta)
            values[_COUNTS[0]] = values[_COUNTS[1]] = 0  # counted when the span ends, never while it runs
            values[_END] = values[_START]  # and its end is not known yet
            cursor.execute(self._upsert_trace, self._backend.clean_row(values))
            for trace_id, row_id in cursor.fetchall():
                trace_rows[bytes(trace_id)] = int(row_id)
        fresh: list[tuple[Any, ...]] = []
        keys: list[tuple[bytes, bytes]] = []
        p = self._p
        for row, table_row in zip(rows, span_table_rows(rows, trace_rows, *ids), strict=True):
            cursor.execute(
                f"SELECT 1 FROM lens_spans WHERE trace_row = {p} AND span_id = {p}", (table_row[0], table_row[1])
            )
            if cursor.fetchone() is None:  # not stored ended yet (one that ended meanwhile must not run again)
                fresh.append(self._backend.clean_row((*table_row, writer_id)))
                keys.append((row[SPAN_TRACE_ID], row[SPAN_SPAN_ID]))
        if fresh:
            cursor.executemany(self._insert, fresh)
        if batch.bodies:
            cursor.executemany(rollups.upsert_bodies_sql(self._db), [dataclasses.astuple(b) for b in batch.bodies])
        self._adding.extend(keys)
        self._delete_orphans(cursor)
        return len(fresh)

    # -- heartbeat ------------------------------------------------------------------------------

    def beat(self, cursor: Any, interval_ns: int) -> None:
        """Move this writer's heartbeat forward, when it has running rows anyone could be watching."""
        self._delete_orphans(cursor)
        if self.open:
            self._beat(cursor, time.time_ns(), interval_ns, force=False)

    @property
    def active(self) -> bool:
        """Whether a beat has anything to do: running rows to keep running, or orphans to delete."""
        return bool(self.open or self._orphans)

    @property
    def registered(self) -> bool:
        """Whether this writer has a heartbeat row (it wrote running rows at some point)."""
        return self._writer_id is not None

    def stop(self, cursor: Any) -> None:
        """A clean shutdown: whatever this writer left running reads as abandoned from now on."""
        if self._writer_id is None:
            return
        cursor.execute(
            f"UPDATE lens_writers SET stopped = 1, beat_ns = {self._p} WHERE id = {self._p}",
            (time.time_ns(), self._writer_id),
        )
        self._delete_orphans(cursor)
        self._stopping = True

    def _beat(self, cursor: Any, now: int, interval_ns: int, *, force: bool) -> int:
        p = self._p
        if self._writer_id is not None:
            cursor.execute(
                f"UPDATE lens_writers SET beat_ns = {p}, interval_ns = {p}, stopped = 0 WHERE id = {p}",
                (now, interval_ns, self._writer_id),
            )
            if cursor.rowcount:  # gone only if someone deleted it: then it is made again below
                return self._writer_id
        if not force:
            return -1
        me = self.identity
        cursor.execute(
            "INSERT INTO lens_writers (writer, host, pid, started_ns, beat_ns, interval_ns, stopped) "
            f"VALUES ({rollups.placeholders(self._db, 7)}) ON CONFLICT (writer) DO UPDATE SET beat_ns = excluded.beat_ns",
            self._backend.clean_row((me.name, me.host, me.pid, me.started_ns, now, interval_ns, 0)),
        )
        cursor.execute(f"SELECT id FROM lens_writers WHERE writer = {p}", (me.name,))
        self._writer_id = int(cursor.fetchone()[0])
        return self._writer_id


# -- retention (the sweeper's hooks) --------------------------------------------------------------


def not_running_now(cursor: Any, now_ns: int) -> str:
    """A condition on ``lens_traces`` for retention: the trace has no span that a live writer still runs.

    Retention (by size: oldest start first; by age) must not delete a long run while it runs: its root
    started first, so it would be the first to go. Its spans read as running exactly while their writer
    beats (the readers' rule, :func:`stale_after_ns`); once the run ends or its writer stops beating
    (abandoned), the trace is pruned as any other.
    """
    cursor.execute("SELECT id, beat_ns, interval_ns, stopped FROM lens_writers")
    live = [
        int(writer_id)
        for writer_id, beat, interval, stopped in cursor.fetchall()
        if not stopped and now_ns - int(beat) <= stale_after_ns(int(interval or 0))
    ]
    if not live:
        return "1 = 1"
    ids = ", ".join(str(i) for i in live)  # integers read just now: no quoting to get wrong
    return (
        "NOT EXISTS (SELECT 1 FROM lens_running WHERE lens_running.trace_row = lens_traces.id "
        f"AND lens_running.writer_id IN ({ids}))"
    )


def delete_of_traces(cursor: Any, marks: str, trace_rows: Sequence[int]) -> None:
    """Delete the running rows of the traces being deleted (``marks``: their placeholders)."""
    cursor.execute(f"DELETE FROM lens_running WHERE trace_row IN ({marks})", list(trace_rows))


def delete_idle_writers(cursor: Any, p: str, cutoff: int) -> None:
    """Forget heartbeat rows last beaten before ``cutoff`` that no running row refers to any more (a live
    writer whose row went makes a new one with its next running row)."""
    cursor.execute(
        f"DELETE FROM lens_writers WHERE beat_ns < {p} AND NOT EXISTS "
        "(SELECT 1 FROM lens_running WHERE lens_running.writer_id = lens_writers.id)",
        (cutoff,),
    )
