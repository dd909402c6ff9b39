"""Running and abandoned spans on the read side: ``lens_running`` rows as span records, states of trace summaries.

A running row (see ``otel_lens.store._running``) is ``running`` while its writer's heartbeat is fresh and
``abandoned`` once the beat is older than max(3 × the writer's interval, 10 s) or the writer shut down
leaving it open. That is decided here, at read time, by the reader's clock, so any host sharing the
database sees the same thing (clocks a few seconds apart change nothing: the bound is 10 s or more).
Nothing is rewritten when a span is found abandoned; its row stays until retention deletes its trace.

A running span's ``end_ns`` is the read time and an abandoned one's its writer's last beat (how long it
is known to have run), so durations are "so far"; the JSON shape says ``end_time_unix_nano: null``.
Stores older than schema 6 (read before any writer migrated them) have no running rows.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import peewee as pw

from otel_lens.query._decode import SPAN_FIELDS, Lookups, span_record
from otel_lens.query.results import SpanRecord, TraceSummary
from otel_lens.store.migrations import table_columns
from otel_lens.store.rows import ID_CHUNK
from otel_lens.store.schema import Models

RUNNING = "running"
ABANDONED = "abandoned"
ENDED = "ended"
MIN_STALE_NS = 10 * 10**9  # the store's bound (otel_lens.store._running.MIN_STALE_NS): max(3 × interval, 10 s)

_present: weakref.WeakKeyDictionary[pw.Database, bool] = weakref.WeakKeyDictionary()
_present_lock = threading.Lock()


def _has_running(models: Models) -> bool:
    """Whether the store has the schema-6 tables (a reader never migrates an older store)."""
    db = models.running._meta.database
    with _present_lock:
        found = _present.get(db)
    if not found:  # asked again while absent: a writer may migrate the store meanwhile
        found = bool(table_columns(db, "lens_running")) and bool(table_columns(db, "lens_writers"))
        with _present_lock:
            _present[db] = found
    return found


def _any(models: Models) -> bool:
    """Whether any span is stored running or abandoned: one cheap statement (~0.1 ms), so reads of a store
    without any (the usual case) pay next to nothing more."""
    if not _has_running(models):
        return False
    db = models.running._meta.database
    return db.execute_sql("SELECT 1 FROM lens_running LIMIT 1").fetchone() is not None


def _state(now: int, beat: int | None, interval: int | None, stopped: int | None) -> tuple[str, int]:
    """A running row's state and its "so far" end, from its writer's heartbeat row (None: the row is gone)."""
    if beat is None or stopped:
        return ABANDONED, int(beat or 0)
    if now - int(beat) > max(3 * int(interval or 0), MIN_STALE_NS):
        return ABANDONED, int(beat)
    return RUNNING, now


def live_writer_ids(models: Models) -> list[int]:
    """The writers whose running spans read as running now."""
    if not _has_running(models):
        return []
    writer: Any = models.writerbeat
    now = time.time_ns()
    rows = writer.select(writer.id, writer.beat_ns, writer.interval_ns, writer.stopped).tuples()
    return [int(i) for i, beat, interval, stopped in rows if _state(now, beat, interval, stopped)[0] == RUNNING]


def running_condition(models: Models) -> Any:
    """A ``where`` condition on lens_traces: traces with a span running now (for ``traces --running``)."""
    trace: Any = models.trace
    ids = live_writer_ids(models)
    if not ids:
        return pw.SQL("1 = 0")
    running: Any = models.running
    return trace.id.in_(running.select(running.trace_row).where(running.writer_id.in_(ids)))


def _rows(models: Models, trace_ids: Sequence[bytes], fields: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``fields`` + the writer's beat, interval and stopped of the running rows of ``trace_ids``."""
    running: Any = models.running
    trace: Any = models.trace
    writer: Any = models.writerbeat
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(trace_ids), ID_CHUNK):
        chunk = list(trace_ids[start : start + ID_CHUNK])
        query = (
            running.select(*fields, writer.beat_ns, writer.interval_ns, writer.stopped)
            .join(trace, on=(running.trace_row == trace.id))
            .join(writer, pw.JOIN.LEFT_OUTER, on=(running.writer_id == writer.id))
            .where(trace.trace_id.in_(chunk))
        )
        found.extend(running._meta.database.execute(query))
    return found


def running_spans(models: Models, lookups: Lookups, trace_ids: Sequence[bytes]) -> list[SpanRecord]:
    """The running and abandoned spans of ``trace_ids`` (their state and "so far" end set)."""
    if not trace_ids or not _any(models):
        return []
    running: Any = models.running
    trace: Any = models.trace
    fields = [trace.trace_id, *(getattr(running, name) for name in SPAN_FIELDS[1:])]
    rows = _rows(models, trace_ids, fields)
    if not rows:
        return []
    width = len(SPAN_FIELDS)
    lookups.load(models, (r[width - 2] for r in rows), (r[width - 1] for r in rows))
    now = time.time_ns()
    spans = []
    for row in rows:
        record = span_record(tuple(row[:width]), lookups)
        state, end = _state(now, *row[width:])
        spans.append(dataclasses.replace(record, state=state, end_ns=max(end, record.start_ns)))
    return spans


def running_rows(
    models: Models, trace_ids: Sequence[bytes], names: Sequence[str]
) -> list[tuple[tuple[Any, ...], str, int]]:
    """The running and abandoned spans of ``trace_ids`` as stored rows (``names``: ``"trace_id"`` first, then
    span columns), each with its state and "so far" end: for readers that build JSON from rows."""
    if not trace_ids or not _any(models):
        return []
    running: Any = models.running
    trace: Any = models.trace
    fields = [trace.trace_id, *(getattr(running, name) for name in names[1:])]
    width = len(names)
    now = time.time_ns()
    return [(tuple(row[:width]), *_state(now, *row[width:])) for row in _rows(models, trace_ids, fields)]


def with_running(
    models: Models, lookups: Lookups, trace_ids: Sequence[bytes], spans: list[SpanRecord]
) -> list[SpanRecord]:
    """``spans`` (ended, by trace then start) with the traces' running and abandoned spans merged in order."""
    extra = running_spans(models, lookups, trace_ids)
    if not extra:
        return spans
    ended = {(span.trace_id, span.span_id) for span in spans}
    merged = spans + [span for span in extra if (span.trace_id, span.span_id) not in ended]
    merged.sort(key=lambda span: (span.trace_id, span.start_ns, span.span_id))
    return merged


def mark_traces(models: Models, summaries: list[TraceSummary]) -> list[TraceSummary]:
    """``summaries`` with ``state`` (and a "so far" end) for the traces that have running or abandoned spans."""
    if not summaries or not _any(models):
        return summaries
    trace: Any = models.trace
    rows = _rows(models, [bytes.fromhex(s.trace_id) for s in summaries], [trace.trace_id])
    if not rows:
        return summaries
    now = time.time_ns()
    states: dict[str, tuple[str, int]] = {}
    for trace_id, beat, interval, stopped in rows:
        state, end = _state(now, beat, interval, stopped)
        key = bytes(trace_id).hex()
        seen = states.get(key)
        # Running wins over abandoned; among equals the latest "so far" end.
        if seen is None or (state == RUNNING, end) > (seen[0] == RUNNING, seen[1]):
            states[key] = (state, end)
    return [
        s
        if s.trace_id not in states
        else dataclasses.replace(s, state=states[s.trace_id][0], end_ns=max(s.end_ns, states[s.trace_id][1]))
        for s in summaries
    ]
