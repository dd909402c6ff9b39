"""Exact rollups kept in the export transaction: per-trace summaries, GenAI usage totals, body bookkeeping.

Each is computed in Python from the rows a batch actually inserted, then applied with one upsert per
key, so trace summaries and token totals stay exact whatever order batches arrive in, and a span
stored once is counted once.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import peewee as pw

from otel_lens.store._sessions import Tokens, add_usage, zero
from otel_lens.store.rows import (
    BODY_COLUMNS,
    FLAG_IS_REMOTE,
    SPAN_RESOURCE,
    SPAN_START,
    STATUS_ERROR,
    TRACE_DELTA_COLUMNS,
    USAGE_BUCKET_NS,
    USAGE_DELTA_COLUMNS,
    USAGE_KEY_COLUMNS,
    SpanRow,
)


def placeholders(db: pw.Database, count: int) -> str:
    """``count`` parameter marks in the database's style (``?`` or ``%s``)."""
    return ", ".join([db.param] * count)


def upsert_traces_sql(db: pw.Database, rows: int = 1, returning: bool = False) -> str:
    """Merge trace deltas into their lens_traces rows (10 parameters a row, ``trace_rollups`` order).

    With ``returning``, the statement yields each trace's ``(trace_id, id)``: one statement for the
    whole batch finds the row ids the spans need, instead of a separate lookup.
    """
    # The root is the best-ranked span (no parent > remote parent > any), the earliest among equals,
    # whichever batch brings it.
    newer_root = (
        "(excluded.root_rank > t.root_rank OR "
        "(excluded.root_rank = t.root_rank AND excluded.root_start_ns < t.root_start_ns))"
    )
    columns = ", ".join(TRACE_DELTA_COLUMNS)
    return (
        f"INSERT INTO lens_traces AS t ({columns}) "
        f"VALUES {', '.join([f'({placeholders(db, len(TRACE_DELTA_COLUMNS))})'] * rows)} "
        "ON CONFLICT (trace_id) DO UPDATE SET "
        f"root_span_id = CASE WHEN {newer_root} THEN excluded.root_span_id ELSE t.root_span_id END, "
        f"root_name = CASE WHEN {newer_root} THEN excluded.root_name ELSE t.root_name END, "
        f"service = CASE WHEN {newer_root} THEN excluded.service ELSE t.service END, "
        f"root_rank = CASE WHEN {newer_root} THEN excluded.root_rank ELSE t.root_rank END, "
        f"root_start_ns = CASE WHEN {newer_root} THEN excluded.root_start_ns ELSE t.root_start_ns END, "
        "start_ns = CASE WHEN excluded.start_ns < t.start_ns THEN excluded.start_ns ELSE t.start_ns END, "
        "end_ns = CASE WHEN excluded.end_ns > t.end_ns THEN excluded.end_ns ELSE t.end_ns END, "
        "span_count = t.span_count + excluded.span_count, "
        "error_count = t.error_count + excluded.error_count" + (" RETURNING trace_id, id" if returning else "")
    )


def upsert_usage_sql(db: pw.Database) -> str:
    """Add one hour/service/provider/model's token delta to lens_usage (10 parameters, ``usage_rows`` order)."""
    counts = USAGE_DELTA_COLUMNS[USAGE_KEY_COLUMNS:]
    return (
        f"INSERT INTO lens_usage AS u ({', '.join(USAGE_DELTA_COLUMNS)}) "
        f"VALUES ({placeholders(db, len(USAGE_DELTA_COLUMNS))}) "
        f"ON CONFLICT ({', '.join(USAGE_DELTA_COLUMNS[:USAGE_KEY_COLUMNS])}) DO UPDATE SET "
        + ", ".join(f"{name} = u.{name} + excluded.{name}" for name in counts)
    )


def upsert_bodies_sql(db: pw.Database) -> str:
    """Store a body once by digest; a body seen again only moves its ``last_seen_ns`` forward."""
    return (
        f"INSERT INTO lens_bodies AS b ({', '.join(BODY_COLUMNS)}) "
        f"VALUES ({placeholders(db, len(BODY_COLUMNS))}) ON CONFLICT (digest) DO UPDATE SET last_seen_ns = "
        "CASE WHEN excluded.last_seen_ns > b.last_seen_ns THEN excluded.last_seen_ns ELSE b.last_seen_ns END"
    )


class _TraceDelta:
    """One trace's rollup delta while a batch is summed (named fields; :meth:`row` gives TRACE_DELTA_COLUMNS order)."""

    __slots__ = TRACE_DELTA_COLUMNS  # its fields are the columns, by name

    def __init__(self, trace_id: bytes, span_id: bytes, name: str, rank: int, service: str | None, start: int,
                 end: int, errors: int) -> None:  # fmt: skip
        self.trace_id, self.root_span_id, self.root_name, self.root_rank = trace_id, span_id, name, rank
        self.service, self.start_ns, self.end_ns, self.root_start_ns = service, start, end, start
        self.span_count, self.error_count = 1, errors

    def row(self) -> tuple[Any, ...]:
        return (self.trace_id, self.root_span_id, self.root_name, self.root_rank, self.service, self.start_ns,
                self.end_ns, self.span_count, self.error_count, self.root_start_ns)  # fmt: skip


def trace_rollups(rows: Sequence[SpanRow], services: Sequence[str | None]) -> list[tuple[Any, ...]]:
    """One rollup delta per trace in ``rows`` (TRACE_DELTA_COLUMNS order): root candidate, time bounds, span and
    error counts. ``services`` are the service names of the batch's resources, by index."""
    traces: dict[bytes, _TraceDelta] = {}
    for row in rows:
        trace_id, span_id, parent, name, _kind, flags, start, duration, status = row[:9]  # SPAN_COLUMNS' first nine
        rank = 2 if parent is None else (1 if flags & FLAG_IS_REMOTE else 0)
        end = start + duration
        errors = 1 if status == STATUS_ERROR else 0
        entry = traces.get(trace_id)
        if entry is None:
            traces[trace_id] = _TraceDelta(
                trace_id, span_id, name, rank, services[row[SPAN_RESOURCE]], start, end, errors
            )
            continue
        # A better root candidate: a higher rank, or the same rank starting earlier.
        if rank > entry.root_rank or (rank == entry.root_rank and start < entry.root_start_ns):
            entry.root_span_id, entry.root_name, entry.root_rank = span_id, name, rank
            entry.service, entry.root_start_ns = services[row[SPAN_RESOURCE]], start
        if start < entry.start_ns:
            entry.start_ns = start
        if end > entry.end_ns:
            entry.end_ns = end
        entry.span_count += 1
        entry.error_count += errors
    return [entry.row() for entry in traces.values()]


def usage_rows(rows: Sequence[SpanRow], genai: dict[int, Any], services: Sequence[str | None]) -> list[tuple[Any, ...]]:
    """One token delta per hour/service/provider/model of the spans in ``genai`` (``USAGE_DELTA_COLUMNS`` order)."""
    totals: dict[tuple[int, str, str, str], Tokens] = collections.defaultdict(zero)
    for index, usage in genai.items():
        row = rows[index]
        start = row[SPAN_START]
        bucket = start - start % USAGE_BUCKET_NS
        add_usage(totals[(bucket, services[row[SPAN_RESOURCE]] or "", usage.provider, usage.model)], usage)
    return [(*key, *values) for key, values in totals.items()]
