"""Stdlib logging on the zero-code path: stored once, with trace ids, without the SDK's deprecated handler.

Issue 8: the distro turned on ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``, the SDK's deprecated
``LoggingHandler``, which stored a deprecation notice at every start. Now opentelemetry-instrumentation-logging
bridges the records where it is installed, and otel-lens' own handler does where it is not (a plain
``pip install otel-lens``); the second case runs in a virtualenv that sees every package of this one
except opentelemetry-instrumentation-logging.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from otel_lens.store.codec import loads
from tests._instrument import instrument_env
from tests._reliability import PROCESS_TIMEOUT_S, write_script

pytestmark = pytest.mark.slow

_APP = """
    import logging
    import sys
    from opentelemetry import trace

    if "--configure" in sys.argv:
        import otel_lens
        otel_lens.configure()  # beside the distro: must not add a second logs path
    with trace.get_tracer("app").start_as_current_span("checkout") as span:
        logging.getLogger("app").warning("card declined")
        print(format(span.get_span_context().trace_id, "032x"))
"""


_COUNT_LOGGING_INSTRUMENTORS = (
    "import importlib.metadata as m; print(len(m.entry_points(group='opentelemetry_instrumentor', name='logging')))"
)
_INSTRUMENT = "from opentelemetry.instrumentation.auto_instrumentation import run; run()"


def _venv_without(tmp_path: Path, distribution: str) -> Path:
    """A virtualenv whose site-packages links every entry of this one but ``distribution``'s metadata,
    so entry-point discovery (what ``opentelemetry-instrument`` loads) does not find it. Returns its python."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=PROCESS_TIMEOUT_S)
    ours = Path(next(p for p in sys.path if p.endswith("site-packages")))
    theirs = venv / "lib" / ours.parent.name / "site-packages"
    for entry in ours.iterdir():
        if not entry.name.startswith(f"{distribution}-"):
            (theirs / entry.name).symlink_to(entry)
    return venv / "bin" / "python"


def _run(tmp_path: Path, db_path: Path, python: Path, configure: bool, **env: str) -> tuple[str, str]:
    app = write_script(tmp_path, "app.py", _APP)
    # What the opentelemetry-instrument script runs, with this python (the script's own shebang names one).
    command = [str(python), "-c", _INSTRUMENT, str(python), str(app)]
    result = subprocess.run(
        [*command, *(["--configure"] if configure else [])],
        cwd=tmp_path,
        env=instrument_env(db_path, **env),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


def _stored_logs(db_path: Path) -> list[tuple[object, str | None]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT body, lower(hex(trace_id)) FROM lens_logs ORDER BY timestamp_ns").fetchall()
    return [(loads(body), trace) for body, trace in rows]


@pytest.mark.parametrize("configure", [False, True], ids=["distro", "distro+configure"])
def test_logs_go_through_the_logging_instrumentation_once_and_without_deprecation(
    tmp_path: Path, db_path: Path, configure: bool
) -> None:
    """With opentelemetry-instrumentation-logging installed: the record is stored exactly once (also when the
    app calls configure() too), linked to its span, and no deprecation notice is printed or stored."""
    trace_id, stderr = _run(tmp_path, db_path, Path(sys.executable), configure)
    assert "deprecat" not in stderr.lower(), stderr
    assert _stored_logs(db_path) == [("card declined", trace_id)]


@pytest.mark.parametrize("mode", ["distro", "distro+configure", "sdk-handler-chosen"])
def test_without_the_logging_instrumentation_otel_lens_handler_stores_logs_once(
    tmp_path: Path, db_path: Path, mode: str
) -> None:
    """A plain `pip install otel-lens` (no opentelemetry-instrumentation-logging): otel-lens' own handler stores
    the record once with its trace id (also when the app calls configure() too), no deprecation notice appears,
    and Python still prints the warning on stderr as it does without otel-lens (the handler keeps the
    last-resort output). A user who sets OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true gets the SDK's
    handler alone: still one stored record."""
    python = _venv_without(tmp_path, "opentelemetry_instrumentation_logging")
    check = subprocess.run(
        [str(python), "-c", _COUNT_LOGGING_INSTRUMENTORS],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": ""},
        check=True,
    )
    assert check.stdout.strip() == "0"  # the premise: the logging instrumentation is not installed there
    chosen = {"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"} if mode == "sdk-handler-chosen" else {}
    trace_id, stderr = _run(tmp_path, db_path, python, mode == "distro+configure", **chosen)
    assert _stored_logs(db_path) == [("card declined", trace_id)]
    if not chosen:
        assert "deprecat" not in stderr.lower(), stderr
        assert stderr.splitlines().count("card declined") == 1, stderr
