"""The lens_latency rollup behind ``stats``: kept in the export transaction from the spans actually inserted
(a re-export counts once), filled by migration 4 from the spans of an older store (the same rows a live
writer would have made), swept with its hour, merged correctly by concurrent writers on PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from otel_lens import open_store
from otel_lens.settings import Settings
from otel_lens.store import histogram
from otel_lens.store.migrations import MIGRATIONS
from otel_lens.store.shared import acquire, release
from tests._stats_helpers import HOUR_NS, write
from tests._store_helpers import downgrade, models
from tests.test_stats_histogram import _spans

V1_FILE = Path(__file__).parent / "data" / "lens_v1.db"
# The step's number (4 on its branch; renumbered when other migrations land before it).
STEP = next(v for v, step in MIGRATIONS.items() if step.__name__ == "_add_latency_rollup")
REPO = Path(__file__).resolve().parent.parent


def _latency_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Every lens_latency row in key order, its histogram decoded."""
    store = acquire(settings)
    try:
        latency = models(store).latency
        found = latency.select().order_by(latency.bucket_ns, latency.service, latency.name, latency.kind).tuples()
        return [(*row[:8], histogram.decode(bytes(row[8]))) for row in found]
    finally:
        release(store)


def _stats(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    with open_store(settings.database) as store:
        return {by: [row.as_dict() for row in store.stats(since=None, by=by)] for by in ("name", "service")}


def test_a_reexported_or_overlapping_batch_counts_once(settings: Settings) -> None:
    """The same spans exported again, and a batch overlapping them with new ones, add only the new spans to
    the hourly rows: span counts, error counts and histogram totals equal the distinct spans stored."""
    spans = _spans(5, hours=3)
    assert write(settings, spans[:1500]) == 1500
    before = _latency_rows(settings)
    assert write(settings, spans[:1500], batch=500) == 0  # a retried export, in other batch sizes
    assert _latency_rows(settings) == before
    assert write(settings, spans[1000:], batch=3000) == len(spans) - 1500  # overlapping: 500 old, the rest new
    rows = _latency_rows(settings)
    assert sum(row[4] for row in rows) == len(spans)
    assert sum(row[5] for row in rows) == sum(span[5] for span in spans)
    for row in rows:
        assert sum(count for _, count in histogram.bins(row[8])) == row[4]
    stats = _stats(settings)
    assert sum(row["count"] for row in stats["service"]) == len(spans)


def test_migration_fills_the_rollup_as_a_live_writer_would(settings: Settings, tmp_path: Path) -> None:
    """A store of version 3 (its spans written before lens_latency existed) read before a writer migrates
    it gives exact stats from its spans; the first writer's migration 4 builds exactly the rows a live
    writer made for the same spans (chunked: more spans than a chunk), so stats match a fresh store."""
    spans = _spans(6, hours=30)
    fresh = Settings.load(environ={}, database=str(tmp_path / "fresh.db"), sweep_interval=0)
    write(fresh, spans)
    write(settings, spans)
    downgrade(settings, STEP - 1, "lens_latency")
    with open_store(settings.database) as store:  # a reader copes before the writer migrates: exact scan
        scanned = store.stats(since=None)
    assert all(row.exact for row in scanned)
    assert sum(row.count for row in scanned) == len(spans)
    old_chunk = _set_backfill_chunk(1000)  # several chunks, each merged into the rows of the ones before
    try:
        release(acquire(settings))  # the first writer migrates
    finally:
        _set_backfill_chunk(old_chunk)
    assert _latency_rows(settings) == _latency_rows(fresh)
    assert _stats(settings) == _stats(fresh)
    counts = {(row.key, row.kind, row.service): (row.count, row.error_count) for row in scanned}
    assert {(r["name"], r["kind"], r["service"]): (r["count"], r["error_count"]) for r in _stats(settings)["name"]} == (
        counts
    )


def _set_backfill_chunk(size: int) -> int:
    from otel_lens.store import _latency

    old = _latency._BACKFILL_CHUNK
    _latency._BACKFILL_CHUNK = size
    return old


def test_the_committed_version_1_file_migrates_to_the_same_stats(tmp_path: Path) -> None:
    """The v1 fixture (written by otel-lens before any migration) read as it is, then migrated to the latest
    schema by a writer: the same groups, counts and errors, percentiles within the stated bound."""
    path = tmp_path / "v1.db"
    shutil.copyfile(V1_FILE, path)
    with open_store(str(path)) as store:
        before = store.stats(since=None)
    assert before
    release(acquire(Settings.load(environ={}, database=str(path), sweep_interval=0)))
    with open_store(str(path)) as store:
        after = store.stats(since=None)
    assert [(r.key, r.kind, r.service, r.count, r.error_count) for r in after] == [
        (r.key, r.kind, r.service, r.count, r.error_count) for r in before
    ]
    for old, new in zip(before, after, strict=True):
        for exact, got in ((old.p50_ms, new.p50_ms), (old.p95_ms, new.p95_ms), (old.p99_ms, new.p99_ms)):
            assert got == pytest.approx(exact, rel=histogram.RELATIVE_ERROR, abs=1e-6)


def test_a_sweep_removes_the_rows_of_expired_hours(settings: Settings) -> None:
    """A retention pass deletes the hourly rows whose hour ended before the cutoff with the spans, and keeps
    the later ones: stats after the sweep count only what is left."""
    now = time.time_ns()
    old = [("svc", "op", 1, now - 10 * 86400 * 10**9 + i, 1000 + i, False) for i in range(50)]
    recent = [("svc", "op", 1, now - HOUR_NS // 2 + i, 2000 + i, False) for i in range(20)]
    write(settings, old + recent)
    assert sum(row[4] for row in _latency_rows(settings)) == 70
    store = acquire(settings)
    try:
        summary = store.prune(max_age=7 * 86400, max_size=0)
    finally:
        release(store)
    assert summary.spans_deleted == 50
    rows = _latency_rows(settings)
    assert rows and all(row[0] >= now - 2 * HOUR_NS for row in rows)
    assert sum(row[4] for row in rows) == 20
    assert [row["count"] for row in _stats(settings)["name"]] == [20]


_WRITER = """
import os, sys, time
sys.path.insert(0, os.getcwd())
from otel_lens.settings import Settings
from tests._store_helpers import models
from tests._stats_helpers import T0, write
url, go, salt = sys.argv[1:4]
while not os.path.exists(go):
    time.sleep(0.005)
spans = [("svc", f"op{i % 3}", 1, T0 + i * 1000, 1000 + (i * 7919) % 10**7, i % 11 == 0) for i in range(3000)]
print(write(Settings.load(environ={}, database=url, sweep_interval=0), spans, batch=100, salt=salt.encode()))
"""


@pytest.mark.postgres
def test_concurrent_postgres_writers_lose_no_counts(postgres_url: str, tmp_path: Path) -> None:
    """Two processes writing the same hour/service/name groups at once on PostgreSQL: every span is in the
    rows once (counts, errors and histogram totals add up; the histogram merge holds the row lock)."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    release(acquire(settings))  # schema in place before the race
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
    rows = _latency_rows(settings)
    assert len(rows) == 3 and sum(row[4] for row in rows) == 6000
    assert sum(row[5] for row in rows) == 2 * sum(1 for i in range(3000) if i % 11 == 0)
    for row in rows:
        assert sum(count for _, count in histogram.bins(row[8])) == row[4]
    assert dataclasses.asdict(open_store(postgres_url).stats(since=None, by="service")[0])["count"] == 6000
