"""``opentelemetry-instrument`` with the ``lens`` exporters: the app's spans and logs are stored, stdout untouched."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from otel_lens.store.codec import loads
from tests._reliability import PROCESS_TIMEOUT_S, child_env, write_script

pytestmark = pytest.mark.slow

_APP = """
    import logging
    from opentelemetry import trace

    tracer = trace.get_tracer("instrumented-app")
    for number in range(5):
        with tracer.start_as_current_span(f"job {number}") as span:
            span.set_attribute("job.number", number)
            with tracer.start_as_current_span("step"):
                logging.getLogger("app").warning("job %d ran", number)
    print("app output line 1")
    print("app output line 2")
"""


def test_opentelemetry_instrument_stores_spans_and_logs_and_keeps_stdout_clean(tmp_path: Path, db_path: Path) -> None:
    """Scenarios 25 (and the issue's opentelemetry-instrument test): running an app under
    ``opentelemetry-instrument`` with OTEL_TRACES_EXPORTER=lens OTEL_LOGS_EXPORTER=lens stores its spans and its
    stdlib logs (with their span context), and the app's stdout holds exactly what the app printed. The logs
    go through opentelemetry-instrumentation-logging (installed here), not the SDK's deprecated handler:
    nothing about a deprecated handler is printed or stored."""
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    env = child_env(
        OTEL_TRACES_EXPORTER="lens",
        OTEL_LOGS_EXPORTER="lens",
        OTEL_METRICS_EXPORTER="none",
        OTEL_SERVICE_NAME="instrumented-app",
        OTEL_EXPORTER_LENS_DATABASE=str(db_path),
    )
    result = subprocess.run(
        [str(instrument), sys.executable, str(write_script(tmp_path, "app.py", _APP))],
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app output line 1\napp output line 2\n"
    assert "deprecated" not in result.stderr.lower() and "LoggingHandler" not in result.stderr, result.stderr

    with sqlite3.connect(db_path) as conn:
        spans = dict(conn.execute("SELECT name, count(*) FROM lens_spans GROUP BY name").fetchall())
        services = {row[0] for row in conn.execute("SELECT service FROM lens_traces")}
        logs = conn.execute("SELECT body, trace_id IS NOT NULL FROM lens_logs ORDER BY timestamp_ns").fetchall()
    assert spans == {**{f"job {n}": 1 for n in range(5)}, "step": 5}
    assert services == {"instrumented-app"}
    assert [(loads(body), linked) for body, linked in logs] == [(f"job {n} ran", 1) for n in range(5)]
