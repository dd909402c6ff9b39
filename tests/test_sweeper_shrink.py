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
from otel_lens.store import sweeper as sweeper_module


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
        sweeper = store._sweeper
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
        assert steps <= freed_pages // sweeper_module._VACUUM_PAGES + 3
        assert os.path.getsize(f"{db_path}-wal") == 0
        assert sweeper._side is None  # the pass's checkpoint connection is closed again
    finally:
        exporter.shutdown()
