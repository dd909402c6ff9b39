"""The coarser levels of the latency rollup: lens_latency's hourly rows summed per 6 hours and per day.

``stats --since 24h`` over hourly rows alone reads 24 rows per group, and a dense store fills every
hour of every group: its cost followed the store's density. With these levels a window starting at
hour ``H`` reads at most 5 hourly rows (to the next 6-hour boundary), 3 six-hour rows (to the next
midnight UTC), the day rows from there and the hourly rows not sealed yet (the current hour; the one
before too in its first 5 minutes).

Sealed hours: the level rows hold the hours before the instant kept in ``lens_meta`` under
:data:`SEALED_KEY` (an hour boundary), never a later one. A level row is the sum of the hourly rows of
the sealed hours inside its bucket (counts, errors, histogram; minimum and maximum over them). Adding a
batch's deltas to the levels too would cost every batch one more upsert per group and level (measured:
+27 % writer CPU at 100 groups a batch), so a batch's spans go to the hourly rows only, unless they fall
in a sealed hour (a late span: then to both); once an hour a writer folds the hour that ended 5 minutes
ago into the levels and moves the mark. Migration 5 builds the levels from the hourly rows; the sweep
rebuilds the bucket its cutoff cuts from the sealed hourly rows it keeps.

On PostgreSQL the mark's row is the lock: a writer reads it ``FOR SHARE`` before touching either table,
the folding writer and the sweep ``FOR UPDATE`` (one lock order: no deadlock, no delta lost between
the mark and the rows).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import peewee as pw

from otel_lens.store import _histogram, _latency
from otel_lens.store.rows import LATENCY_LEVELS_NS, LATENCY_SEALED_KEY
from otel_lens.store.schema import Models

if TYPE_CHECKING:
    from otel_lens.store._backends import Backend

LEVELS = LATENCY_LEVELS_NS  # 6 hours and a day: each divides the next, buckets aligned to the epoch (UTC)
DAY_NS = LEVELS[-1]
HOUR_NS = _latency.BUCKET_NS
SEALED_KEY = LATENCY_SEALED_KEY
_SEAL_LAG_NS = 5 * 60 * 10**9  # an hour is sealed once it ended this long ago (later spans still count, at more cost)
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


def _sealed(cursor: Any, p: str, lock: str) -> int:
    cursor.execute(f"SELECT value FROM lens_meta WHERE key = {p}{lock}", (SEALED_KEY,))
    found = cursor.fetchone()
    return int(found[0]) if found else 0


def _set_sealed(cursor: Any, p: str, sealed: int) -> None:
    cursor.execute(f"UPDATE lens_meta SET value = {p} WHERE key = {p}", (str(sealed), SEALED_KEY))


def _fold(cursor: Any, p: str, backend: Backend, start: int, end: int) -> None:
    """Add the hourly rows of ``[start, end)`` to the levels, a day at a time (bounded memory)."""
    day = _first_hour(cursor, p, start, end)
    while day is not None:
        upto = min(day - day % DAY_NS + DAY_NS, end)
        backend.upsert_latency(cursor, deltas(_hourly(cursor, p, day, upto)), TABLE)
        day = _first_hour(cursor, p, upto, end)


def _first_hour(cursor: Any, p: str, start: int, end: int) -> int | None:
    """The first hourly bucket in ``[start, end)`` that has rows (empty days are skipped, not visited)."""
    cursor.execute(f"SELECT MIN(bucket_ns) FROM lens_latency WHERE bucket_ns >= {p} AND bucket_ns < {p}", (start, end))
    found = cursor.fetchone()[0]
    return None if found is None else int(found)


def seal_target(now_ns: int) -> int:
    """Where the mark goes at ``now_ns``: the hours that ended :data:`_SEAL_LAG_NS` ago or more are sealed."""
    since = now_ns - _SEAL_LAG_NS
    return since - since % HOUR_NS


_seen: weakref.WeakKeyDictionary[Backend, int] = weakref.WeakKeyDictionary()
"""The mark each backend (one a store connection) last read: whether the next batch may have to seal."""


def write(cursor: Any, p: str, backend: Backend, hourly: Sequence[Sequence[Any]], now_ns: int | None = None) -> None:
    """The writer's latency step, in its transaction: ``hourly`` deltas (``_latency.COLUMNS`` order) into
    lens_latency, those of sealed hours into the levels too; first, when due, the hours to seal folded in."""
    if not hourly:  # nothing new (a retried export): sealing waits for the next batch
        return
    target = seal_target(time.time_ns() if now_ns is None else now_ns)
    # One read of the mark a batch: locked shared (held to commit, so the mark cannot move under this
    # batch) while the last one seen says no sealing is due, else exclusive (waits for the writers holding
    # it shared; a writer that sealed meanwhile leaves nothing to do).
    due = _seen.get(backend, -(2**63)) < target
    sealed = _sealed(cursor, p, backend.row_lock(exclusive=due))
    if due and sealed < target:
        _fold(cursor, p, backend, sealed, target)
        _set_sealed(cursor, p, target)
        sealed = target
    _seen[backend] = sealed
    late = [delta for delta in hourly if delta[0] < sealed]
    if late:
        backend.upsert_latency(cursor, deltas(late), TABLE)
    backend.upsert_latency(cursor, hourly)


def backfill(db: pw.Database, models: Models, backend: Backend) -> None:
    """Schema 7: create lens_latency_levels (when missing) and fill it from the hourly rows of the hours that
    ended 5 minutes ago or more, a day at a time, then set the mark.

    Runs inside the migration's transaction (a store is migrated or untouched); memory is bounded by one
    day's hourly rows, whatever the store's size.
    """
    db.create_tables([models.latencylevel], safe=True)
    prepare(db, backend)
    p = db.param
    cursor = db.cursor()
    cursor.execute(f"DELETE FROM {TABLE}")  # built from the hourly rows alone, whatever a table left holds
    target = seal_target(time.time_ns())
    _fold(cursor, p, backend, -(2**62), target)
    cursor.execute(f"DELETE FROM lens_meta WHERE key = {p}", (SEALED_KEY,))
    cursor.execute(f"INSERT INTO lens_meta (key, value) VALUES ({p}, {p})", (SEALED_KEY, str(target)))


def sweep(cursor: Any, p: str, backend: Backend, before: int) -> None:
    """Delete the hourly rows of hours starting before ``before`` and keep the levels their sums.

    Level buckets wholly before it go; the bucket ``before`` falls inside is rebuilt from the sealed
    hourly rows it keeps (at most 23 per group), so ``stats`` never counts a swept span through a level
    row. The mark is locked first, as writers take it before either table.
    """
    sealed = _sealed(cursor, p, backend.row_lock(exclusive=True))
    cursor.execute(f"DELETE FROM lens_latency WHERE bucket_ns < {p}", (before,))
    for level in LEVELS:
        cut = before - before % level
        cursor.execute(f"DELETE FROM {TABLE} WHERE level_ns = {p} AND bucket_ns < {p}", (level, cut))
        if cut == before:  # no bucket is cut
            continue
        cursor.execute(f"DELETE FROM {TABLE} WHERE level_ns = {p} AND bucket_ns = {p}", (level, cut))
        if before < sealed:
            rows = deltas(_hourly(cursor, p, before, min(cut + level, sealed)))
            backend.upsert_latency(cursor, [row for row in rows if row[0] == level], TABLE)
    first_kept = -(-before // HOUR_NS) * HOUR_NS
    if sealed < first_kept:  # nothing before it is left to fold
        _set_sealed(cursor, p, first_kept)
