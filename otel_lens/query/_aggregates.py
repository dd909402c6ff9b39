"""Aggregates over a time window: latency percentiles and error rates per span name or service.

GenAI usage totals live in :mod:`otel_lens.query._usage`.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from otel_lens.query.results import StatRow
from otel_lens.store.rows import STATUS_ERROR
from otel_lens.store.schema import Models

_PERCENTILES = (50, 95, 99)


def span_stats(models: Models, by: str, cutoff: int | None) -> list[StatRow]:
    """Count, errors and nearest-rank p50/p95/p99 of span durations per ``by`` ("name" or "service").

    One pass in SQL, portable to SQLite and PostgreSQL: window functions number each group's spans
    by duration, and the p-th percentile is the duration at rank ceil(p/100 · n).
    """
    span: Any = models.span
    resource: Any = models.resource
    key = span.name if by == "name" else pw.fn.COALESCE(resource.service, "")
    ranked = span.select(
        key.alias("k"),
        span.duration_ns.alias("d"),
        span.status_code.alias("s"),
        pw.fn.ROW_NUMBER().over(partition_by=[key], order_by=[span.duration_ns]).alias("rn"),
        pw.fn.COUNT(pw.SQL("*")).over(partition_by=[key]).alias("n"),
    )
    if by == "service":
        ranked = ranked.join(resource, on=(span.resource_id == resource.id))
    if cutoff is not None:
        ranked = ranked.where(span.start_ns >= cutoff)
    w = ranked.alias("w")

    def at_rank(p: int) -> Any:
        rank = (w.c.n * p + 99) / 100  # integer division on both dialects: ceil(p·n/100)
        return pw.fn.MAX(pw.Case(None, [(w.c.rn == rank, w.c.d)], None))

    columns = [
        w.c.k,
        pw.fn.MAX(w.c.n),
        pw.fn.SUM(pw.Case(None, [(w.c.s == STATUS_ERROR, 1)], 0)),
        *(at_rank(p) for p in _PERCENTILES),
    ]
    query = pw.Select(from_list=[w], columns=columns).group_by(w.c.k).bind(models.span._meta.database)
    rows = [
        StatRow(by, str(k), int(n), int(errors or 0), int(p50) / 1e6, int(p95) / 1e6, int(p99) / 1e6)
        for k, n, errors, p50, p95, p99 in query.tuples()
    ]
    rows.sort(key=lambda r: (-r.count, r.key))
    return rows
