"""Retention sweeps beside live writers: short delete transactions, WAL-inclusive sizes, a shrinking file,
one sweeper at a time across processes."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_lens import LensSpanExporter, Settings
from tests._reliability import (
    SpanFactory,
    file_size,
    finish,
    integrity,
    populate,
    rollup_mismatches,
    start_python,
    write_script,
)

_DAY = 86400.0
_GENEROUS_HOLD_S = 1.0  # the sweeper aims at ~4 ms per delete transaction; this only catches "one big delete"
_GENEROUS_WAIT_S = 5.0  # half the export deadline: a writer never comes near failing behind the sweeper


def test_sweep_during_writes_deletes_in_short_chunks_and_shrinks_the_file(
    sqlite_settings: Settings, db_path: Path
) -> None:
    """Scenario 10: a retention sweep of 15k expired spans, while a writer thread exports, runs as many short
    delete transactions with the writer's exports committing between them; no export fails or waits long;
    the rollups stay exact; and the database file is smaller afterwards."""
    populate(db_path, old_traces=3000, fresh_traces=20)
    exporter = LensSpanExporter(sqlite_settings)
    store = exporter.store
    assert store is not None
    with store.locked() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # all data in the main file: a fair "before"
    size_before = file_size(db_path)

    holds: list[tuple[float, float]] = []
    sweeper = store._sweeper
    transaction = sweeper._transaction

    @contextlib.contextmanager
    def timed_transaction() -> Iterator[Any]:
        started = time.monotonic()
        with transaction() as cursor:
            yield cursor
        holds.append((started, time.monotonic()))  # includes waiting for the lock and the commit: an upper bound

    sweeper._transaction = timed_transaction
    exports: list[tuple[float, float, SpanExportResult]] = []
    sweeping = threading.Event()
    sweeping.set()

    def keep_writing() -> None:
        factory = SpanFactory("live")
        while sweeping.is_set():
            spans = factory.traces(2, 5, label="live")
            started = time.monotonic()
            result = exporter.export(spans)
            exports.append((started, time.monotonic(), result))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        summary = store.prune(max_age=_DAY, max_size=0)
    finally:
        sweeping.clear()
        writer.join(30)
        exporter.shutdown()

    assert summary.skipped is None
    assert (summary.traces_deleted, summary.spans_deleted) == (3000, 15000)
    assert len(holds) >= 5, "the sweep deleted in one or a few large transactions"
    assert max(end - start for start, end in holds) < _GENEROUS_HOLD_S
    assert {result for _, _, result in exports} == {SpanExportResult.SUCCESS}
    assert max(end - start for start, end, _ in exports) < _GENEROUS_WAIT_S
    first, last = holds[0][0], holds[-1][1]
    assert any(first < end < last for _, end, _ in exports), "no export committed while the sweep ran"

    assert rollup_mismatches(db_path) == []
    assert integrity(db_path) == "ok"
    with sqlite3.connect(db_path) as conn:
        names = dict(conn.execute("SELECT root_name, count(*) FROM lens_traces GROUP BY root_name").fetchall())
    assert names == {"root fresh": 20, "root live": 2 * len(exports)}
    assert summary.bytes_after < summary.bytes_before
    assert file_size(db_path) < size_before / 2


def test_size_budget_counts_the_wal(sqlite_settings: Settings, db_path: Path) -> None:
    """Scenario 10: the size a sweep compares with max_size is the main file plus its -wal; with the main file
    alone under budget but file + WAL over it, the sweep deletes oldest data until the store fits."""
    exporter = LensSpanExporter(sqlite_settings)
    factory = SpanFactory()
    store = exporter.store
    assert store is not None
    try:
        assert exporter.export(factory.traces(5, 5, label="first")) is SpanExportResult.SUCCESS
        reader = sqlite3.connect(db_path)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM lens_spans").fetchone()  # keeps new pages in the WAL
        start = time.time_ns() - 3600 * 10**9
        for number in range(15):
            spans = factory.traces(20, 5, label=f"b{number}", start_ns=start + number * 10**9, payload=1024)
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        reader.rollback()
        reader.close()
        with store.locked() as conn:
            logical = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        main, wal = file_size(db_path), file_size(f"{db_path}-wal")
        budget = (main + logical) // 2
        assert main < budget < main + wal  # only a WAL-inclusive size is over budget

        summary = store.prune(max_age=0, max_size=budget)
    finally:
        exporter.shutdown()
    assert summary.bytes_before == main + wal
    assert summary.spans_deleted > 0
    assert summary.bytes_after <= budget
    assert rollup_mismatches(db_path) == []


_RACE_TO_SWEEP = """
    import json, sys
    from _reliability import append_durably, wait_for_file
    from otel_lens import LensSpanExporter

    database, role, sweeping, other_done = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    exporter = LensSpanExporter(database=database, sweep_interval=0)
    store = exporter.store
    if role == "first":
        prune = store._sweeper.prune

        def prune_after_the_other(*args, **kwargs):
            # Holding the cross-process sweep lock: let the other process try, then do the work.
            append_durably(sweeping, "first")
            wait_for_file(other_done)
            return prune(*args, **kwargs)

        store._sweeper.prune = prune_after_the_other
    else:
        wait_for_file(sweeping)
    summary = store.prune(max_age=86400, max_size=0)
    if role == "second":
        open(other_done, "w").close()
    exporter.shutdown()
    print(json.dumps(summary.as_dict()))
"""


@pytest.mark.slow
def test_only_one_process_sweeps_at_a_time(tmp_path: Path, db_path: Path) -> None:
    """Scenario 10: two processes pruning the same database at once: one sweeps, the other reports skipped and
    deletes nothing."""
    populate(db_path, old_traces=500, fresh_traces=10)
    script = write_script(tmp_path, "race.py", _RACE_TO_SWEEP)
    sweeping, done = tmp_path / "sweeping", tmp_path / "second-done"
    first = start_python(script, db_path, "first", sweeping, done)
    second = start_python(script, db_path, "second", sweeping, done)
    (code1, out1, err1), (code2, out2, err2) = finish(first), finish(second)
    assert code1 == 0 and code2 == 0, err1 + err2
    swept, skipped = json.loads(out1), json.loads(out2)
    assert swept["skipped"] is None and swept["traces_deleted"] == 500
    assert skipped["skipped"] and "another process" in skipped["skipped"]
    assert skipped["traces_deleted"] == skipped["spans_deleted"] == skipped["logs_deleted"] == 0
    assert rollup_mismatches(db_path) == []
