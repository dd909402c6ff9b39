"""The latency rollup kept in the export transaction: per hour, service, span name and kind, a span
count, an error count, the exact minimum and maximum and a log-scale histogram of durations.

Like the usage totals, deltas are computed in Python from the rows a batch actually inserted and
merged with one upsert statement, so a span stored once is counted once. Counts and bounds merge in
SQL; how the histogram bytes merge is the backend's (``Backend.upsert_latency``): on SQLite through
``lens_histogram_add``, a Python function registered on the connection (SQLite has no array type), on
PostgreSQL through the row the upsert locks and returns (then one UPDATE of the merged bytes: the row
stays locked until commit, so concurrent writers cannot lose each other's counts). Migration 4 fills
the table from existing spans with the same merge, in bounded chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import peewee as pw

from otel_lens.store import _histogram
from otel_lens.store.rows import SPAN_COLUMNS, STATUS_ERROR, USAGE_BUCKET_NS
from otel_lens.store.schema import Models

if TYPE_CHECKING:
    from otel_lens.store._backends import Backend

BUCKET_NS = USAGE_BUCKET_NS
"""lens_latency keeps one row per hour (and service, name, kind), like lens_usage."""
COLUMNS = ("bucket_ns", "service", "name", "kind", "span_count", "error_count", "min_ns", "max_ns", "histogram")
KEY = 4  # the first four columns are the primary key
_NAME, _KIND, _START, _DURATION, _STATUS = (
    SPAN_COLUMNS.index(c) for c in ("name", "kind", "start_ns", "duration_ns", "status_code")
)
_EXACT = 2 * _histogram.SUB  # durations below this have a bin each (see _histogram.bin_of)
_BACKFILL_CHUNK = 20_000  # spans read per statement while migrating (bounded memory on any store size)

Delta = tuple[int, str, str, int, int, int, int, int, bytes]
"""One lens_latency delta in ``_COLUMNS`` order."""


def upsert_sql(
    db: pw.Database, histogram: str, table: str = "lens_latency", columns: Sequence[str] = COLUMNS, key: int = KEY
) -> str:
    """Merge one delta into its row (one parameter per column, ``columns`` order, the first ``key`` the primary
    key); ``histogram`` is the backend's SQL for the merged histogram (``l`` the stored row, ``excluded`` the
    delta). ``table`` is lens_latency or another table of the same counts (``_latency_levels``)."""
    return (
        f"INSERT INTO {table} AS l ({', '.join(columns)}) VALUES ({', '.join([db.param] * len(columns))}) "
        f"ON CONFLICT ({', '.join(columns[:key])}) DO UPDATE SET "
        "span_count = l.span_count + excluded.span_count, error_count = l.error_count + excluded.error_count, "
        "min_ns = CASE WHEN excluded.min_ns < l.min_ns THEN excluded.min_ns ELSE l.min_ns END, "
        "max_ns = CASE WHEN excluded.max_ns > l.max_ns THEN excluded.max_ns ELSE l.max_ns END, "
        f"histogram = {histogram}"
    )


def deltas(rows: Iterable[Sequence[Any]], services: Sequence[str | None], resource: int) -> list[Delta]:
    """One delta per hour/service/name/kind of span ``rows`` (span rows; ``resource`` is the slot of their
    resource's index in the batch, ``services`` the service names by that index)."""
    groups: dict[tuple[int, str, str, int], list[Any]] = {}
    exact, sub_bits = _EXACT, _histogram.SUB_BITS
    for row in rows:
        start, duration = row[_START], row[_DURATION]
        key = (start - start % BUCKET_NS, services[row[resource]] or "", row[_NAME], row[_KIND])
        # _histogram.bin_of inlined: this loop runs for every stored span.
        if duration >= exact:
            shift = duration.bit_length() - 1 - sub_bits
            index = (shift << sub_bits) + (duration >> shift)
        else:
            index = duration if duration > 0 else 0
        group = groups.get(key)
        if group is None:
            groups[key] = [1, 1 if row[_STATUS] == STATUS_ERROR else 0, duration, duration, {index: 1}]
            continue
        group[0] += 1
        if row[_STATUS] == STATUS_ERROR:
            group[1] += 1
        if duration < group[2]:
            group[2] = duration
        elif duration > group[3]:
            group[3] = duration
        counts = group[4]
        counts[index] = counts.get(index, 0) + 1
    return [
        (*key, count, errors, low, high, _histogram.encode_counts(counts))
        for key, (count, errors, low, high, counts) in groups.items()
    ]


def register(connection: Any) -> None:
    """Give a SQLite connection the ``lens_histogram_add`` function the upsert calls (~3 µs: done per batch,
    because the connection may have been replaced since, e.g. after a fork)."""
    connection.create_function("lens_histogram_add", 2, _histogram.merge_stored, deterministic=True)


def backfill(db: pw.Database, models: Models, backend: Backend) -> None:
    """Schema 4: create lens_latency (when missing) and fill it from the stored spans, chunk by chunk.

    Runs inside the migration's transaction, so a store is either fully migrated or untouched. Memory
    is bounded by the chunk (its groups), whatever the store's size.
    """
    db.create_tables([models.latency], safe=True)
    backend.prepare_latency(db, upsert_sql(db, backend.latency_histogram_merge), COLUMNS)
    p = db.param
    cursor = db.cursor()
    after = 0
    while True:
        cursor.execute(
            "SELECT s.id, s.name, s.kind, s.start_ns, s.duration_ns, s.status_code, r.service FROM lens_spans s "
            f"LEFT JOIN lens_resources r ON r.id = s.resource_id WHERE s.id > {p} ORDER BY s.id LIMIT {p}",
            (after, _BACKFILL_CHUNK),
        )
        chunk = cursor.fetchall()
        if not chunk:
            return
        after = int(chunk[-1][0])
        rows = [_as_span_row(found, index) for index, found in enumerate(chunk)]
        services = [found[6] for found in chunk]
        backend.upsert_latency(cursor, deltas(rows, services, len(SPAN_COLUMNS)))


def _as_span_row(found: Sequence[Any], index: int) -> list[Any]:
    """A SELECTed span as the encoded row shape :func:`deltas` reads (its resource slot holds ``index``)."""
    row: list[Any] = [None] * (len(SPAN_COLUMNS) + 1)
    row[_NAME], row[_KIND], row[_START], row[_DURATION], row[_STATUS] = found[1:6]
    row[-1] = index
    return row
