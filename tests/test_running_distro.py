"""Running spans on the zero-code path: ``opentelemetry-instrument`` + the otel-lens distro, no otel-lens code in the app.

The distro adds a ``RunningSpanProcessor`` beside the batch processor the SDK's configurator builds for the
``lens`` exporter. Each test runs what a user types (``opentelemetry-instrument python app.py``, ``…
uvicorn app:app``, ``… gunicorn -k uvicorn.workers.UvicornWorker``) and reads the store from another
process with the real CLI: a long span is listed running, then replaced by its ended row; ``kill -9`` leaves
it abandoned; SIGTERM marks it abandoned at once; ``OTEL_EXPORTER_LENS_RUNNING_SPANS=false`` turns it off.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._instrument import BIN, INSTRUMENT, instrument_env, start_server
from tests._reliability import PROCESS_TIMEOUT_S, finish, wait_for_file, wait_until, write_script
from tests._running_app import (
    cli,
    end_run,
    kill_9_abandons,
    reaped,
    sigterm_abandons_at_once,
    spans_by_name,
    wait_running,
)

pytestmark = pytest.mark.slow

# A plain script as a user writes it: only the OpenTelemetry API. The long span ends when the test says so.
_SCRIPT = """
    import sys, time
    from pathlib import Path
    from opentelemetry import trace

    control, mode = Path(sys.argv[1]), sys.argv[2]
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("agent_run"):
        for i in range(3):
            with tracer.start_as_current_span("step"):
                pass
        if mode == "flush":
            opened = time.monotonic()
            while time.monotonic() - opened < 1.5:  # older than the 1 s interval: due to be stored as running
                time.sleep(0.05)
            trace.get_tracer_provider().force_flush()  # runs every processor's check now, whatever its thread does
            (control / "flushed").write_text("1")
        (control / "started").write_text("1")
        while not (control / "finish").exists():
            time.sleep(0.02)
    print("done")
"""

# A FastAPI route that stays in flight until the test says so; it names the worker that serves it.
_SLOW_APP = """
    import asyncio, os
    from pathlib import Path
    from fastapi import FastAPI

    app = FastAPI()
    CONTROL = Path(__file__).parent / "control"


    @app.get("/slow")
    async def slow():
        (CONTROL / "started").write_text(str(os.getpid()))
        while not (CONTROL / "finish").exists():
            await asyncio.sleep(0.02)
        return {"pid": os.getpid()}
"""


def start_script(tmp_path: Path, database: str, mode: str = "run", **env: str) -> tuple[subprocess.Popen[str], Path]:
    control = tmp_path / "control"
    control.mkdir()
    script = write_script(tmp_path, "app.py", _SCRIPT)
    process = subprocess.Popen(
        [INSTRUMENT, sys.executable, str(script), str(control), mode],
        env=instrument_env(Path(database), OTEL_EXPORTER_LENS_DATABASE=database, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, control


def test_a_long_span_under_instrument_runs_then_its_ended_row_replaces_it(tmp_path: Path, database_url: str) -> None:
    """`opentelemetry-instrument python app.py`: the open span is listed running (its real root, its ended
    children counted, it not yet) from another process; once it ends one ended row replaces it."""
    process, control = start_script(tmp_path, database_url)
    with reaped(process):
        listed = wait_running(database_url, process, control)
        assert (listed["root_name"], listed["state"], listed["span_count"]) == ("agent_run", "running", 3)
        root = spans_by_name(database_url, listed["trace_id"])["agent_run"]
        assert root["state"] == "running" and root["end_time_unix_nano"] is None
        code, out, err = end_run(process, control)
        assert (code, out) == (0, "done\n"), err
    (trace,) = cli(database_url, "traces")
    assert (trace["trace_id"], trace["state"], trace["span_count"]) == (listed["trace_id"], "ended", 4)
    spans = cli(database_url, "show", trace["trace_id"])["spans"]
    assert sorted((s["name"], s["state"]) for s in spans) == [("agent_run", "ended")] + [("step", "ended")] * 3
    assert cli(database_url, "traces", "--running") == []


def test_kill_9_under_instrument_leaves_the_open_span_abandoned(tmp_path: Path, database_url: str) -> None:
    """kill -9 of an instrumented process with a span open: once its heartbeat is past the bound, the span
    reads as abandoned (not running forever)."""
    process, control = start_script(tmp_path, database_url)
    listed = kill_9_abandons(database_url, process, control)
    assert spans_by_name(database_url, listed["trace_id"])["agent_run"]["state"] == "abandoned"


def test_sigterm_under_instrument_marks_the_open_span_abandoned_at_once(tmp_path: Path) -> None:
    """SIGTERM (the distro's flush-then-die handler) with the span open: the finished children are stored and
    the open span is abandoned right away — no atexit runs, so the distro must shut the processor down itself."""
    database = str(tmp_path / "lens.db")
    process, control = start_script(tmp_path, database)
    sigterm_abandons_at_once(database, process, control)


@pytest.mark.parametrize("setting", ["", "false"])
def test_the_running_spans_setting_turns_the_distro_processor_off(tmp_path: Path, setting: str) -> None:
    """After a forced flush of a span open past the interval it is stored as running, unless
    OTEL_EXPORTER_LENS_RUNNING_SPANS=false (then only its ended row, once it ends)."""
    database = str(tmp_path / "lens.db")
    process, control = start_script(tmp_path, database, "flush", OTEL_EXPORTER_LENS_RUNNING_SPANS=setting)
    with reaped(process):
        wait_until(lambda: (control / "flushed").exists() or process.poll() is not None, what="the forced flush")
        assert process.poll() is None, process.communicate()[1]
        running = [t["root_name"] for t in cli(database, "traces", "--running")]
        assert running == ([] if setting == "false" else ["agent_run"])
        code, _, err = end_run(process, control)
        assert code == 0, err
    assert [(t["root_name"], t["state"]) for t in cli(database, "traces")] == [("agent_run", "ended")]


def test_a_bad_running_spans_setting_stops_the_start_with_one_line(tmp_path: Path) -> None:
    """A value that is not a boolean stops opentelemetry-instrument before the app runs, naming the variable."""
    database = str(tmp_path / "lens.db")
    process, _ = start_script(tmp_path, database, OTEL_EXPORTER_LENS_RUNNING_SPANS="sometimes")
    code, out, err = finish(process)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "otel-lens: OTEL_EXPORTER_LENS_RUNNING_SPANS='sometimes' is not valid; use true or false; "
        "fix or unset it (opentelemetry-instrument stopped before the app ran)"
    ]


def _in_flight(sock: Path, result: list[Any]) -> threading.Thread:
    def request() -> None:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://app", timeout=120) as client:
            try:
                result.append(client.get("/slow"))
            except httpx.HTTPError as exc:  # the server went away: the test's assertion reports it, not a thread
                result.append(exc)

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    return thread


def _serve_one_slow_request(tmp_path: Path, command: list[str]) -> tuple[dict[str, Any], int, int]:
    """Start ``opentelemetry-instrument <command>`` on ``tmp_path/app.sock``, hold one request in flight until
    its server span is listed running, then let it end and stop the server. Returns the running listing,
    the serving process's pid and the pid of the writer whose heartbeat covered the running row."""
    database = str(tmp_path / "lens.db")
    write_script(tmp_path, "app.py", _SLOW_APP)
    control = tmp_path / "control"
    control.mkdir()
    sock = tmp_path / "app.sock"
    server = start_server(tmp_path, command, instrument_env(tmp_path / "lens.db"))
    result: list[Any] = []
    try:
        thread = _in_flight(sock, result)
        wait_for_file(control / "started")
        listed = wait_running(database, server, control)
        with sqlite3.connect(tmp_path / "lens.db", timeout=10) as conn:
            ((writer_pid,),) = conn.execute(
                "SELECT w.pid FROM lens_writers w JOIN lens_running r ON r.writer_id = w.id"
            ).fetchall()
        (control / "finish").write_text("1")
        thread.join(PROCESS_TIMEOUT_S)
        assert [getattr(r, "status_code", r) for r in result] == [200]

        def replaced() -> bool:
            return [(t["trace_id"], t["state"]) for t in cli(database, "traces")] == [(listed["trace_id"], "ended")]

        wait_until(replaced, PROCESS_TIMEOUT_S, "the ended request span to replace the running one")
    finally:
        server.send_signal(signal.SIGTERM)
        code, _, err = finish(server)
    assert code in (0, -signal.SIGTERM), err
    assert "Traceback" not in err, err
    assert cli(database, "traces", "--running") == []
    return listed, int(result[0].json()["pid"]), int(writer_pid)


def test_a_request_in_flight_under_instrumented_uvicorn_is_listed_running(tmp_path: Path) -> None:
    """`opentelemetry-instrument uvicorn app:app`: the FastAPI instrumentation's server span of a request
    still in flight is listed running; when the response is sent its ended row replaces it."""
    command = [str(BIN / "uvicorn"), "--uds", "app.sock", "--log-level", "warning", "app:app"]
    listed, served_by, writer = _serve_one_slow_request(tmp_path, command)
    assert (listed["root_name"], listed["state"]) == ("GET /slow", "running")
    assert writer == served_by


def test_a_request_in_flight_under_instrumented_gunicorn_workers_is_listed_running(tmp_path: Path) -> None:
    """`opentelemetry-instrument gunicorn -k uvicorn.workers.UvicornWorker -w 2`: the SDK is configured in the
    arbiter and the workers are forked, so the running processor's thread must be restarted in each worker;
    the in-flight request's span is stored running by the worker serving it (its own heartbeat, its pid)."""
    command = [
        str(BIN / "gunicorn"),
        *("-k", "uvicorn.workers.UvicornWorker", "-w", "2", "-b", "unix:app.sock", "--log-level", "warning"),
        "app:app",
    ]
    listed, served_by, writer = _serve_one_slow_request(tmp_path, command)
    assert (listed["root_name"], listed["state"]) == ("GET /slow", "running")
    assert writer == served_by  # the worker, not the arbiter that configured the SDK
