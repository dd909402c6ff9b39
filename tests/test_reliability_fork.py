"""fork() after the exporter exists (os.fork, gunicorn --preload): the child opens its own connection."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests._reliability import child_env, integrity, rollup_mismatches, run_python, stored_span_keys, write_script

pytestmark = pytest.mark.slow

_FORK_AND_WRITE = """
    import json, os, sys
    from _reliability import SpanFactory, span_key
    from opentelemetry.sdk.trace.export import SpanExportResult
    from otel_lens import LensSpanExporter
    from otel_lens.store import shared

    database, out = sys.argv[1], sys.argv[2]
    exporter = LensSpanExporter(database=database, sweep_interval=0)
    factory = SpanFactory()

    def write(role, rounds):
        keys, ok = [], True
        for number in range(rounds):
            spans = factory.traces(3, 4, label=f"{role}{number}")
            ok = ok and exporter.export(spans) is SpanExportResult.SUCCESS
            keys += [span_key(s) for s in spans]
        return keys, ok

    before, ok_before = write("before", 3)
    inherited = exporter.store.db.connection()
    pid = os.fork()
    if pid == 0:
        keys, ok = write("child", 40)
        own = exporter.store.db.connection()
        report = {
            "keys": keys,
            "ok": ok,
            "own_connection": own is not inherited,
            "inherited_kept": any(c is inherited for c in shared._inherited_connections),
        }
        with open(out + ".child", "w") as handle:
            json.dump(report, handle)
        os._exit(0)
    keys, ok = write("parent", 40)
    _, status = os.waitpid(pid, 0)
    after, ok_after = write("after", 3)  # the parent's connection still works after the child is gone
    report = {
        "keys": before + keys + after,
        "ok": ok_before and ok and ok_after,
        "same_connection": exporter.store.db.connection() is inherited,
        "child_status": status,
    }
    exporter.shutdown()
    with open(out + ".parent", "w") as handle:
        json.dump(report, handle)
"""

# A gunicorn --preload master: telemetry configured at import (batch processors, both exporters, one
# write made so the connection is open), then workers forked that serve, flush at exit, and leave.
_PRELOAD_MASTER = """
    import logging, os, sys
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_lens import LensLogExporter, LensSpanExporter

    resource = Resource.create({"service.name": "preload"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(LensSpanExporter(sweep_interval=0)))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(LensLogExporter(sweep_interval=0)))
    tracer = tracer_provider.get_tracer("preload")
    logger = logging.getLogger("preload")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))

    def serve(role, count):
        for number in range(count):
            with tracer.start_as_current_span(f"{role} request"):
                logger.info("%s served %d", role, number)

    serve("master", 10)
    tracer_provider.force_flush()
    logger_provider.force_flush()
    workers = []
    for index in range(2):
        pid = os.fork()
        if pid == 0:
            serve(f"worker{index}", 200)
            sys.exit(0)  # a worker's normal exit: atexit flushes its queues
        workers.append(pid)
    serve("master", 10)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in workers]
    sys.exit(0 if codes == [0, 0] else 1)
"""


def test_forked_child_opens_its_own_connection_and_both_keep_writing(tmp_path: Path, db_path: Path) -> None:
    """Scenario 11: after os.fork() the child writes through a connection of its own (the inherited one is
    kept aside, never used), the parent keeps its connection, and every span of both is stored."""
    out = tmp_path / "report"
    result = run_python(write_script(tmp_path, "fork.py", _FORK_AND_WRITE), db_path, out)
    assert result.returncode == 0, result.stderr
    parent = json.loads(Path(f"{out}.parent").read_text())
    child = json.loads(Path(f"{out}.child").read_text())
    assert parent["child_status"] == 0
    assert parent["ok"] and child["ok"]
    assert child["own_connection"] and child["inherited_kept"]
    assert parent["same_connection"]
    assert sorted(stored_span_keys(db_path)) == sorted(parent["keys"] + child["keys"])
    assert rollup_mismatches(db_path) == []
    assert integrity(db_path) == "ok"


def test_gunicorn_preload_style_workers_store_their_spans_and_logs(tmp_path: Path, db_path: Path) -> None:
    """Scenario 11: with telemetry configured in a preloading master that then forks workers, each worker's
    spans and logs (flushed by its batch processors at exit) and the master's are all stored."""
    env = child_env(OTEL_EXPORTER_LENS_DATABASE=str(db_path))
    result = run_python(write_script(tmp_path, "master.py", _PRELOAD_MASTER), env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with sqlite3.connect(db_path) as conn:
        spans = dict(conn.execute("SELECT name, count(*) FROM lens_spans GROUP BY name").fetchall())
        logs = conn.execute("SELECT count(*) FROM lens_logs").fetchone()[0]
    assert spans == {"master request": 20, "worker0 request": 200, "worker1 request": 200}
    assert logs == 420
    assert rollup_mismatches(db_path) == []
    assert integrity(db_path) == "ok"


# fork() while the sweeper is inside a pass: the parent's pass holds the cross-process sweep lock and
# a side connection for WAL checkpoints. The child must neither use nor close that connection, must
# not keep the parent's lock, and must sweep on its own once the parent's pass is over.
_FORK_DURING_SWEEP = """
    import contextlib, json, os, sys, threading, time
    from _reliability import SpanFactory, wait_for_file
    from otel_lens import LensSpanExporter
    from otel_lens.store import shared

    database, out = sys.argv[1], sys.argv[2]
    exporter = LensSpanExporter(database=database, sweep_interval=0)
    store = exporter.store
    day_ns = 86_400 * 10**9
    exporter.export(SpanFactory().traces(50, 4, label="old", start_ns=time.time_ns() - 10 * day_ns))
    in_pass, release = threading.Event(), threading.Event()
    transaction = store.sweeper._transaction

    @contextlib.contextmanager
    def paused_transaction():
        in_pass.set()
        release.wait(60)
        with transaction() as cursor:
            yield cursor

    store.sweeper._transaction = paused_transaction
    parent_pass = threading.Thread(target=lambda: store.prune(max_age=86_400, max_size=0))
    parent_pass.start()
    assert in_pass.wait(60)
    side = store.sweeper._space.side
    pid = os.fork()
    if pid == 0:
        store.sweeper._transaction = transaction  # the child's passes run plainly
        report = {
            "side_forgotten": store.sweeper._space.side is None,
            "side_kept": any(c is side for c in shared._inherited_connections),
            "skipped_while_parent_sweeps": store.prune(max_age=86_400, max_size=0).skipped is not None,
        }
        release_file = out + ".released"
        open(out + ".child-ready", "w").close()
        wait_for_file(release_file)
        summary = store.prune(max_age=86_400, max_size=0)
        report["child_deleted"] = summary.spans_deleted
        report["child_skipped"] = summary.skipped
        with open(out + ".child", "w") as handle:
            json.dump(report, handle)
        os._exit(0)
    wait_for_file(out + ".child-ready")
    release.set()
    parent_pass.join(60)
    exporter.export(SpanFactory().traces(20, 4, label="old2", start_ns=time.time_ns() - 10 * day_ns))
    open(out + ".released", "w").close()
    _, status = os.waitpid(pid, 0)
    exporter.shutdown()
    sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_child_forked_during_a_sweep_forgets_the_pass_and_sweeps_on_its_own(tmp_path: Path, db_path: Path) -> None:
    """WriteStore's fork handler runs Sweeper.after_fork(): the parent's checkpoint connection is kept
    alive unused (not closed: that could delete the parent's WAL), the parent's sweep lock is not held
    by the child, and the child's own pass later deletes what is expired."""
    out = tmp_path / "report"
    result = run_python(write_script(tmp_path, "fork_sweep.py", _FORK_DURING_SWEEP), db_path, out)
    assert result.returncode == 0, result.stderr
    child = json.loads(Path(f"{out}.child").read_text())
    assert child["side_forgotten"] and child["side_kept"]
    assert child["skipped_while_parent_sweeps"]  # the parent's pass holds the cross-process lock
    assert child["child_skipped"] is None
    assert child["child_deleted"] == 80  # the 20 traces of 4 spans stored after the parent's pass
    assert integrity(db_path) == "ok"
    assert rollup_mismatches(db_path) == []
