"""SIGTERM on the zero-code path: ``opentelemetry-instrument`` + the otel-lens distro under uvicorn and gunicorn.

Issue 8, defect 1: a SIGTERM shortly after the last response lost the requests' spans and logs,
because the SDK's batch processors (built by the SDK configurator, not by otel-lens) hold them for
up to 500 ms and a process ending by SIGTERM runs no atexit. Each run here serves real requests
through the real FastAPI instrumentation and stores into a SQLite file under ``tmp_path``.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests._instrument import BIN, missing, serve_and_terminate

pytestmark = pytest.mark.slow

_REQUESTS = 10


@pytest.mark.parametrize("run", range(2))
def test_sigterm_under_uvicorn_stores_every_span_and_log(tmp_path: Path, db_path: Path, run: int) -> None:
    """`opentelemetry-instrument uvicorn app:app`, SIGTERM 50 ms after the last response: every request's
    server span, app span and log are stored, and uvicorn still ends by SIGTERM as it would without otel-lens."""
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
    assert missing(db_path, served.traces) == []
