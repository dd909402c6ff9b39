"""Many processes × many threads writing one SQLite file: nothing lost, nothing doubled, no lock errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._reliability import (
    finish,
    integrity,
    rollup_mismatches,
    start_python,
    stored_span_keys,
    wait_until,
    write_script,
)

pytestmark = pytest.mark.slow

_PROCESSES, _THREADS, _ROUNDS = 4, 4, 60

# Each thread exports small batches through its process's one shared exporter (process 0 also has a
# second exporter instance on the same file); a trace's children and its root go in separate exports
# so the rollup is assembled across transactions while other writers interleave.
_WRITER = """
    import json, logging, sys, threading
    from _reliability import SpanFactory, append_durably, span_key, wait_for_file
    from opentelemetry.sdk.trace.export import SpanExportResult
    from otel_lens import LensSpanExporter

    database, ready, go = sys.argv[1], sys.argv[3], sys.argv[4]
    index, threads, rounds = int(sys.argv[2]), int(sys.argv[5]), int(sys.argv[6])
    warnings = []

    class Keep(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    logging.getLogger().addHandler(Keep(logging.WARNING))
    exporters = [LensSpanExporter(database=database, sweep_interval=0)]
    if index == 0:
        exporters.append(LensSpanExporter(database=database, sweep_interval=0))
    exported, failures = [], []
    lock = threading.Lock()

    def work(thread):
        factory = SpanFactory(f"p{index}")
        exporter = exporters[thread % len(exporters)]
        batches = [factory.traces(2, 3, label=f"p{index}t{thread}r{n}") for n in range(rounds)]
        wait_for_file(go)
        for spans in batches:
            children = [s for s in spans if s.parent is not None]
            roots = [s for s in spans if s.parent is None]
            for part in (children, roots):
                result = exporter.export(part)
                with lock:
                    (exported if result is SpanExportResult.SUCCESS else failures).extend(span_key(s) for s in part)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    append_durably(ready, str(index))
    for worker in workers:
        worker.join()
    for exporter in exporters:
        exporter.shutdown()
    print(json.dumps({"exported": exported, "failures": failures, "warnings": warnings}))
"""


def test_processes_and_threads_writing_one_file_lose_nothing(tmp_path: Path, db_path: Path) -> None:
    """Scenario 8: 4 processes × 4 threads (plus a second exporter instance in one process) exporting small
    batches at once: every export succeeds, every span is stored exactly once, every trace rollup is exact,
    and no "database is locked" (or any warning) reaches the application."""
    script = write_script(tmp_path, "writer.py", _WRITER)
    ready, go = tmp_path / "ready.txt", tmp_path / "go"
    children = [start_python(script, db_path, i, ready, go, _THREADS, _ROUNDS) for i in range(_PROCESSES)]
    try:
        wait_until(lambda: ready.exists() and len(ready.read_text().split()) == _PROCESSES, what="all writers")
        go.touch()
    finally:
        outcomes = [finish(child) for child in children]

    exported: list[str] = []
    for code, out, err in outcomes:
        assert code == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err, err
        report = json.loads(out)
        assert report["failures"] == [] and report["warnings"] == []
        exported.extend(report["exported"])

    stored = stored_span_keys(db_path)
    assert len(exported) == _PROCESSES * _THREADS * _ROUNDS * 6
    assert sorted(stored) == sorted(exported)  # each present, and exactly once
    assert rollup_mismatches(db_path) == []
    assert integrity(db_path) == "ok"
