"""SIGTERM on the zero-code path: ``opentelemetry-instrument`` + the otel-lens distro under uvicorn and gunicorn.

Issue 8, defect 1: a SIGTERM shortly after the last response lost the requests' spans and logs,
because the SDK's batch processors (built by the SDK configurator, not by otel-lens) hold them for
up to 500 ms and a process ending by SIGTERM runs no atexit. Each run here serves real requests
through the real FastAPI instrumentation and stores into a SQLite file under ``tmp_path``.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests._instrument import (
    BIN,
    INSTRUMENT,
    copy_of_db_file_alone,
    instrument_env,
    missing,
    serve_and_terminate,
    sqlite_statements,
)
from tests._reliability import finish, wait_for_file, write_script

pytestmark = pytest.mark.slow

_REQUESTS = 10


@pytest.mark.parametrize("run", range(2))
def test_sigterm_under_uvicorn_stores_every_span_and_log(tmp_path: Path, db_path: Path, run: int) -> None:
    """`opentelemetry-instrument uvicorn app:app`, SIGTERM 50 ms after the last response: every request's
    server span, app span and log are stored, and uvicorn still ends by SIGTERM as it would without otel-lens.
    The store is closed before the process dies: no -wal is left, and a copy of the .db file alone holds it all."""
    served = serve_and_terminate(
        tmp_path,
        db_path,
        [str(BIN / "uvicorn"), "app:app", "--uds", "app.sock", "--log-level", "warning"],
        requests=_REQUESTS,
        sigterm_after_s=0.05,
    )
    assert served.code == -signal.SIGTERM, served.stderr
    assert "Traceback" not in served.stderr, served.stderr
    assert missing(db_path, served.traces) == []
    assert missing(copy_of_db_file_alone(db_path, tmp_path / "copy"), served.traces) == []


@pytest.mark.parametrize("run", range(2))
def test_sigterm_under_gunicorn_uvicorn_workers_stores_every_span_and_log(
    tmp_path: Path, db_path: Path, run: int
) -> None:
    """`opentelemetry-instrument gunicorn -k uvicorn.workers.UvicornWorker -w 2 app:app`, SIGTERM to the
    arbiter 0.2 s after the last response: the workers (forked, their signals reset by the worker class,
    killed by the re-raised SIGTERM) store every request's spans and log before they end."""
    served = serve_and_terminate(
        tmp_path,
        db_path,
        [
            str(BIN / "gunicorn"),
            "-k",
            "uvicorn.workers.UvicornWorker",
            "-w",
            "2",
            "-b",
            "unix:app.sock",
            "--log-level",
            "warning",
            "app:app",
        ],
        requests=_REQUESTS,
        sigterm_after_s=0.2,
    )
    assert served.code == 0, served.stderr
    assert "Traceback" not in served.stderr, served.stderr
    assert missing(copy_of_db_file_alone(db_path, tmp_path / "copy"), served.traces) == []
    assert sqlite_statements(db_path) == []  # the workers' store connection (reopened after fork) is not traced


# A plain script: spans and logs queued in the SDK's batch processors, then (with --idle) it waits to be stopped.
_SCRIPT = """
    import logging, pathlib, sys, time
    from opentelemetry import trace

    tracer = trace.get_tracer("app")
    for number in range(20):
        with tracer.start_as_current_span(f"job {number}"):
            logging.getLogger("app").warning("job %d", number)
    print("done")
    pathlib.Path(sys.argv[1]).write_text("ready")
    if "--idle" in sys.argv:
        time.sleep(600)
"""


@pytest.mark.parametrize("ending", ["sigterm-while-idle", "normal-exit"])
@pytest.mark.parametrize("exporters", ["lens", "lens,console"])
def test_plain_python_app_stores_everything_on_sigterm_and_on_exit(
    tmp_path: Path, db_path: Path, ending: str, exporters: str
) -> None:
    """`opentelemetry-instrument python app.py`: ended by SIGTERM while idle right after its work (still queued
    in the SDK's batch processors), or ending normally, every span and log is stored; SIGTERM still ends it
    with the SIGTERM status, a normal end with 0, and its stdout is untouched. The store is closed before the
    process dies: no -wal is left and a copy of the .db file alone holds every span and log. A console
    exporter beside ``lens`` still prints every span (closing the store leaves the user's other exporters be)."""
    app = write_script(tmp_path, "app.py", _SCRIPT)
    ready = tmp_path / "ready"
    idle = ["--idle"] if ending == "sigterm-while-idle" else []
    process = subprocess.Popen(
        [INSTRUMENT, sys.executable, str(app), str(ready), *idle],
        cwd=tmp_path,
        env=instrument_env(db_path, OTEL_TRACES_EXPORTER=exporters),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if idle:
        wait_for_file(ready)
        process.send_signal(signal.SIGTERM)
    code, out, err = finish(process)
    assert code == (-signal.SIGTERM if idle else 0), err
    if exporters == "lens":
        assert out == "done\n"
    else:
        assert out.startswith("done\n") and out.count('"name": "job ') == 20, out
    with sqlite3.connect(copy_of_db_file_alone(db_path, tmp_path / "copy")) as conn:
        spans = conn.execute("SELECT count(*) FROM lens_spans WHERE name LIKE 'job %'").fetchone()[0]
        logs = conn.execute("SELECT count(*) FROM lens_logs WHERE trace_id IS NOT NULL").fetchone()[0]
    assert (spans, logs) == (20, 20)
