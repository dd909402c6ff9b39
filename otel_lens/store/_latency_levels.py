"""The coarser levels of the latency rollup: lens_latency's hourly rows summed per 6 hours and per day.

``stats --since 24h`` over hourly rows alone reads 24 rows per group, and a dense store fills every
hour of every group: its cost followed the store's density. With these levels a window starting at
hour ``H`` reads at most 5 hourly rows (to the next 6-hour boundary), 3 six-hour rows (to the next
midnight UTC) and the day rows from there: at most 8 + days rows per group, whatever the density.

Invariant: a level row is the sum of the hourly rows inside its bucket (counts, errors, histogram;
minimum and maximum over them). The writer adds the same deltas to both, in one transaction (the level
rows first: the PostgreSQL sweep locks this table, and a writer holding an hourly row lock while
waiting for it would deadlock with the sweep deleting hourly rows); migration 5 builds the rows from
the hourly ones; the sweep rebuilds the bucket its cutoff cuts from the hourly rows it keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import peewee as pw

from otel_lens.store import _histogram, _latency
from otel_lens.store.rows import LATENCY_LEVELS_NS
from otel_lens.store.schema import Models

if TYPE_CHECKING:
    from otel_lens.store._backends import Backend

LEVELS = LATENCY_LEVELS_NS  # 6 hours and a day: each divides the next, buckets aligned to the epoch (UTC)
DAY_NS = LEVELS[-1]
TABLE = "lens_latency_levels"
COLUMNS = ("level_ns", *_latency.COLUMNS)
KEY = 5  # level_ns, bucket_ns, service, name, kind

Delta = tuple[int, int, str, str, int, int, int, int, int, bytes]
"""One lens_latency_levels delta in :data:`COLUMNS` order."""


def upsert_sql(db: pw.Database, histogram: str) -> str:
    """The upsert of one level delta (10 parameters, :data:`COLUMNS` order); see :func:`_latency.upsert_sql`."""
    return _latency.upsert_sql(db, histogram, TABLE, COLUMNS, KEY)


def prepare(db: pw.Database, backend: Backend) -> None:
    """Give ``backend`` its form of the level upsert (``backend.upsert_latency(cursor, deltas, TABLE)``)."""
    backend.prepare_latency(db, upsert_sql(db, backend.latency_histogram_merge), COLUMNS, TABLE, KEY)


def deltas(hourly: Iterable[Sequence[Any]]) -> list[Delta]:
    """The level deltas of hourly deltas or rows (``_latency.COLUMNS`` order): one per level, bucket and group."""
    groups: dict[tuple[int, int, str, str, int], list[Any]] = {}
    for bucket, service, name, kind, count, errors, low, high, blob in hourly:
        for level in LEVELS:
            key = (level, bucket - bucket % level, service, name, kind)
            group = groups.get(key)
            if group is None:
                groups[key] = [count, errors, low, high, [blob]]
                continue
            group[0] += count
            group[1] += errors
            group[2] = min(group[2], low)
            group[3] = max(group[3], high)
            group[4].append(blob)
    return [
        (*key, count, errors, low, high, blobs[0] if len(blobs) == 1 else _sum(blobs))
        for key, (count, errors, low, high, blobs) in groups.items()
    ]


def _sum(blobs: Sequence[bytes]) -> bytes:
    """Stored histograms added (packed fields cannot carry: a level row counts < 2**32 spans per bin)."""
    return _histogram.encode(sum(map(_histogram.decode, blobs)))


def _hourly(cursor: Any, p: str, start: int, end: int) -> list[tuple[Any, ...]]:
    cursor.execute(
        f"SELECT {', '.join(_latency.COLUMNS)} FROM lens_latency WHERE bucket_ns >= {p} AND bucket_ns < {p}",
        (start, end),
    )
    return [(*row[:-1], bytes(row[-1])) for row in cursor.fetchall()]


def backfill(db: pw.Database, models: Models, backend: Backend) -> None:
    """Schema 5: create lens_latency_levels (when missing) and fill it from the hourly rows, a day at a time.

    Runs inside the migration's transaction (a store is migrated or untouched); memory is bounded by one
    day's hourly rows, whatever the store's size.
    """
    db.create_tables([models.latencylevel], safe=True)
    prepare(db, backend)
    p = db.param
    cursor = db.cursor()
    cursor.execute(f"DELETE FROM {TABLE}")  # built from the hourly rows alone, whatever a table left holds
    cursor.execute("SELECT MIN(bucket_ns) FROM lens_latency")
    (day,) = cursor.fetchone()
    while day is not None:
        day -= day % DAY_NS
        backend.upsert_latency(cursor, deltas(_hourly(cursor, p, day, day + DAY_NS)), TABLE)
        cursor.execute(f"SELECT MIN(bucket_ns) FROM lens_latency WHERE bucket_ns >= {p}", (day + DAY_NS,))
        (day,) = cursor.fetchone()


def sweep(cursor: Any, p: str, backend: Backend, before: int) -> None:
    """Delete the hourly rows of hours starting before ``before`` and keep the invariant.

    Level buckets wholly before it go; the bucket ``before`` falls inside is rebuilt from the hourly rows
    it keeps (at most 23 per group), so ``stats`` never counts a swept span through a level row. The lock
    comes first: a writer takes the level rows before the hourly ones.
    """
    backend.lock_latency_levels(cursor)
    cursor.execute(f"DELETE FROM lens_latency WHERE bucket_ns < {p}", (before,))
    for level in LEVELS:
        cut = before - before % level
        cursor.execute(f"DELETE FROM {TABLE} WHERE level_ns = {p} AND bucket_ns < {p}", (level, cut))
        if cut == before:
            continue
        cursor.execute(f"DELETE FROM {TABLE} WHERE level_ns = {p} AND bucket_ns = {p}", (level, cut))
        kept = [row for row in deltas(_hourly(cursor, p, before, cut + level)) if row[0] == level]
        backend.upsert_latency(cursor, kept, TABLE)
