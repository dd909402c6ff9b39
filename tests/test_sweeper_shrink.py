"""After a retention pass the SQLite file gives its free pages back in few steps and its WAL is truncated."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store._backends import _sqlite_space as sqlite_space


def _fill(exporter: LensSpanExporter, traces: int, start_ns: int) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "shrink"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.shrink")
    for index in range(traces):
        root = tracer.start_span("old request", start_time=start_ns + index, attributes={"pad": "x" * 400})
        root.end(end_time=start_ns + index + 1000)
    # No provider.shutdown(): it would shut the exporter (and its store) down too.


def test_shrink_frees_many_pages_per_step_and_truncates_the_wal(db_path: Path) -> None:
    """incremental_vacuum runs to the end of each step (Python's execute() would free one page per step)."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    exporter = LensSpanExporter(settings)
    store = exporter.store
    assert store is not None
    try:
        _fill(exporter, 3000, time.time_ns() - 10 * 86_400 * 10**9)
        sweeper = store.sweeper
        steps = 0
        locked = sweeper._locked

        @contextlib.contextmanager
        def counting() -> Iterator[Any]:
            nonlocal steps
            steps += 1
            with locked() as conn:
                yield conn

        sweeper._locked = counting  # type: ignore[method-assign]
        before = os.path.getsize(db_path)
        summary = store.prune(max_age=86_400, max_size=0)
        assert summary.spans_deleted == 3000
        with store.locked() as conn:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        freed_pages = (before - os.path.getsize(db_path)) // 4096
        assert free == 0 and pages * 4096 == os.path.getsize(db_path)
        assert freed_pages > 300
        # One freelist check per vacuum step, plus the final check and the TRUNCATE checkpoint.
        assert steps <= freed_pages // sqlite_space._VACUUM_PAGES + 3
        assert os.path.getsize(f"{db_path}-wal") == 0
        assert sweeper._space.side is None  # type: ignore[attr-defined]  # the pass's checkpoint connection is closed again
    finally:
        exporter.shutdown()


def test_prune_ends_on_a_database_without_incremental_auto_vacuum(db_path: Path) -> None:
    """A store whose auto_vacuum is NONE (changed by hand) still prunes and returns: shrink never spins."""
    import sqlite3

    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    LensSpanExporter(settings).shutdown()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA auto_vacuum = NONE")
    conn.execute("VACUUM")
    conn.close()
    exporter = LensSpanExporter(settings)
    store = exporter.store
    assert store is not None
    try:
        _fill(exporter, 500, time.time_ns() - 10 * 86_400 * 10**9)
        summary = store.prune(max_age=86_400, max_size=0)
        assert summary.spans_deleted == 500
    finally:
        exporter.shutdown()


def test_adopted_empty_wal_file_gets_incremental_auto_vacuum(db_path: Path) -> None:
    """An empty SQLite file made with journal_mode=WAL (no tables) is adopted with auto_vacuum=INCREMENTAL."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    LensSpanExporter(database=str(db_path), sweep_interval=0).shutdown()
    assert sqlite3.connect(db_path).execute("PRAGMA auto_vacuum").fetchone()[0] == 2


def test_a_reader_holding_a_snapshot_does_not_stall_exports_during_a_sweep(db_path: Path) -> None:
    """The final TRUNCATE checkpoint gives up at once when a reader is active: exports never wait on it."""
    import sqlite3
    import threading

    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    exporter = LensSpanExporter(settings)
    store = exporter.store
    assert store is not None
    try:
        _fill(exporter, 1000, time.time_ns() - 10 * 86_400 * 10**9)
        reader = sqlite3.connect(db_path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM lens_spans").fetchone()  # holds its snapshot until ROLLBACK
        waited: list[float] = []

        def export_during_sweep() -> None:
            started = time.monotonic()
            _fill(exporter, 5, time.time_ns())
            waited.append(time.monotonic() - started)

        pruned = threading.Thread(target=lambda: store.prune(max_age=86_400, max_size=0))
        started = time.monotonic()
        pruned.start()
        while pruned.is_alive():
            export_during_sweep()
        pruned.join()
        reader.execute("ROLLBACK")
        reader.close()
        # Generous structural bound (the old code held the store lock through a 5 s busy wait).
        assert time.monotonic() - started < 4.0
        assert max(waited) < 4.0
    finally:
        exporter.shutdown()
