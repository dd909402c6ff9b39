"""Records stored since the last look: the tail behind ``/api/live`` and ``logs --follow``, exact on PostgreSQL too.

Tailing by "rows with an id above the largest seen" is exact on SQLite (one writer at a time, ids drawn
inside the write lock, so ids become visible in order) but not on PostgreSQL: a BIGSERIAL id is drawn
when a row is inserted, and a transaction that drew id 10 can commit after one that drew id 11. A
reader that saw 11 and moved its mark there would never return 10.

So the tail keeps a *floor*: every id at or below it is settled (returned, or known never to come).
Above the floor it remembers which ids it has returned, and each poll re-reads the ids above the floor
and returns only the ones it has not returned yet. An id missing below the largest one seen is a *gap*:
a transaction still in progress, or an id that will never be used (a rolled-back transaction, and
``ON CONFLICT DO NOTHING`` — how the writers skip duplicates — draws an id for every duplicate too). A
gap settles once every transaction that was running when it was first seen has ended
(``pg_snapshot_xmin`` of a later snapshot has passed the first snapshot's ``xmax``) and
:data:`GAP_GRACE_S` has passed: then, had its row committed, it is visible and was returned. The grace
covers the few microseconds between a transaction drawing an id and taking its transaction id (the
statement that draws it writes the row straight away); the floor then moves up to the lowest open gap.

Guarantee: every row whose transaction commits is returned exactly once by a tail that was started
before the row's id was drawn (a tail started later begins at the newest ids it sees). Memory and each
poll's re-read are bounded by the ids above the floor: those of the last few seconds of writes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from otel_lens.query._decode import Lookups
from otel_lens.query._logs import list_logs
from otel_lens.query._running import mark_traces
from otel_lens.query._traces import _summary, _summary_columns
from otel_lens.query.results import LogRecord, TraceSummary
from otel_lens.store._backends import Backend, backend_of
from otel_lens.store.schema import Models

GAP_GRACE_S = 2.0
_START_WINDOW = 1000  # a new tail treats the newest ids it finds as already there, gaps among them as open
_PAGE = 5000  # ids re-read per query: a burst of 100k rows is returned in pages, never all at once


class IdTail:
    """New ids of one table (``"span"`` or ``"log"`` of :class:`Models`), in the order they became visible.

    ``clock`` is injectable so a test can settle gaps without waiting.
    """

    def __init__(self, table: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.table = table
        self._clock = clock
        self._floor: int | None = None  # None until the first poll
        self._backend: Backend | None = None  # the store's backend, known at the first poll
        self._returned: set[int] = set()  # ids above the floor already returned (or there when the tail started)
        self._gaps: dict[
            int, tuple[int, float]
        ] = {}  # open gap id -> (xmax of the snapshot it was first seen in, when)

    @property
    def floor(self) -> int:
        return self._floor or 0

    @property
    def pending(self) -> int:
        """How many ids above the floor the tail remembers (returned ids and open gaps)."""
        return len(self._returned) + len(self._gaps)

    def poll(self, models: Models) -> list[int]:
        """The ids that became visible since the last poll, oldest id first (at most about one page)."""
        model: Any = getattr(models, self.table)
        db: Any = model._meta.database
        if self._backend is None:
            self._backend = backend_of(db)
        backend = self._backend
        postgres = not backend.ids_commit_in_order  # ids may become visible out of order: gaps are tracked
        if self._floor is None:
            return self._start(model, backend, db, postgres)
        # Gaps settle by a snapshot taken before the read (a transaction that ended before it is visible to
        # the read), and open with the xmax of one taken after it (every transaction the read could not see
        # has a smaller transaction id, or took its id after the read).
        xmin = _snapshot(backend, db)[0] if postgres else 0
        rows = [
            int(r[0])
            for r in model.select(model.id).where(model.id > self._floor).order_by(model.id).limit(_PAGE).tuples()
        ]
        xmax = _snapshot(backend, db)[1] if postgres else 0
        fresh = [row_id for row_id in rows if row_id not in self._returned]
        self._returned.update(fresh)
        if not postgres:
            # Visible in id order: everything up to the largest id seen is settled.
            if rows:
                self._floor = rows[-1]
            self._returned.clear()
            return fresh
        self._track_gaps(rows, xmax)
        self._settle(xmin)
        return fresh

    def _start(self, model: Any, backend: Backend, db: Any, postgres: bool) -> list[int]:
        newest = int(model.select(model.id).order_by(model.id.desc()).limit(1).scalar() or 0)
        if not postgres:
            self._floor = newest
            return []
        self._floor = max(newest - _START_WINDOW, 0)
        rows = [int(r[0]) for r in model.select(model.id).where(model.id > self._floor).tuples()]
        xmax = _snapshot(backend, db)[1]
        self._returned.update(rows)
        self._track_gaps(sorted(rows), xmax)
        return []

    def _track_gaps(self, rows: list[int], xmax: int) -> None:
        """Every id between the floor and the largest id seen that is neither returned nor a known gap opens one."""
        if not rows:
            return
        now = self._clock()
        top = rows[-1]
        for row_id in range(self.floor + 1, top):
            if row_id not in self._returned and row_id not in self._gaps:
                self._gaps[row_id] = (xmax, now)
        for row_id in rows:
            self._gaps.pop(row_id, None)  # a gap whose row committed meanwhile closes

    def _settle(self, xmin: int) -> None:
        now = self._clock()
        for row_id, (xmax, seen) in list(self._gaps.items()):
            if xmin >= xmax and now - seen >= GAP_GRACE_S:
                del self._gaps[row_id]
        # The floor rises to just below the lowest open gap (to the largest id returned when none is open).
        lowest_gap = min(self._gaps, default=None)
        highest = lowest_gap - 1 if lowest_gap is not None else max(self._returned, default=self.floor)
        self._floor = max(self.floor, highest)
        self._returned = {row_id for row_id in self._returned if row_id > self._floor}


def _snapshot(backend: Backend, db: Any) -> tuple[int, int]:
    snapshot = backend.commit_snapshot(db)
    assert snapshot is not None  # asked only of backends that gave one
    return snapshot


@dataclasses.dataclass(frozen=True)
class LiveBatch:
    """What one poll of a :class:`LiveFeed` found: traces that gained spans, and new log records."""

    traces: list[TraceSummary]
    logs: list[LogRecord]


class LiveFeed:
    """Follows a store: each :meth:`poll` returns the traces touched and the log records stored since the last.

    Made by :meth:`Store.live <otel_lens.query.Store.live>`; ``log_filters`` are :func:`list_logs`'s
    (already validated). A trace appears again each time more of its spans are stored (its summary grows).
    """

    def __init__(
        self,
        run: Callable[[Callable[[Models], Any]], Any],
        lookups: Lookups,
        traces: bool = True,
        logs: bool = True,
        log_filters: dict[str, Any] | None = None,
    ) -> None:
        self._run = run
        self._lookups = lookups
        self._spans = IdTail("span") if traces else None
        self._logs = IdTail("log") if logs else None
        self._log_filters = log_filters or {}
        self.poll()  # the starting point: what is stored now is not "new"

    @property
    def pending(self) -> int:
        """Ids the feed remembers above its floors (recently returned ids and open gaps): bounded by recent writes."""
        return sum(tail.pending for tail in (self._spans, self._logs) if tail is not None)

    def poll(self) -> LiveBatch:
        result: LiveBatch = self._run(self._poll)
        return result

    def _poll(self, models: Models) -> LiveBatch:
        traces: list[TraceSummary] = []
        records: list[LogRecord] = []
        if self._spans is not None:
            span_ids = self._spans.poll(models)
            traces = _touched_traces(models, span_ids)
        if self._logs is not None:
            log_ids = self._logs.poll(models)
            for start in range(0, len(log_ids), _IN_CHUNK):
                chunk = log_ids[start : start + _IN_CHUNK]
                records.extend(list_logs(models, self._lookups, ids=chunk, limit=None, **self._log_filters))
        return LiveBatch(traces, records)


_IN_CHUNK = 500  # ids per IN (...) list


def _touched_traces(models: Models, span_ids: list[int]) -> list[TraceSummary]:
    """The current summaries of the traces the spans ``span_ids`` belong to, in the order first touched."""
    span: Any = models.span
    trace: Any = models.trace
    order: dict[int, None] = {}
    for start in range(0, len(span_ids), _IN_CHUNK):
        chunk = span_ids[start : start + _IN_CHUNK]
        for (trace_row,) in span.select(span.trace_row).where(span.id.in_(chunk)).order_by(span.id).tuples():
            order.setdefault(int(trace_row), None)
    found: dict[int, TraceSummary] = {}
    rows = list(order)
    for start in range(0, len(rows), _IN_CHUNK):
        chunk = rows[start : start + _IN_CHUNK]
        query = trace.select(trace.id, *_summary_columns(models)).where(trace.id.in_(chunk))
        for row in query.tuples():
            found[int(row[0])] = _summary(row[1:])
    return mark_traces(models, [found[row] for row in rows if row in found])  # running / abandoned states
