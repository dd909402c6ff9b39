"""kill -9 in the middle of exports and of retention sweeps: what was reported stored stays stored, whole."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from otel_lens import LensSpanExporter
from otel_lens.store.codec import loads
from tests._reliability import (
    complete_lines,
    dangling_references,
    finish,
    integrity,
    populate,
    rollup_mismatches,
    run_python,
    start_python,
    stored_span_keys,
    wait_until,
    write_script,
)

pytestmark = pytest.mark.slow

_EXPORT_STREAM = """
    import sys
    from _reliability import LogFactory, SpanFactory, append_durably, span_key
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.sdk._logs.export import LogRecordExportResult
    from otel_lens import LensLogExporter, LensSpanExporter

    database, side, round_no = sys.argv[1], sys.argv[2], sys.argv[3]
    spans_out = LensSpanExporter(database=database, sweep_interval=0)
    logs_out = LensLogExporter(database=database, sweep_interval=0)
    spans, logs = SpanFactory(), LogFactory()
    batch = 0
    while True:  # until killed
        label = f"r{round_no}b{batch}"
        group = spans.traces(40, 5, label=label)
        if spans_out.export(group) is SpanExportResult.SUCCESS:
            append_durably(side, "spans " + label + " " + ",".join(span_key(s) for s in group))
        records = logs.records([f"{label} log {i}" for i in range(50)])
        if logs_out.export(records) is LogRecordExportResult.SUCCESS:
            append_durably(side, f"logs {label} {len(records)}")
        batch += 1
"""

_PROBE_WRITE = """
    import sys
    from _reliability import SpanFactory
    from opentelemetry.sdk.trace.export import SpanExportResult
    from otel_lens import LensSpanExporter

    exporter = LensSpanExporter(database=sys.argv[1], sweep_interval=0)
    result = exporter.export(SpanFactory().traces(3, 5, label="after-crash"))
    exporter.shutdown()
    sys.exit(0 if result is SpanExportResult.SUCCESS else 1)
"""


def _assert_writable_at_once(db_path: Path, tmp_path: Path) -> None:
    """No lock outlives the killed process: a zero-timeout BEGIN IMMEDIATE works, and a new process exports."""
    conn = sqlite3.connect(db_path, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
    finally:
        conn.close()
    result = run_python(write_script(tmp_path, "probe.py", _PROBE_WRITE), db_path)
    assert result.returncode == 0, result.stderr


def test_kill9_during_export_stream_keeps_every_reported_batch_whole(tmp_path: Path, db_path: Path) -> None:
    """Scenario 1: after kill -9 mid-stream, every span/log batch the child saw succeed is stored whole,
    no batch is stored in part, integrity_check is ok, and a new process writes at once."""
    script = write_script(tmp_path, "stream.py", _EXPORT_STREAM)
    side = tmp_path / "succeeded.txt"
    rng = random.Random(1)
    for round_no in range(3):  # later rounds recover a database a killed process left behind
        before = len(complete_lines(side))
        child = start_python(script, db_path, side, round_no)
        try:
            wait_until(lambda n=before + 6: len(complete_lines(side)) >= n, what="the child's first batches")
            time.sleep(rng.uniform(0, 0.05))  # land anywhere in a transaction, an encode or an fsync
        finally:
            child.send_signal(signal.SIGKILL)
            code, _, err = finish(child)
        assert code == -signal.SIGKILL, err

    assert integrity(db_path) == "ok"
    stored = set(stored_span_keys(db_path))
    reported_spans = reported_logs = 0
    with sqlite3.connect(db_path) as conn:
        log_bodies = [loads(body) for (body,) in conn.execute("SELECT body FROM lens_logs")]
        labels = {row[0] for row in conn.execute("SELECT DISTINCT json_extract(attributes, '$.label') FROM lens_spans")}
    for line in complete_lines(side):
        kind, label, detail = line.split(" ", 2)
        if kind == "spans":
            keys = detail.split(",")
            assert len(keys) == 200 and stored.issuperset(keys), f"batch {label} reported stored but incomplete"
            reported_spans += 1
        else:
            assert sum(1 for body in log_bodies if body.startswith(f"{label} log ")) == int(detail), label
            reported_logs += 1
    assert reported_spans >= 6 and reported_logs >= 6
    # Nothing half-written: every stored batch is whole (200 spans of 40 traces; 50 logs).
    assert len(stored) % 200 == 0 and len(stored) == 200 * len(labels)
    assert len(log_bodies) % 50 == 0
    assert rollup_mismatches(db_path) == []
    assert dangling_references(db_path) == 0
    _assert_writable_at_once(db_path, tmp_path)


_SWEEP_UNTIL_KILLED = """
    import contextlib, sys, threading, time
    from _reliability import SpanFactory, append_durably
    from otel_lens import LensSpanExporter

    database, progress = sys.argv[1], sys.argv[2]
    exporter = LensSpanExporter(database=database, sweep_interval=0)
    sweeper = exporter.store.sweeper
    commit = sweeper._transaction

    @contextlib.contextmanager
    def slow_commit():
        # Each chunk's deletes are done but not yet committed while we report progress and dawdle,
        # so the kill lands inside an open delete transaction most of the time.
        with commit() as cursor:
            yield cursor
            append_durably(progress, "chunk")
            time.sleep(0.01)

    sweeper._transaction = slow_commit
    factory = SpanFactory("fresh")

    def keep_writing():
        while True:
            exporter.export(factory.traces(5, 5, label="during-sweep"))

    threading.Thread(target=keep_writing, daemon=True).start()
    exporter.store.prune(max_age=86400, max_size=0)
    append_durably(progress, "finished")
"""


def test_kill9_during_retention_sweep_leaves_no_orphans(tmp_path: Path, db_path: Path) -> None:
    """Scenario 2: kill -9 inside a sweep's delete transactions leaves integrity ok, every trace with its
    rollup (and no rollup without spans), exact counts; a later sweep finishes the job and the file shrinks."""
    populate(db_path, old_traces=3000, fresh_traces=50)
    progress = tmp_path / "progress.txt"
    child = start_python(write_script(tmp_path, "sweep.py", _SWEEP_UNTIL_KILLED), db_path, progress)
    try:
        wait_until(lambda: len(complete_lines(progress)) >= 4, what="the sweep's first chunks")
    finally:
        child.send_signal(signal.SIGKILL)
        code, _, err = finish(child)
    assert code == -signal.SIGKILL, err
    assert "finished" not in complete_lines(progress), "the sweep ended before the kill; nothing was tested"

    assert integrity(db_path) == "ok"
    assert rollup_mismatches(db_path) == []
    assert dangling_references(db_path) == 0
    with sqlite3.connect(db_path) as conn:
        old_left = conn.execute("SELECT count(*) FROM lens_traces WHERE root_name = 'root old'").fetchone()[0]
        fresh = conn.execute("SELECT count(*) FROM lens_traces WHERE root_name = 'root fresh'").fetchone()[0]
    assert 0 < old_left < 3000  # interrupted part-way, in whole traces
    assert fresh == 50

    size_before = os.path.getsize(db_path)
    exporter = LensSpanExporter(database=str(db_path), sweep_interval=0)
    try:
        summary = exporter.store.prune(max_age=86400, max_size=0)
        assert summary.skipped is None  # the killed sweeper's cross-process lock died with it
        assert summary.traces_deleted == old_left
    finally:
        exporter.shutdown()
    assert rollup_mismatches(db_path) == []
    assert integrity(db_path) == "ok"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM lens_traces WHERE root_name = 'root old'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM lens_logs").fetchone()[0] == 100
    assert os.path.getsize(db_path) < size_before
    _assert_writable_at_once(db_path, tmp_path)
