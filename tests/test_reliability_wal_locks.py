"""RELIABILITY (WAL): a process that opens a second handle on a store it already has open keeps its locks.

On POSIX, closing any descriptor of a file drops every fcntl lock the process holds on it — including
the SHARED lock its open SQLite connections hold. A reader opened beside a live writer (``otel-lens
serve``: the viewer, then the receiver; an app calling ``lens.store``) used to read the file's header with
a Python file handle, which dropped the writer's lock. The next other process to close its connection then
believed it was the last, checkpointed and deleted the -wal the writer still wrote into: spans answered
200 vanished and the file was corrupted. Real processes, real files: no mocks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExportResult

from otel_lens import LensSpanExporter, Settings, open_store
from tests._reliability import SpanFactory, integrity

_OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM lens_spans").fetchone()
conn.close()  # the last connection anywhere checkpoints and deletes the -wal
"""


def _posix_locks(pid: int, path: Path) -> int:
    """The fcntl locks ``pid`` holds on ``path`` (Linux /proc/locks: major:minor:inode per line)."""
    inode = path.stat().st_ino
    count = 0
    for line in Path("/proc/locks").read_text().split("\n"):
        fields = line.split()
        if len(fields) > 5 and fields[1] == "POSIX" and fields[4] == str(pid) and fields[5].endswith(f":{inode}"):
            count += 1
    return count


def test_a_reader_opened_beside_a_writer_keeps_the_writers_wal(db_path: Path) -> None:
    """A writer stores a batch, the same process opens a reader (and reads), another process opens and closes
    the store: the writer's -wal must survive, and its next batch must be in the file once everyone closed."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    exporter = LensSpanExporter(settings)
    factory = SpanFactory()
    try:
        assert exporter.export(factory.traces(1, 3, label="first")) is SpanExportResult.SUCCESS
        locks_before = _posix_locks(os.getpid(), db_path)
        assert locks_before >= 1, "the writer's connection holds its SHARED lock"
        with open_store(db_path) as store:  # what serve's viewer and `lens.store` do beside the writer
            assert store.traces()
            assert _posix_locks(os.getpid(), db_path) >= locks_before, "opening a reader dropped the writer's lock"
            subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(db_path)], check=True, timeout=60)
            assert Path(f"{db_path}-wal").exists(), "another process deleted the -wal this process still writes into"
            assert exporter.export(factory.traces(1, 3, label="second")) is SpanExportResult.SUCCESS  # acknowledged
    finally:
        exporter.shutdown()
    with open_store(db_path) as store:
        assert sum(t.span_count for t in store.traces()) == 6, "an acknowledged batch was lost"
    assert integrity(db_path) == "ok"
