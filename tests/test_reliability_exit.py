"""Process exit (return, sys.exit, SIGTERM under uvicorn) flushes queued spans and logs, in bounded time."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests._reliability import child_env, finish, start_python, wait_until, write_script

pytestmark = pytest.mark.slow

_EXIT_BOUND_S = 30.0  # generous: the point is that exit ends at all while the lock is held
_REQUESTS = 30
_SPANS_PER_REQUEST = 6

# The app's telemetry setup: the SDK's batch processors with a long delay, so everything is still
# queued when the process is told to exit; only the flush at shutdown can store it.
_APP = """
    import logging
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_lens import LensLogExporter, LensSpanExporter

    resource = Resource.create({"service.name": "exit-test"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(LensSpanExporter(), schedule_delay_millis=600_000))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(LensLogExporter(), schedule_delay_millis=600_000)
    )
    tracer = tracer_provider.get_tracer("exit-test")
    logger = logging.getLogger("exit-test")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))


    def handle(path):
        with tracer.start_as_current_span(f"GET {path}"):
            for step in range(SPANS_PER_REQUEST - 1):
                with tracer.start_as_current_span(f"step {step}"):
                    pass
            logger.info("handled %s", path)


    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    # uvicorn (>= 0.29) re-raises SIGTERM with the default handler once it has shut
                    # down, so atexit never runs under it: the app flushes here.
                    tracer_provider.shutdown()
                    logger_provider.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        handle(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
""".replace("SPANS_PER_REQUEST", str(_SPANS_PER_REQUEST))

_PLAIN_EXIT = """
    import sys
    from app import handle

    for number in range(REQUESTS):
        handle(f"/script/{number}")
    if sys.argv[1] == "sys.exit":
        sys.exit(3)
""".replace("REQUESTS", str(_REQUESTS))

_EXIT_ON_SIGNAL = """
    import sys
    from _reliability import wait_for_file
    from app import handle

    for number in range(REQUESTS):
        handle(f"/script/{number}")
    wait_for_file(sys.argv[1])
    sys.exit(0)
""".replace("REQUESTS", str(_REQUESTS))

_HOLD_WRITE_LOCK = """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    open(sys.argv[2], "w").close()
    time.sleep(float(sys.argv[3]))
    conn.rollback()
    time.sleep(600)  # keep the connection until killed
"""


def _env(db_path: Path) -> dict[str, str]:
    return child_env(OTEL_EXPORTER_LENS_DATABASE=str(db_path), OTEL_EXPORTER_LENS_SWEEP_INTERVAL="0s")


def _start_uvicorn(tmp_path: Path, db_path: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    socket = tmp_path / f"{name}.sock"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--uds",
            str(socket),
            "--lifespan",
            "on",
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
        env=_env(db_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: socket.exists() or process.poll() is not None, what="uvicorn's socket")
    assert process.poll() is None, process.communicate()[1]
    return process, socket


def _send_requests(socket: Path, prefix: str) -> None:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://app") as client:
        for number in range(_REQUESTS):
            assert client.get(f"/{prefix}/{number}").text == "ok"


def _stored(db_path: Path) -> tuple[int, int]:
    with sqlite3.connect(db_path) as conn:
        spans = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
        logs = conn.execute("SELECT count(*) FROM lens_logs").fetchone()[0]
    return spans, logs


@pytest.mark.parametrize(("mode", "expected_code"), [("return", 0), ("sys.exit", 3)])
def test_exit_flushes_queued_spans_and_logs(tmp_path: Path, db_path: Path, mode: str, expected_code: int) -> None:
    """Scenario 3: a script that returns or calls sys.exit stores every span and log still queued."""
    write_script(tmp_path, "app.py", _APP)
    result = subprocess.run(
        [sys.executable, str(write_script(tmp_path, "work.py", _PLAIN_EXIT)), mode],
        cwd=tmp_path,
        env=_env(db_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == expected_code, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert _stored(db_path) == (_REQUESTS * _SPANS_PER_REQUEST, _REQUESTS)


def test_sigterm_under_uvicorn_flushes_queued_spans_and_logs(tmp_path: Path, db_path: Path) -> None:
    """Scenario 3: SIGTERM to a uvicorn server stores every span and log its requests queued."""
    write_script(tmp_path, "app.py", _APP)
    server, socket = _start_uvicorn(tmp_path, db_path, "app")
    try:
        _send_requests(socket, "req")
    finally:
        server.send_signal(signal.SIGTERM)
        code, out, err = finish(server)
    assert code == -signal.SIGTERM, err  # uvicorn re-raised the signal after its graceful shutdown
    assert "Traceback" not in err and out == ""
    assert _stored(db_path) == (_REQUESTS * _SPANS_PER_REQUEST, _REQUESTS)


def test_exit_is_bounded_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    """Scenario 3: with the write lock held by another process for good, SIGTERM'd uvicorn still exits within
    a bound (exports give up with a logged warning, no traceback); with the lock held only for a while, a
    sys.exit'ing script waits for it and stores everything."""
    write_script(tmp_path, "app.py", _APP)
    forever_db, brief_db = tmp_path / "forever.db", tmp_path / "brief.db"
    hold = write_script(tmp_path, "hold.py", _HOLD_WRITE_LOCK)
    server, socket = _start_uvicorn(tmp_path, forever_db, "forever")
    blockers = []
    try:
        _send_requests(socket, "req")
        go = tmp_path / "go"
        script = subprocess.Popen(
            [sys.executable, str(write_script(tmp_path, "brief.py", _EXIT_ON_SIGNAL)), go],
            cwd=tmp_path,
            env=_env(brief_db),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Its database must exist before the lock can be taken on it: let it open, then lock both.
        wait_until(lambda: brief_db.exists() and forever_db.exists(), what="both databases")
        for db, seconds in ((forever_db, 600), (brief_db, 3)):
            ready = tmp_path / f"{db.stem}.locked"
            blockers.append(start_python(hold, db, ready, seconds))
            wait_until(ready.exists, what=f"the write lock on {db.name}")
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        go.touch()
        server_code, server_out, server_err = finish(server, timeout=_EXIT_BOUND_S + 30)
        server_elapsed = time.monotonic() - started
        script_code, _, script_err = finish(script)
    finally:
        for process in (server, *blockers):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert server_code == -signal.SIGTERM, server_err
    assert server_elapsed < _EXIT_BOUND_S
    assert "Traceback" not in server_err and server_out == ""
    assert "otel-lens" in server_err and "locked" in server_err
    assert _stored(forever_db) == (0, 0)
    assert script_code == 0, script_err
    assert _stored(brief_db) == (_REQUESTS * _SPANS_PER_REQUEST, _REQUESTS)
