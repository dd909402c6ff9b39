"""The coarser latency levels (lens_latency_levels: 6-hour and day sums of the hourly rows, schema 7): each
level row stays the sum of the hourly rows in its bucket (writer, re-exports, migration 7, sweep), ``stats``
over windows crossing hour, 6-hour and day edges keeps exact counts and the ±3.125 % bound, and a window
reads a bounded number of rows per group however dense the store."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from otel_lens import open_store
from otel_lens.query import _aggregates
from otel_lens.settings import Settings
from otel_lens.store import _latency_levels, histogram
from otel_lens.store.migrations import MIGRATIONS
from otel_lens.store.rows import LATENCY_LEVELS_NS, LATENCY_SEALED_KEY
from otel_lens.store.shared import acquire, release
from tests._stats_helpers import HOUR_NS, T0, Span, nearest_rank, write
from tests._store_helpers import downgrade, models
from tests.test_stats_histogram import DISTRIBUTIONS

QUARTER_NS, DAY_NS = LATENCY_LEVELS_NS
STEP = next(v for v, step in MIGRATIONS.items() if step.__name__ == "_add_latency_levels")
REPO = Path(__file__).resolve().parent.parent


def _spans(seed: int, days: int = 3, per_name: int = 900) -> list[Span]:
    """Spans of every distribution spread over ``days`` days from T0 (a midnight UTC), two services."""
    rng = random.Random(seed)
    spans = []
    for name, draw in DISTRIBUTIONS.items():
        for _ in range(rng.randrange(per_name // 2, per_name)):
            start = T0 + rng.randrange(0, days * DAY_NS)
            spans.append(("svc-a" if rng.random() < 0.7 else "svc-b", name, 1, start, draw(rng), rng.random() < 0.05))
    rng.shuffle(spans)
    return spans


def _tables(settings: Settings) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(hourly rows, level rows), each in key order with its histogram decoded."""
    store = acquire(settings)
    try:
        m = models(store)
        hourly = m.latency.select().order_by(m.latency.bucket_ns, m.latency.service, m.latency.name, m.latency.kind)
        level = m.latencylevel
        levels = level.select().order_by(level.level_ns, level.bucket_ns, level.service, level.name, level.kind)
        return (
            [(*row[:-1], histogram.decode(bytes(row[-1]))) for row in hourly.tuples()],
            [(*row[:-1], histogram.decode(bytes(row[-1]))) for row in levels.tuples()],
        )
    finally:
        release(store)


def _sealed(settings: Settings) -> int:
    store = acquire(settings)
    try:
        meta = models(store).meta
        return int(meta.get(meta.key == LATENCY_SEALED_KEY).value)
    finally:
        release(store)


def _set_sealed(settings: Settings, sealed: int) -> None:
    """Move the seal mark back, as a store whose writers last sealed hours ago has it (nothing else changes)."""
    store = acquire(settings)
    try:
        meta = models(store).meta
        meta.update(value=str(sealed)).where(meta.key == LATENCY_SEALED_KEY).execute()
    finally:
        release(store)


def _expected_levels(hourly: list[tuple[Any, ...]], sealed: int) -> list[tuple[Any, ...]]:
    """The level rows the invariant asks for: per level, bucket and group, the sum of its sealed hourly rows."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for bucket, service, name, kind, count, errors, low, high, packed in hourly:
        if bucket >= sealed:
            continue
        for level in LATENCY_LEVELS_NS:
            key = (level, bucket - bucket % level, service, name, kind)
            found = sums.setdefault(key, [0, 0, low, high, 0])
            found[0] += count
            found[1] += errors
            found[2], found[3] = min(found[2], low), max(found[3], high)
            found[4] += packed
    return [(*key, *sums[key]) for key in sorted(sums)]


def _check_invariant(settings: Settings) -> list[tuple[Any, ...]]:
    hourly, levels = _tables(settings)
    assert levels == _expected_levels(hourly, _sealed(settings))
    return levels


def _expected(spans: list[Span], by: str, cutoff: int) -> dict[tuple[str, str], tuple[list[int], int]]:
    groups: dict[tuple[str, str], tuple[list[int], int]] = {}
    for service, name, _kind, start, duration, failed in spans:
        if start >= cutoff:
            key = (service, name) if by == "name" else (service, service)
            values, errors = groups.get(key, ([], 0))
            values.append(duration)
            groups[key] = (values, errors + failed)
    return groups


def test_level_rows_are_the_sums_of_their_hours_and_reexports_count_once(settings: Settings) -> None:
    """Every 6-hour and day row equals the sum of the hourly rows in its bucket (counts, errors, bounds,
    histogram), also after a retried export and an overlapping one: a span stored once is counted once."""
    spans = _spans(1, days=2, per_name=400)
    write(settings, spans[:2000], batch=300)
    write(settings, spans[:2000], batch=700)  # a retried export: nothing new
    write(settings, spans[1500:], batch=900)  # overlapping: 500 old, the rest new
    levels = _check_invariant(settings)
    for level in LATENCY_LEVELS_NS:
        assert sum(row[5] for row in levels if row[0] == level) == len(spans)


def test_recent_hours_stay_hourly_until_a_writer_seals_them(settings: Settings) -> None:
    """Spans of the current hour go to the hourly rows only (batches pay no level upsert) and stats count them
    from there; spans of a sealed hour (a late export) go to both. When the mark is hours behind, stats are
    the same, and the next batch folds the hours that ended since into the levels."""
    now = time.time_ns()
    hour = now - now % HOUR_NS
    recent = [
        ("svc", "op", 1, hour - 3 * HOUR_NS + i * (HOUR_NS // 100), 1000 + 37 * i, i % 9 == 0) for i in range(300)
    ]
    recent += [("svc", "op", 1, hour + i * ((now - hour) // 50), 99 + i, False) for i in range(50)]  # this hour
    write(settings, recent)
    sealed = _sealed(settings)
    assert sealed in (_latency_levels.seal_target(now), _latency_levels.seal_target(time.time_ns()))
    assert hour - HOUR_NS <= sealed <= hour
    levels = _check_invariant(settings)
    in_levels = sum(1 for span in recent if span[3] < sealed)
    assert in_levels >= 200 and sum(row[5] for row in levels if row[0] == DAY_NS) == in_levels  # the rest: hourly
    cutoff = hour - 150 * 60 * 10**9 + 18 * 10**9  # inside the first hour
    since = dt.datetime.fromtimestamp(cutoff / 1e9, tz=dt.timezone.utc)

    def read() -> list[dict[str, Any]]:
        with open_store(settings.database) as store:
            return [
                row.as_dict() for window in (None, since) for row in store.stats(since=window) if row.service == "svc"
            ]

    before = read()
    assert [row["count"] for row in before] == [350, sum(1 for span in recent if span[3] >= cutoff)]
    store = acquire(settings)
    try:  # a store whose writers last sealed 5 hours ago: its levels hold nothing of these hours
        m = models(store)
        m.latencylevel.delete().execute()
        m.meta.update(value=str(hour - 5 * HOUR_NS)).where(m.meta.key == LATENCY_SEALED_KEY).execute()
    finally:
        release(store)
    _check_invariant(settings)
    assert read() == before
    write(settings, [("other", "op", 1, time.time_ns(), 5, False)])  # the next batch seals
    sealed = _sealed(settings)
    assert hour - HOUR_NS <= sealed and sealed >= _latency_levels.seal_target(now)
    levels = _check_invariant(settings)
    assert sum(row[5] for row in levels if row[0] == DAY_NS) == sum(1 for span in recent if span[3] < sealed) >= 200
    assert read() == before


@pytest.mark.parametrize("seed", [1, 2])
def test_windows_crossing_hour_quarter_and_day_edges_keep_the_bound(settings: Settings, seed: int) -> None:
    """Windows starting anywhere (inside an hour, on an hour, on a 6-hour edge, on midnight, before the
    spans) read partly from spans, hours, 6-hour and day rows: counts and errors equal the spans', every
    p50/p95/p99 within ±3.125 % of the exact nearest-rank value."""
    spans = _spans(seed)
    write(settings, spans, batch=1500)
    rng = random.Random(seed)
    cutoffs = [
        0,
        T0 + DAY_NS,  # midnight: day rows only
        T0 + DAY_NS + QUARTER_NS,  # a 6-hour edge: 3 quarters, then days
        T0 + 5 * HOUR_NS,  # an hour: hours to 06:00, quarters to midnight, days
        T0 + DAY_NS + 13 * HOUR_NS + rng.randrange(1, HOUR_NS),  # like `--since 24h` in the afternoon
        T0 + 2 * DAY_NS + 23 * HOUR_NS + rng.randrange(1, HOUR_NS),  # inside the last hour: spans only
    ]
    with open_store(settings.database) as store:
        for cutoff in cutoffs:
            since = dt.datetime.fromtimestamp(cutoff / 1e9, tz=dt.timezone.utc) if cutoff else None
            for by in ("name", "service"):
                expected = _expected(spans, by, cutoff)
                rows = store.stats(since=since, by=by)
                assert {(row.service or "", row.key) for row in rows} == set(expected), (cutoff, by)
                for row in rows:
                    values, errors = expected[(row.service or "", row.key)]
                    assert (row.count, row.error_count) == (len(values), errors)
                    assert sum(count for _, _, count in row.histogram) == len(values)
                    for got, p in zip((row.p50_ms, row.p95_ms, row.p99_ms), (50, 95, 99), strict=True):
                        exact = nearest_rank(values, p)
                        assert abs(got * 1e6 - exact) <= exact * histogram.RELATIVE_ERROR + 1e-3, (cutoff, p)


def test_a_day_window_reads_a_bounded_number_of_rows_per_group(settings: Settings) -> None:
    """On a store where every group has a row in every hour (dense), the rollup rows a window reads are at
    most 5 hourly + 3 six-hour + one per day per group, not one per hour per group."""
    spans = [
        ("svc", name, 1, T0 + hour * HOUR_NS + i * 10**9, 1000 + i, False)
        for hour in range(72)
        for name in ("a", "b", "c")
        for i in range(3)
    ]
    write(settings, spans)
    store = acquire(settings)
    try:
        m = models(store)
        for start_hour in (0, 5, 13, 24, 30, 47):  # midnight, mid-quarter, afternoon, a 6-hour edge…
            start = T0 + start_hour * HOUR_NS
            queries = _aggregates._rollup_queries(m, "name", start, levels=True)
            rows = [row for sql, params in queries for row in m.latency._meta.database.execute_sql(sql, params)]
            days = 3 - -(-start_hour // 24)  # day rows from the first midnight at or after the start
            assert len(rows) <= 3 * (5 + 3 + days), start_hour
            assert len(rows) < 3 * (72 - start_hour), start_hour  # fewer than one row per hour and group
            assert sum(row[3] for row in rows) == 9 * (72 - start_hour)  # every span of the window, once
    finally:
        release(store)


def test_migration_5_builds_the_levels_from_the_hourly_rows(settings: Settings) -> None:
    """A version-4 store (hourly rows, no levels) is read the hourly way until a writer migrates it; the
    migration builds every level row from the hourly ones (several days), and stats agree before and after."""
    spans = _spans(4, days=3, per_name=300)
    write(settings, spans)
    expected_levels = _check_invariant(settings)
    downgrade(settings, STEP - 1, "lens_latency_levels")
    with open_store(settings.database) as store:
        before = {by: [r.as_dict() for r in store.stats(since=None, by=by)] for by in ("name", "service")}
        since = dt.datetime.fromtimestamp((T0 + DAY_NS + 7 * HOUR_NS) / 1e9, tz=dt.timezone.utc)
        window = [r.as_dict() for r in store.stats(since=since)]
    release(acquire(settings))  # the first writer migrates
    assert _check_invariant(settings) == expected_levels
    with open_store(settings.database) as store:
        assert {by: [r.as_dict() for r in store.stats(since=None, by=by)] for by in ("name", "service")} == before
        assert [r.as_dict() for r in store.stats(since=since)] == window


def test_a_sweep_keeps_the_levels_equal_to_the_hours_left(settings: Settings) -> None:
    """A retention pass whose cutoff falls inside a 6-hour bucket and a day deletes the level buckets before
    it and rebuilds the cut ones from the hourly rows kept: stats over everything count only what is left."""
    now = time.time_ns()
    day0 = (now - 6 * DAY_NS) // DAY_NS * DAY_NS  # a midnight UTC, 5 to 6 days ago
    spans = [("svc", "op", 1, day0 + i * (HOUR_NS // 5), 1000 + i, i % 7 == 0) for i in range(5 * 48)]  # 2 days
    write(settings, spans)
    _check_invariant(settings)
    cutoff = day0 + DAY_NS + 9 * HOUR_NS + HOUR_NS // 2  # 09:30 of the second day: inside its 06:00-12:00 quarter
    store = acquire(settings)
    try:
        summary = store.prune(max_age=(time.time_ns() - cutoff) / 1e9, max_size=0)
    finally:
        release(store)
    left = [s for s in spans if s[3] >= cutoff]
    assert summary.spans_deleted == len(spans) - len(left)
    levels = _check_invariant(settings)
    hourly, _ = _tables(settings)
    assert min(row[0] for row in hourly) == day0 + DAY_NS + 9 * HOUR_NS  # the hour ending after the cutoff stays
    assert min(row[1] for row in levels if row[0] == DAY_NS) == day0 + DAY_NS  # the cut day, rebuilt
    assert min(row[1] for row in levels if row[0] == QUARTER_NS) == day0 + DAY_NS + QUARTER_NS  # the cut quarter
    with open_store(settings.database) as store:
        (row,) = store.stats(since=None)
    # Everything left, plus the spans of 09:00-09:30 the kept hourly row still counts (as it did before).
    assert row.count == sum(r[4] for r in hourly) == len(left) + 3


_WRITER = """
import os, sys, time
sys.path.insert(0, os.getcwd())
from otel_lens.settings import Settings
from tests._stats_helpers import T0, write
url, go, salt = sys.argv[1:4]
while not os.path.exists(go):
    time.sleep(0.005)
spans = [("svc", f"op{i % 3}", 1, T0 + i * 10**9, 1000 + (i * 7919) % 10**7, i % 11 == 0) for i in range(3000)]
print(write(Settings.load(environ={}, database=url, sweep_interval=0), spans, batch=100, salt=salt.encode()))
"""


@pytest.mark.postgres
def test_concurrent_postgres_writers_seal_once_and_lose_no_counts(postgres_url: str, tmp_path: Path) -> None:
    """Two processes writing the same groups at once on PostgreSQL while the seal mark is behind: one folds
    the hours in, the other waits on the mark's row and does not fold them again; every span is in the
    hourly rows and in the level rows once."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    _set_sealed(settings, 0)  # (creates the schema) every batch finds sealing due until one has sealed
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, postgres_url, str(go), salt], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for salt in ("a", "b")
    ]  # fmt: skip
    go.touch()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert [int(out.strip()) for out, _ in outputs] == [3000, 3000]
    assert _sealed(settings) > T0
    levels = _check_invariant(settings)
    for level in LATENCY_LEVELS_NS:
        assert sum(row[5] for row in levels if row[0] == level) == 6000
    assert open_store(postgres_url).stats(since=None, by="service")[0].count == 6000
