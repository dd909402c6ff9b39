"""Aggregates over a time window: latency percentiles and error rates per kind of span or service.

``stats`` reads the latency histograms the writer keeps (hourly: ``lens_latency``, schema 4; their 6-hour
and day sums: ``lens_latency_levels``, schema 7), so its cost grows with groups × (at most 5 + 3 + days
+ 2) rows, not with the spans of the window nor with how densely the hours are filled. The partial
hour at the window's start is read from the spans themselves, grouped in SQL (one row per group with its
durations as text, see :func:`_scan`): counts and error counts are always exact, and a group whose
spans all lie in that partial hour (any window up to an hour long just after the hour, e.g. ``--since
5m``) gets exact percentiles; the others are within ±3.125 % (see :mod:`otel_lens.store._histogram`).
A store no writer has migrated to schema 4 yet is read the exact way, by scanning its spans.

GenAI usage totals live in :mod:`otel_lens.query._usage`.
"""

from __future__ import annotations

import collections
from typing import Any

from otel_lens.query.results import SPAN_KINDS, StatRow
from otel_lens.store import histogram
from otel_lens.store._backends import backend_of
from otel_lens.store.migrations import table_columns
from otel_lens.store.rows import LATENCY_LEVELS_NS, LATENCY_SEALED_KEY, STATUS_ERROR, USAGE_BUCKET_NS
from otel_lens.store.schema import Models

_PERCENTILES = (50, 95, 99)
_BUCKET_NS = USAGE_BUCKET_NS  # lens_latency's hour
Group = tuple[str, int | None, str]  # (name or service, kind or None, service)


class _Tally:
    """One group's spans: counts, exact bounds, packed hourly histograms and exact edge durations."""

    __slots__ = ("count", "errors", "exact", "high", "low", "packed")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.low: int | None = None
        self.high: int | None = None
        self.packed: list[int] = []  # one per lens_latency row (summed once, checked for field overflow)
        self.exact: list[int] = []  # durations read from spans

    def add_bounds(self, low: int, high: int) -> None:
        self.low = low if self.low is None or low < self.low else self.low
        self.high = high if self.high is None or high > self.high else self.high

    def row(self, by: str, group: Group) -> StatRow:
        key, kind_number, service = group
        kind = None if kind_number is None else SPAN_KINDS.get(kind_number, str(kind_number))
        assert self.low is not None and self.high is not None
        if not self.packed:  # every span was read itself: exact nearest-rank percentiles
            values = sorted(self.exact)
            n = len(values)
            p50, p95, p99 = (values[(n * p + 99) // 100 - 1] / 1e6 for p in _PERCENTILES)
            found = histogram.dense(histogram.add_durations(0, values))
        else:
            found = self._merged()
            p50, p95, p99 = (
                value / 1e6
                for value in histogram.percentile_values(found, self.count, self.low, self.high, _PERCENTILES)
            )
        return StatRow(by, key, self.count, self.errors, p50, p95, p99, kind, service, found, not self.packed)

    def _merged(self) -> histogram.Dense:
        """Every hourly histogram and exact duration of the group in one."""
        if self.count < histogram.FIELD_LIMIT:  # no bin can reach 2**32: the packed sum cannot carry
            return histogram.dense(histogram.add_durations(sum(self.packed), self.exact))
        counts: collections.Counter[int] = collections.Counter()
        for packed in self.packed:
            counts.update(dict(histogram.bins(packed)))
        counts.update(histogram.bin_of(duration) for duration in self.exact)
        return histogram.dense_from_counts(dict(counts))


def span_stats(models: Models, by: str, cutoff: int | None) -> list[StatRow]:
    """Count, errors and nearest-rank p50/p95/p99 of span durations per ``by`` ("name" or "service").

    By name, spans are told apart by name, kind and service (a route's INTERNAL span and the SERVER
    span of the same name are different things); by service, a service is one row.
    """
    db = models.span._meta.database
    if not table_columns(db, "lens_latency"):  # a store no writer has migrated to schema 4 yet (current schema)
        return _rows(by, _scan(models, by, cutoff, None))
    edge_end = None if cutoff is None else -(-cutoff // _BUCKET_NS) * _BUCKET_NS
    tallies = _scan(models, by, cutoff, edge_end) if cutoff is not None and edge_end != cutoff else {}
    levels = bool(table_columns(db, "lens_latency_levels"))  # schema 7
    for sql, params in _rollup_queries(models, by, edge_end, levels):
        _add_rows(tallies, by, db.execute_sql(sql, params))
    return _rows(by, tallies)


def _rollup_queries(models: Models, by: str, start: int | None, levels: bool) -> list[tuple[str, list[Any]]]:
    """The SQL and parameters of the rollup rows covering ``[start, ∞)`` (an hour boundary; None: everything).

    With the levels (schema 7): hours up to the next 6-hour boundary, 6-hour rows up to the next midnight
    (UTC), day rows from there, and the hourly rows of the hours not sealed into the levels yet, so a group
    costs at most 5 + 3 + days + 2 rows, however dense the store (see store._latency_levels). One statement,
    so the seal mark and the rows it splits are read from one snapshot.
    """
    p = models.span._meta.database.param
    key = "name, kind, service" if by == "name" else "service"
    columns = f"{key}, span_count, error_count, min_ns, max_ns, histogram"
    if not levels:
        if start is None:
            return [(f"SELECT {columns} FROM lens_latency", [])]
        return [(f"SELECT {columns} FROM lens_latency WHERE bucket_ns >= {p}", [start])]
    quarter, day = LATENCY_LEVELS_NS
    if start is None:
        start = quarter_start = day_start = -(2**62)
    else:
        quarter_start, day_start = -(-start // quarter) * quarter, -(-start // day) * day
    unsealed = (  # the hourly rows from max(mark, first 6-hour edge)
        f"bucket_ns >= COALESCE((SELECT CASE WHEN CAST(value AS BIGINT) > {p} THEN CAST(value AS BIGINT) "
        f"ELSE {p} END FROM lens_meta WHERE key = {p}), {p})"
    )
    sql = (
        f"SELECT {columns} FROM lens_latency_levels WHERE level_ns = {p} AND bucket_ns >= {p} AND bucket_ns < {p} "
        f"UNION ALL SELECT {columns} FROM lens_latency_levels WHERE level_ns = {p} AND bucket_ns >= {p} "
        f"UNION ALL SELECT {columns} FROM lens_latency WHERE (bucket_ns >= {p} AND bucket_ns < {p}) OR {unsealed}"
    )
    params: list[Any] = [quarter, quarter_start, day_start, day, day_start, start, quarter_start]
    params += [quarter_start, quarter_start, LATENCY_SEALED_KEY, quarter_start]
    return [(sql, params)]


def _add_rows(tallies: dict[Group, _Tally], by: str, rows: Any) -> None:
    """Rollup rows (:func:`_rollup_queries` columns) counted into their groups' tallies (one decode per row;
    this loop runs for every row read, hence no helper calls in it)."""
    decode = histogram.decode
    for row in rows:
        if by == "name":
            name, kind, service, count, errors, low, high, blob = row
            group: Group = (name, kind, service)
        else:
            service, count, errors, low, high, blob = row
            group = (service, None, service)
        tally = tallies.get(group)
        if tally is None:
            tally = tallies[group] = _Tally()
            tally.low, tally.high = low, high
        else:
            if low < tally.low:
                tally.low = low
            if high > tally.high:
                tally.high = high
        tally.count += count
        tally.errors += errors
        tally.packed.append(decode(blob))


def _group(by: str, key: Any) -> Group:
    if by == "name":
        name, kind, service = key
        return (name, int(kind), service)
    return (key[0], None, key[0])


def _rows(by: str, tallies: dict[Group, _Tally]) -> list[StatRow]:
    rows = [tally.row(by, group) for group, tally in tallies.items()]
    rows.sort(key=lambda r: (-r.count, r.key, r.kind or "", r.service or ""))
    return rows


def _scan(models: Models, by: str, cutoff: int | None, before: int | None) -> dict[Group, _Tally]:
    """Every span started in ``[cutoff, before)`` counted per group, with its exact duration.

    SQL does the grouping (through the ``start_ns`` index, reading only the columns it needs): one row per
    span name, kind and resource with the count, errors, exact bounds and the durations as one comma-joined
    text, so Python parses text in C instead of stepping through a row per span (the partial first hour of
    ``--since 24h`` is thousands of spans on a dense store); the resource's service is joined to the grouped
    rows, not to the spans. Resources merge under their service's name here (a service runs as many
    resources, one per process).
    """
    span: Any = models.span
    db = span._meta.database
    p = db.param
    key = "name, kind, resource_id" if by == "name" else "resource_id"
    where = [f"start_ns >= {p}"] * (cutoff is not None) + [f"start_ns < {p}"] * (before is not None)
    grouped = (
        f"SELECT {key}, count(*) AS n, sum(CASE WHEN status_code = {STATUS_ERROR} THEN 1 ELSE 0 END) AS errors, "
        f"min(duration_ns) AS low, max(duration_ns) AS high, {backend_of(db).joined_integers('duration_ns')} AS "
        f"durations FROM {span._meta.table_name}{' WHERE ' if where else ''}{' AND '.join(where)} GROUP BY {key}"
    )
    sql = (
        f"SELECT {'g.name, g.kind, ' if by == 'name' else ''}COALESCE(r.service, ''), g.n, g.errors, g.low, g.high, "
        f"g.durations FROM ({grouped}) g LEFT JOIN {models.resource._meta.table_name} r ON r.id = g.resource_id"
    )
    tallies: dict[Group, _Tally] = {}
    for row in db.execute_sql(sql, [bound for bound in (cutoff, before) if bound is not None]).fetchall():
        service, count, errors, low, high, durations = row[-6:]
        group: Group = (str(row[0]), int(row[1]), service) if by == "name" else (service, None, service)
        tally = tallies.get(group)
        if tally is None:
            tally = tallies[group] = _Tally()
        tally.count += int(count)
        tally.errors += int(errors)
        tally.add_bounds(int(low), int(high))
        tally.exact.extend(map(int, durations.split(",")))
    return tallies
