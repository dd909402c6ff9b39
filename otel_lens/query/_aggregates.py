"""Aggregates over a time window: latency percentiles and error rates per kind of span or service.

GenAI usage totals live in :mod:`otel_lens.query._usage`.
"""

from __future__ import annotations

import collections
from typing import Any

from otel_lens.query.results import SPAN_KINDS, StatRow
from otel_lens.store.rows import ID_CHUNK, STATUS_ERROR
from otel_lens.store.schema import Models

_PERCENTILES = (50, 95, 99)


def span_stats(models: Models, by: str, cutoff: int | None) -> list[StatRow]:
    """Count, errors and nearest-rank p50/p95/p99 of span durations per ``by`` ("name" or "service").

    By name, spans are told apart by name, kind and service (a route's INTERNAL span and the SERVER
    span of the same name are different things); by service, a service is one row.

    One scan of the window's spans, grouped here by a dict: SQLite has no hash aggregate, and the
    window-function form (sorting every span of the window by group and duration) took ~2-3× as long
    on a 1M-span store, more with each grouping column (bench_query). The result is exact on both
    dialects; memory is one int per span in the window.
    """
    span: Any = models.span
    query = span.select(span.name, span.kind, span.resource_id, span.duration_ns, span.status_code)
    if cutoff is not None:
        query = query.where(span.start_ns >= cutoff)
    durations: dict[Any, list[int]] = collections.defaultdict(list)
    errors: collections.Counter[Any] = collections.Counter()
    cursor = models.span._meta.database.execute(query)
    if by == "name":
        for name, kind, resource_id, duration, status in cursor:
            span_key = (name, kind, resource_id)
            durations[span_key].append(duration)
            if status == STATUS_ERROR:
                errors[span_key] += 1
    else:
        for _, _, resource_id, duration, status in cursor:
            durations[resource_id].append(duration)
            if status == STATUS_ERROR:
                errors[resource_id] += 1
    # A service runs as many resources (one per process): their groups merge under the service's name.
    services = _services(models, {key[2] if by == "name" else key for key in durations})
    Group = tuple[str, int | None, str]  # (name or service, kind or None, service)
    merged: dict[Group, list[int]] = collections.defaultdict(list)
    failed: collections.Counter[Group] = collections.Counter()
    for found, values in durations.items():
        group: Group
        if by == "name":
            name, kind, resource_id = found
            group = (str(name), int(kind), services.get(int(resource_id), ""))
        else:
            group = (services.get(int(found), ""), None, services.get(int(found), ""))
        merged[group].extend(values)
        failed[group] += errors[found]
    rows = []
    for group, values in merged.items():
        values.sort()
        n = len(values)
        p50, p95, p99 = (int(values[(n * p + 99) // 100 - 1]) / 1e6 for p in _PERCENTILES)
        key, kind_number, service = group
        kind_name = None if kind_number is None else SPAN_KINDS.get(kind_number, str(kind_number))
        rows.append(StatRow(by, key, n, failed[group], p50, p95, p99, kind_name, service))
    rows.sort(key=lambda r: (-r.count, r.key, r.kind or "", r.service or ""))
    return rows


def _services(models: Models, resource_ids: set[Any]) -> dict[int, str]:
    """The service name of each resource row (``""`` when it has none)."""
    resource: Any = models.resource
    found: dict[int, str] = {}
    wanted = sorted(int(i) for i in resource_ids)
    for start in range(0, len(wanted), ID_CHUNK):
        query = resource.select(resource.id, resource.service).where(resource.id.in_(wanted[start : start + ID_CHUNK]))
        for row_id, service in query.tuples():
            found[int(row_id)] = service or ""
    return found
