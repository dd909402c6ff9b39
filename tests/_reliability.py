"""Helpers for the process-level reliability tests: child processes, real spans for them, database checks.

The child scripts import this module too (``PYTHONPATH`` points at ``tests/``); their real SDK spans and
log records come from :mod:`otel_lens.testing`'s factories.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otel_lens import testing

TESTS_DIR = Path(__file__).resolve().parent
PROCESS_TIMEOUT_S = 60.0  # no child may hang the suite; real runs take a few seconds


# -- child-side: real spans and logs -----------------------------------------------------------


class SpanFactory(testing.SpanFactory):
    """:class:`otel_lens.testing.SpanFactory` under the reliability tests' service name."""

    def __init__(self, service: str = "reliability") -> None:
        super().__init__(service, scope=("otel-lens.reliability", None))


class LogFactory(testing.LogFactory):
    """:class:`otel_lens.testing.LogFactory` under the reliability tests' service name."""

    def __init__(self, service: str = "reliability") -> None:
        super().__init__(service, scope="otel-lens.reliability")


def span_key(span: ReadableSpan) -> str:
    """``trace_hex:span_hex`` of a span, the form the parent compares with the database."""
    assert span.context is not None
    return f"{span.context.trace_id:032x}:{span.context.span_id:016x}"


def append_durably(path: str | Path, line: str) -> None:
    """Append one line and fsync it, so it survives a kill -9 right after this returns."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def wait_for_file(path: str | Path, timeout: float = PROCESS_TIMEOUT_S) -> None:
    """Block until ``path`` exists (a cross-process barrier)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout}s")
        time.sleep(0.005)


def populate(db_path: Path, old_traces: int, fresh_traces: int, fresh_logs: int = 100) -> None:
    """Old traces (30 days, labelled "old") that a 1-day retention removes, fresh traces and logs it keeps."""
    from otel_lens import LensLogExporter, LensSpanExporter

    spans_out = LensSpanExporter(database=str(db_path), sweep_interval=0)
    logs_out = LensLogExporter(database=str(db_path), sweep_interval=0)
    factory = SpanFactory("old")
    month_ago = time.time_ns() - 30 * 86400 * 10**9
    try:
        for start in range(0, old_traces, 500):
            group = factory.traces(min(500, old_traces - start), 5, label="old", start_ns=month_ago + start * 10**6)
            assert spans_out.export(group).name == "SUCCESS"
        assert spans_out.export(factory.traces(fresh_traces, 5, label="fresh")).name == "SUCCESS"
        assert logs_out.export(LogFactory().records([f"fresh log {i}" for i in range(fresh_logs)])).name == "SUCCESS"
    finally:
        logs_out.shutdown()
        spans_out.shutdown()


# -- parent-side: processes ----------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: this one (OTEL_* already cleared by conftest) plus ``tests/`` on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def write_script(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


def start_python(script: Path, *args: object, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        env=env or child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run_python(
    script: Path, *args: object, env: dict[str, str] | None = None, timeout: float = PROCESS_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def finish(process: subprocess.Popen[str], timeout: float = PROCESS_TIMEOUT_S) -> tuple[int, str, str]:
    """Wait for ``process`` (killing it past ``timeout``) and return its exit code, stdout and stderr."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"child did not finish within {timeout}s; stderr:\n{err}") from None
    return process.returncode, out, err


def wait_until(predicate: Callable[[], bool], timeout: float = PROCESS_TIMEOUT_S, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of ``path`` (a line cut by a kill is ignored)."""
    if not path.exists():
        return []
    text = path.read_text()
    return text.split("\n")[:-1]


# -- parent-side: database checks ---------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for checks (the tests read the raw file, not otel-lens' read API)."""
    return sqlite3.connect(path, timeout=10)


def stored_span_keys(path: Path) -> list[str]:
    with connect(path) as conn:
        rows = conn.execute(
            "SELECT hex(t.trace_id), hex(s.span_id) FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row"
        ).fetchall()
    return [f"{t.lower()}:{s.lower()}" for t, s in rows]


def integrity(path: Path) -> str:
    with connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def rollup_mismatches(path: Path) -> list[tuple[Any, ...]]:
    """Traces whose rollup disagrees with their spans, and spans or rollups without the other (orphans)."""
    with connect(path) as conn:
        return conn.execute(
            """
            WITH s AS (SELECT trace_row, count(*) AS n, sum(status_code = 2) AS errors FROM lens_spans GROUP BY trace_row)
            SELECT hex(t.trace_id), t.span_count, s.n, t.error_count, s.errors
            FROM lens_traces t LEFT JOIN s ON s.trace_row = t.id
            WHERE s.trace_row IS NULL OR t.span_count != s.n OR t.error_count != s.errors
            UNION ALL
            SELECT s.trace_row, NULL, s.n, NULL, s.errors
            FROM s LEFT JOIN lens_traces t ON t.id = s.trace_row WHERE t.id IS NULL
            """
        ).fetchall()


def dangling_references(path: Path) -> int:
    """Spans and logs whose resource or scope row is missing (what the read side joins on)."""
    with connect(path) as conn:
        return int(
            conn.execute(
                """
                SELECT (SELECT count(*) FROM lens_spans WHERE resource_id NOT IN (SELECT id FROM lens_resources)
                                                      OR scope_id NOT IN (SELECT id FROM lens_scopes))
                     + (SELECT count(*) FROM lens_logs WHERE resource_id NOT IN (SELECT id FROM lens_resources)
                                                      OR scope_id NOT IN (SELECT id FROM lens_scopes))
                """
            ).fetchone()[0]
        )


def file_size(path: Path | str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
