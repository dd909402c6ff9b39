"""otel-lens' own SQL is never traced by the sqlite3 instrumentation that ``opentelemetry-instrument`` enables.

With opentelemetry-instrumentation-sqlite3 installed, every ``sqlite3.connect`` after start-up is traced,
otel-lens' store included (peewee connects through it). Its writes and its retention sweeps must not
become spans (they would be stored, and each stored batch would make the next one). The app's own
sqlite3 work is traced as usual: that is what shows the instrumentation was active.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._instrument import INSTRUMENT, instrument_env, sqlite_statements
from tests._reliability import PROCESS_TIMEOUT_S, write_script

pytestmark = pytest.mark.slow

# As a gunicorn worker does, the work runs in a process forked after start-up, so the store reconnects through
# the instrumented sqlite3.connect. There: spans and logs for the exporter to write, one query of the app's
# own, then it waits until the store's sweeper has run a retention pass (it holds an flock while it prunes).
_APP = """
    import fcntl, logging, os, sqlite3, sys, time
    from opentelemetry import trace

    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    tracer = trace.get_tracer("app")
    for number in range(50):
        with tracer.start_as_current_span(f"job {number}"):
            logging.getLogger("app").warning("job %d", number)
    with tracer.start_as_current_span("own query"):
        sqlite3.connect(":memory:").cursor().execute("SELECT 42").fetchall()
    trace.get_tracer_provider().force_flush()  # the first write starts the sweeper
    lock = sys.argv[1] + "-sweep.lock"
    deadline = time.monotonic() + 60
    while not os.path.exists(lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(lock) as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # waits for the pass in progress to end
    print("swept" if os.path.exists(lock) else "no sweep")
"""


@pytest.mark.parametrize("threading_instrumentation", [True, False], ids=["all", "threading-disabled"])
def test_own_writes_and_sweeps_are_not_traced_under_opentelemetry_instrument(
    tmp_path: Path, db_path: Path, threading_instrumentation: bool
) -> None:
    """Under `opentelemetry-instrument python app.py` with the sqlite3 instrumentation on, in a forked worker:
    the only stored sqlite3 span is the app's `SELECT 42`; no write or retention sweep of otel-lens' own is
    one. Also with the threading instrumentation disabled, which otherwise hands the SDK export's
    suppression on to the sweeper thread: then only otel-lens' own guard keeps its SQL untraced."""
    disabled = {} if threading_instrumentation else {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "threading"}
    app = write_script(tmp_path, "app.py", _APP)
    result = subprocess.run(
        [INSTRUMENT, sys.executable, str(app), str(db_path)],
        cwd=tmp_path,
        env=instrument_env(
            db_path, OTEL_EXPORTER_LENS_SWEEP_INTERVAL="1s", OTEL_EXPORTER_LENS_RETENTION="1d", **disabled
        ),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "swept\n", result.stderr
    assert sqlite_statements(db_path) == ['SELECT: {"db.system":"sqlite","db.statement":"SELECT 42"}']
