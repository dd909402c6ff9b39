"""Retention sweeps beside live writers: short delete transactions, WAL-inclusive sizes, a shrinking file,
one sweeper at a time across processes."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import TraceFlags

from otel_lens import LensLogExporter, LensSpanExporter, Settings, open_store
from otel_lens.store.shared import WriteStore
from tests._reliability import (
    SpanFactory,
    complete_lines,
    file_size,
    finish,
    integrity,
    populate,
    rollup_mismatches,
    start_python,
    wait_until,
    write_script,
)
from tests._store_helpers import count, models

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
    sweeper = store.sweeper
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
        prune = store.sweeper.prune

        def prune_after_the_other(*args, **kwargs):
            # Holding the cross-process sweep lock: let the other process try, then do the work.
            append_durably(sweeping, "first")
            wait_for_file(other_done)
            return prune(*args, **kwargs)

        store.sweeper.prune = prune_after_the_other
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


def _logs_of(spans: list[ReadableSpan], per_trace: int, after_ns: int, payload: int = 0) -> list[ReadableLogRecord]:
    """Real SDK log records inside each root span's trace, ``after_ns`` after the trace began (logs come later
    than the span that starts a trace, and later than older traces' starts)."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("tests.sweep")
    for span in spans:
        if span.parent is not None or span.context is None:
            continue
        for number in range(per_trace):
            logger.emit(
                LogRecord(
                    timestamp=(span.start_time or 0) + after_ns + number,
                    trace_id=span.context.trace_id,
                    span_id=span.context.span_id,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED),
                    severity_number=SeverityNumber.INFO,
                    body=f"step {number} " + "p" * payload,
                )
            )
    return list(memory.get_finished_logs())


def _orphan_logs(store: WriteStore | None) -> int:
    """Logs carrying a trace id that no stored trace has (what ``show <id>`` would call no such trace)."""
    m = models(store)
    known = m.trace.select(m.trace.trace_id)
    return int(m.log.select().where(m.log.trace_id.is_null(False) & m.log.trace_id.not_in(known)).count())


def test_size_prune_deletes_the_logs_of_the_traces_it_deletes(settings: Settings, database_url: str) -> None:
    """Scenario 2/10: a size-budget prune that deletes the oldest traces deletes their logs with them (logs are
    newer than their trace's start, so by time alone they would stay, pointing at nothing); the traces kept
    keep all their logs, and the read API finds no logs for a deleted trace."""
    spans_out, logs_out = LensSpanExporter(settings), LensLogExporter(settings)
    try:
        factory = SpanFactory("sized")
        start = time.time_ns() - 3600 * 10**9
        spans = factory.traces(300, 3, label="sized", start_ns=start, payload=512)
        assert spans_out.export(spans) is SpanExportResult.SUCCESS
        assert logs_out.export(_logs_of(spans, 4, after_ns=10**9, payload=256)).name == "SUCCESS"
        store = spans_out.store
        assert store is not None
        before = store.prune(max_age=0, max_size=0).bytes_after or 1  # size now (nothing deleted)
        summary = store.prune(max_age=0, max_size=before // 2)
        assert 0 < summary.traces_deleted < 300
        assert summary.logs_deleted == 4 * summary.traces_deleted
        assert _orphan_logs(store) == 0
        assert count(store, "log") == 4 * count(store, "trace")
        first = min(spans, key=lambda span: span.start_time or 0)  # the oldest trace: the first a size pass deletes
        assert first.context is not None
        gone = f"{first.context.trace_id:032x}"
    finally:
        logs_out.shutdown()
        spans_out.shutdown()
    with open_store(database_url) as reader:
        assert gone not in {t.trace_id for t in reader.traces(limit=None)}
        assert [log for log in reader.logs(limit=None) if log.trace_id == gone] == []


def test_age_prune_deletes_a_long_traces_late_logs_with_it(settings: Settings) -> None:
    """Scenario 2: a trace that began before the age cutoff goes with its logs, even those written after the
    cutoff; a fresh trace and its logs stay."""
    spans_out, logs_out = LensSpanExporter(settings), LensLogExporter(settings)
    try:
        now = time.time_ns()
        old = SpanFactory("aged").traces(5, 2, label="old", start_ns=now - int(1.5 * _DAY * 1e9))
        fresh = SpanFactory("aged").traces(3, 2, label="fresh", start_ns=now - 10**9)
        assert spans_out.export(old + fresh) is SpanExportResult.SUCCESS
        late = _logs_of(old, 2, after_ns=int(_DAY * 1e9))  # 12 h old: inside the retention window
        assert logs_out.export(late + _logs_of(fresh, 2, after_ns=1000)).name == "SUCCESS"
        store = spans_out.store
        assert store is not None
        summary = store.prune(max_age=_DAY, max_size=0)
        assert (summary.traces_deleted, summary.logs_deleted) == (5, 10)
        assert _orphan_logs(store) == 0
        assert (count(store, "trace"), count(store, "log")) == (3, 6)
    finally:
        logs_out.shutdown()
        spans_out.shutdown()


_SIZE_SWEEP_UNTIL_KILLED = """
    import contextlib, sys, time
    from _reliability import append_durably
    from otel_lens import LensSpanExporter

    database, progress, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    exporter = LensSpanExporter(database=database, sweep_interval=0)
    sweeper = exporter.store.sweeper
    commit = sweeper._transaction

    @contextlib.contextmanager
    def slow_commit():
        # Each chunk's deletes are done but not committed while we report and dawdle: the kill lands
        # inside an open delete transaction most of the time.
        with commit() as cursor:
            yield cursor
            append_durably(progress, "chunk")
            time.sleep(0.01)

    sweeper._transaction = slow_commit
    sweeper._chunk = 8  # many small chunks, so the kill comes part-way
    exporter.store.prune(max_age=0, max_size=budget)
    append_durably(progress, "finished")
"""


def test_kill9_during_size_sweep_leaves_no_log_pointing_at_a_deleted_trace(
    tmp_path: Path, sqlite_settings: Settings, db_path: Path
) -> None:
    """Scenario 2: kill -9 inside a size sweep's delete transactions (traces with logs newer than them): every
    trace is gone with all its logs or kept with all of them; integrity ok; a later sweep finishes the job."""
    spans_out, logs_out = LensSpanExporter(sqlite_settings), LensLogExporter(sqlite_settings)
    try:
        spans = SpanFactory("killed").traces(2000, 2, label="killed", start_ns=time.time_ns() - 3600 * 10**9)
        assert spans_out.export(spans) is SpanExportResult.SUCCESS
        assert logs_out.export(_logs_of(spans, 3, after_ns=10**9, payload=200)).name == "SUCCESS"
    finally:
        logs_out.shutdown()
        spans_out.shutdown()
    budget = file_size(db_path) + file_size(f"{db_path}-wal")
    budget //= 4
    progress = tmp_path / "progress.txt"
    script = write_script(tmp_path, "size_sweep.py", _SIZE_SWEEP_UNTIL_KILLED)
    child = start_python(script, db_path, progress, budget)
    try:
        wait_until(lambda: len(complete_lines(progress)) >= 6, what="the sweep's first chunks")
    finally:
        child.send_signal(signal.SIGKILL)
        code, _, err = finish(child)
    assert code == -signal.SIGKILL, err
    assert "finished" not in complete_lines(progress), "the sweep ended before the kill; nothing was tested"

    assert integrity(db_path) == "ok"
    assert rollup_mismatches(db_path) == []
    with sqlite3.connect(db_path) as conn:
        traces = conn.execute("SELECT count(*) FROM lens_traces").fetchone()[0]
        logs = conn.execute("SELECT count(*) FROM lens_logs").fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM lens_logs WHERE trace_id NOT IN (SELECT trace_id FROM lens_traces)"
        ).fetchone()[0]
    assert 0 < traces < 2000  # interrupted part-way
    assert (orphans, logs) == (0, 3 * traces)

    exporter = LensSpanExporter(database=str(db_path), sweep_interval=0)
    try:
        summary = exporter.store.prune(max_age=0, max_size=budget)
        assert summary.skipped is None
        assert _orphan_logs(exporter.store) == 0
        assert count(exporter.store, "log") == 3 * count(exporter.store, "trace")
    finally:
        exporter.shutdown()
    assert integrity(db_path) == "ok"
