"""Trace queries: the newest-first trace list, one whole trace by id or prefix, and traces in bulk for export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee as pw

from otel_lens.query import _running
from otel_lens.query._decode import LOG_FIELDS, SPAN_FIELDS, Lookups, columns, log_record, span_record
from otel_lens.query._filters import like_contains, prefix_range
from otel_lens.query.errors import AmbiguousTraceId, TraceNotFound
from otel_lens.query.results import LogRecord, SpanRecord, TraceSummary
from otel_lens.store.schema import Models

_SHOWN_MATCHES = 3  # an ambiguous prefix error lists this many of the matching ids
_SUMMARY_FIELDS = ("trace_id", "root_name", "service", "start_ns", "end_ns", "span_count", "error_count")


def _summary(row: Sequence[Any]) -> TraceSummary:
    trace_id, root_name, service, start, end, spans, errors = row
    return TraceSummary(bytes(trace_id).hex(), root_name, service, int(start), int(end), int(spans), int(errors))


def _summary_columns(models: Models) -> list[Any]:
    return [getattr(models.trace, name) for name in _SUMMARY_FIELDS]


def list_traces(
    models: Models,
    *,
    service: str | None,
    name: str | None,
    status: str | None,
    cutoff: int | None,
    min_duration: int | None,
    limit: int | None,
    before: tuple[int, bytes] | None = None,
    keyset: bool = False,
    search: str | None = None,
    running: bool = False,
) -> list[TraceSummary]:
    """Trace rollups matching every given filter, newest first (each filter a bound parameter).

    ``keyset`` orders ties by trace id too, and ``before`` is a (start_ns, trace_id) key: only traces
    after it in that order (keyset paging). ``search`` keeps traces whose root name or service contains
    the text (case-insensitive, taken literally). ``running`` keeps traces with a span running now.
    """
    trace: Any = models.trace
    query = trace.select(*_summary_columns(models))
    if service is not None:
        query = query.where(trace.service == service)
    if name is not None:
        query = query.where(trace.root_name == name)
    if status == "error":
        query = query.where(trace.error_count > 0)
    elif status == "ok":
        query = query.where(trace.error_count == 0)
    if cutoff is not None:
        query = query.where(trace.start_ns >= cutoff)
    if min_duration is not None:
        query = query.where((trace.end_ns - trace.start_ns) >= min_duration)
    if search:
        pattern = like_contains(search.lower())

        def contains(column: Any) -> Any:
            return pw.NodeList((pw.fn.LOWER(column), pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '!'")))

        query = query.where(contains(trace.root_name) | contains(trace.service))
    if running:
        query = query.where(_running.running_condition(models))
    if before is not None:
        start, trace_id = before
        query = query.where((trace.start_ns < start) | ((trace.start_ns == start) & (trace.trace_id < trace_id)))
    if keyset or before is not None:
        query = query.order_by(trace.start_ns.desc(), trace.trace_id.desc())
    else:
        query = query.order_by(trace.start_ns.desc())
    if limit is not None:
        query = query.limit(limit)
    return _running.mark_traces(models, [_summary(row) for row in query.tuples()])


def resolve_trace_id(models: Models, prefix: str) -> bytes:
    """The one stored trace id starting with the hex ``prefix``.

    Raises:
        TraceNotFound: no stored trace starts with it.
        AmbiguousTraceId: several do (the message shows some of them).
    """
    trace: Any = models.trace
    if len(prefix) == 32:
        wanted = bytes.fromhex(prefix)
        if trace.select(trace.trace_id).where(trace.trace_id == wanted).exists():
            return wanted
        raise TraceNotFound(f"no trace {prefix} in the store")
    low, high = prefix_range(prefix, 16)
    rows = list(
        trace.select(trace.trace_id)
        .where((trace.trace_id >= low) & (trace.trace_id <= high))
        .order_by(trace.trace_id)
        .limit(_SHOWN_MATCHES + 1)
        .tuples()
    )
    if not rows:
        raise TraceNotFound(f"no trace id starts with {prefix}")
    if len(rows) > 1:
        shown = ", ".join(bytes(r[0]).hex() for r in rows[:_SHOWN_MATCHES])
        more = ", …" if len(rows) > _SHOWN_MATCHES else ""  # "…" only when some matches are not listed
        raise AmbiguousTraceId(f"trace id prefix {prefix} is ambiguous ({shown}{more}); give more digits")
    return bytes(rows[0][0])


def trace_summary(models: Models, trace_id: bytes) -> TraceSummary:
    trace: Any = models.trace
    row = trace.select(*_summary_columns(models)).where(trace.trace_id == trace_id).tuples().first()
    if row is None:
        raise TraceNotFound(f"no trace {trace_id.hex()} in the store")
    return _running.mark_traces(models, [_summary(row)])[0]


def span_rows(
    models: Models, lookups: Lookups, trace_ids: Sequence[bytes], fields: Sequence[str] = SPAN_FIELDS
) -> list[tuple[Any, ...]]:
    """The rows (``fields`` order: ``trace_id`` first, ``resource_id`` and ``scope_id`` last) of every span of
    ``trace_ids``, ordered by trace then start time; their resources and scopes loaded into ``lookups``."""
    span: Any = models.span
    trace: Any = models.trace
    # Spans are keyed by their trace's row id; the trace id comes from the rollup row.
    query = (
        span.select(trace.trace_id, *columns(span, fields[1:]))
        .join(trace, on=(span.trace_row == trace.id))
        .where(trace.trace_id.in_(list(trace_ids)) if len(trace_ids) > 1 else trace.trace_id == trace_ids[0])
        .order_by(trace.trace_id, span.start_ns, span.span_id)
    )
    # The driver's rows as they are: the callers convert each value themselves, and peewee's per-field
    # conversion of .tuples() was half the cost of reading a 10,000-span trace.
    rows = list(span._meta.database.execute(query))
    lookups.load(models, (r[-2] for r in rows), (r[-1] for r in rows))
    return rows


def spans_of(models: Models, lookups: Lookups, trace_ids: Sequence[bytes], running: bool = False) -> list[SpanRecord]:
    """Every span of ``trace_ids``, ordered by trace then start time (with ``running``, also those still open)."""
    spans = [span_record(row, lookups) for row in span_rows(models, lookups, trace_ids)]
    return _running.with_running(models, lookups, trace_ids, spans) if running else spans


def logs_of(models: Models, lookups: Lookups, trace_id: bytes) -> list[LogRecord]:
    """The log records of one trace, oldest first."""
    log: Any = models.log
    query = log.select(*columns(log, LOG_FIELDS)).where(log.trace_id == trace_id).order_by(log.timestamp_ns, log.id)
    rows = list(query.tuples())
    lookups.load(models, (r[-2] for r in rows), (r[-1] for r in rows))
    return [log_record(row, lookups) for row in rows]


def count_logs(models: Models, trace_id: bytes) -> int:
    """How many log records belong to one trace."""
    log: Any = models.log
    return int(log.select(pw.fn.COUNT(pw.SQL("*"))).where(log.trace_id == trace_id).scalar() or 0)


def count_traces(models: Models, cutoff: int | None) -> int:
    trace: Any = models.trace
    query = trace.select(pw.fn.COUNT(pw.SQL("*")))
    if cutoff is not None:
        query = query.where(trace.start_ns >= cutoff)
    return int(query.scalar() or 0)


def trace_page(
    models: Models, cutoff: int | None, after: tuple[int, bytes] | None, size: int
) -> list[tuple[int, bytes]]:
    """The next ``size`` (start_ns, trace_id) keys in time order after ``after`` (keyset pagination)."""
    trace: Any = models.trace
    query = trace.select(trace.start_ns, trace.trace_id)
    if cutoff is not None:
        query = query.where(trace.start_ns >= cutoff)
    if after is not None:
        start, trace_id = after
        query = query.where((trace.start_ns > start) | ((trace.start_ns == start) & (trace.trace_id > trace_id)))
    query = query.order_by(trace.start_ns, trace.trace_id).limit(size)
    return [(int(start), bytes(trace_id)) for start, trace_id in query.tuples()]
