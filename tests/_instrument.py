"""Helpers for the zero-code tests: run a server under ``opentelemetry-instrument`` and read what it stored.

The child runs exactly what a user types (``opentelemetry-instrument uvicorn app:app``) with the
otel-lens distro selected and every installed contrib instrumentation enabled; it listens on a Unix
socket in ``tmp_path`` (no port to collide with other tests).
"""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests._reliability import child_env, finish, wait_until, write_script

INSTRUMENT = str(Path(sys.executable).parent / "opentelemetry-instrument")
BIN = Path(sys.executable).parent

# A FastAPI app as a user writes it, with no OTel code beyond getting a tracer: per request the FastAPI
# instrumentation's server span (and its internal send spans), one span of the app's own, one log record.
FASTAPI_APP = """
    import logging
    from fastapi import FastAPI
    from opentelemetry import trace

    app = FastAPI()
    log = logging.getLogger("shop")
    log.setLevel(logging.INFO)
    tracer = trace.get_tracer("shop")


    @app.get("/item/{number}")
    async def item(number: int):
        with tracer.start_as_current_span("work") as span:
            span.set_attribute("item.number", number)
            log.info("handled item %d", number)
            return {"trace": format(span.get_span_context().trace_id, "032x")}
"""


def instrument_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The child's environment: the otel-lens distro, its database in ``tmp_path``, no sweeper, no metrics."""
    defaults = {
        "OTEL_PYTHON_DISTRO": "otel_lens",
        "OTEL_EXPORTER_LENS_DATABASE": str(db_path),
        "OTEL_EXPORTER_LENS_SWEEP_INTERVAL": "0",
        "OTEL_SERVICE_NAME": "shop",
    }
    return child_env(**{**defaults, **extra})


def listening(path: Path) -> bool:
    """Whether a server answers on the unix socket ``path`` yet."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def start_server(tmp_path: Path, command: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``opentelemetry-instrument <command>`` started in ``tmp_path``, returned once it listens on
    ``tmp_path/app.sock``; a server that exits first (or never listens) fails the test with its stderr."""
    server = subprocess.Popen(
        [INSTRUMENT, *command], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: listening(tmp_path / "app.sock") or server.poll() is not None, what="the server listening")
        assert server.poll() is None, server.communicate()[1]
    except BaseException:
        if server.poll() is None:  # never listened: stopped as the callers' own cleanup stops it once started
            server.send_signal(signal.SIGTERM)
            finish(server)
        raise
    return server


@dataclass
class Served:
    """What a served-then-terminated run gave: the trace id of each request, exit code, stderr."""

    traces: list[str]
    code: int
    stderr: str


def serve_and_terminate(
    tmp_path: Path,
    db_path: Path,
    command: Sequence[str],
    *,
    requests: int,
    sigterm_after_s: float,
    source: str = FASTAPI_APP,
    env: dict[str, str] | None = None,
) -> Served:
    """Start ``opentelemetry-instrument <command>`` (which must listen on ``tmp_path/app.sock``), send
    ``requests`` requests, send SIGTERM ``sigterm_after_s`` after the last response, wait for the exit."""
    write_script(tmp_path, "app.py", source)
    sock = tmp_path / "app.sock"
    server = start_server(tmp_path, command, env or instrument_env(db_path))
    traces: list[str] = []
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://app", timeout=60) as client:
            for number in range(requests):
                response = client.get(f"/item/{number}")
                assert response.status_code == 200, response.text
                traces.append(response.json()["trace"])
        time.sleep(sigterm_after_s)  # the scenario itself: SIGTERM this long after the last response
    finally:
        server.send_signal(signal.SIGTERM)
        code, _, err = finish(server)
    return Served(traces, code, err)


def missing(db_path: Path, traces: Sequence[str]) -> list[str]:
    """For each request's trace: what is not stored (server span, the app's span, its log), as readable lines.

    Every trace of the run has the same shape, so a trace with fewer spans than the fullest one lost some.
    """
    problems: list[str] = []
    with sqlite3.connect(db_path, timeout=10) as conn:
        counts = dict(
            conn.execute(
                "SELECT lower(hex(t.trace_id)), count(*) FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row "
                "GROUP BY t.trace_id"
            ).fetchall()
        )
        kinds = {
            (trace, name, kind)
            for trace, name, kind in conn.execute(
                "SELECT lower(hex(t.trace_id)), s.name, s.kind FROM lens_spans s "
                "JOIN lens_traces t ON t.id = s.trace_row"
            )
        }
        logs = {trace for (trace,) in conn.execute("SELECT lower(hex(trace_id)) FROM lens_logs")}
    fullest = max(counts.values(), default=0)
    for trace in traces:
        if not any(t == trace and kind == 1 for t, _, kind in kinds):  # SpanKind.SERVER is stored as 1
            problems.append(f"{trace}: no server span")
        if (trace, "work", 0) not in kinds:  # SpanKind.INTERNAL is 0
            problems.append(f"{trace}: no 'work' span")
        if trace not in logs:
            problems.append(f"{trace}: no log record")
        if counts.get(trace, 0) != fullest:
            problems.append(f"{trace}: {counts.get(trace, 0)} of {fullest} spans")
    return problems


def sqlite_statements(db_path: Path) -> list[str]:
    """The statements of every stored span the sqlite3 instrumentation made (otel-lens' own SQL must not be one)."""
    with sqlite3.connect(db_path, timeout=10) as conn:
        rows = conn.execute(
            "SELECT s.name, s.attributes FROM lens_spans s JOIN lens_scopes sc ON sc.id = s.scope_id "
            "WHERE sc.name LIKE '%sqlite3%'"
        ).fetchall()
    return [f"{name}: {attributes}" for name, attributes in rows]


def copy_of_db_file_alone(db_path: Path, directory: Path) -> Path:
    """A copy of the database file alone (``cp lens.db``), once its writer has ended: asserts no ``-wal`` is left
    with data in it (a copy without it would miss what only the -wal holds), and returns the copy's path."""
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, f"{wal.name} left with {wal.stat().st_size} bytes"
    directory.mkdir(exist_ok=True)
    return Path(shutil.copy(db_path, directory / db_path.name))
