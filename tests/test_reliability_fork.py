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
