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

from otel_lens.store.rows import FLAG_IS_REMOTE, SPAN_RESOURCE, STATUS_ERROR, USAGE_BUCKET_NS


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
    return (
        "INSERT INTO lens_traces AS t (trace_id, root_span_id, root_name, root_rank, service, start_ns, end_ns, "
        f"span_count, error_count, root_start_ns) VALUES {', '.join([f'({placeholders(db, 10)})'] * rows)} "
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
    return (
        "INSERT INTO lens_usage AS u (bucket_ns, service, provider, model, span_count, input_tokens, "
        f"output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens) VALUES ({placeholders(db, 10)}) "
        "ON CONFLICT (bucket_ns, service, provider, model) DO UPDATE SET "
        "span_count = u.span_count + excluded.span_count, "
        "input_tokens = u.input_tokens + excluded.input_tokens, "
        "output_tokens = u.output_tokens + excluded.output_tokens, "
        "cache_read_tokens = u.cache_read_tokens + excluded.cache_read_tokens, "
        "cache_creation_tokens = u.cache_creation_tokens + excluded.cache_creation_tokens, "
        "reasoning_tokens = u.reasoning_tokens + excluded.reasoning_tokens"
    )


def upsert_bodies_sql(db: pw.Database) -> str:
    """Store a body once by digest; a body seen again only moves its ``last_seen_ns`` forward."""
    return (
        "INSERT INTO lens_bodies AS b (digest, size, encoding, content_type, content, last_seen_ns) "
        f"VALUES ({placeholders(db, 6)}) ON CONFLICT (digest) DO UPDATE SET last_seen_ns = "
        "CASE WHEN excluded.last_seen_ns > b.last_seen_ns THEN excluded.last_seen_ns ELSE b.last_seen_ns END"
    )


def trace_rollups(rows: Sequence[list[Any]], services: dict[int, str | None]) -> list[tuple[Any, ...]]:
    """One rollup delta per trace in ``rows``: root candidate, time bounds, span and error counts."""
    traces: dict[bytes, list[Any]] = {}
    for row in rows:
        trace_id, span_id, parent, name, _kind, flags, start, duration, status = row[:9]
        rank = 2 if parent is None else (1 if flags & FLAG_IS_REMOTE else 0)
        end = start + duration
        errors = 1 if status == STATUS_ERROR else 0
        entry = traces.get(trace_id)
        if entry is None:
            traces[trace_id] = [
                trace_id,
                span_id,
                name,
                rank,
                services.get(row[SPAN_RESOURCE]),
                start,
                end,
                1,
                errors,
                start,
            ]
            continue
        # A better root candidate: a higher rank, or the same rank starting earlier.
        if rank > entry[3] or (rank == entry[3] and start < entry[9]):
            entry[1], entry[2], entry[3], entry[4], entry[9] = (
                span_id,
                name,
                rank,
                services.get(row[SPAN_RESOURCE]),
                start,
            )
        if start < entry[5]:
            entry[5] = start
        if end > entry[6]:
            entry[6] = end
        entry[7] += 1
        entry[8] += errors
    return [tuple(entry) for entry in traces.values()]


def usage_rows(
    rows: Sequence[list[Any]], genai: dict[int, Any], services: dict[int, str | None]
) -> list[tuple[Any, ...]]:
    """One token delta per hour/service/provider/model of the spans in ``genai`` (``upsert_usage_sql`` order)."""
    totals: dict[tuple[int, str, str, str], list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for index, usage in genai.items():
        row = rows[index]
        bucket = row[6] - row[6] % USAGE_BUCKET_NS
        total = totals[(bucket, services.get(row[SPAN_RESOURCE]) or "", usage.provider, usage.model)]
        total[0] += 1
        total[1] += usage.input_tokens
        total[2] += usage.output_tokens
        total[3] += usage.cache_read_tokens
        total[4] += usage.cache_creation_tokens
        total[5] += usage.reasoning_tokens
    return [(*key, *values) for key, values in totals.items()]
