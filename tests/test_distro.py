"""The otel-lens distro: ``opentelemetry-instrument python app.py`` stores locally with no variables at all."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

_APP = """
import logging
from opentelemetry import trace

with trace.get_tracer("app").start_as_current_span("checkout"):
    logging.getLogger("app").warning("card declined")
print("app says hi")
"""


def test_instrument_with_no_variables_stores_spans_and_logs(tmp_path: Path) -> None:
    """With only otel-lens installed, no OTEL_* variable is needed: spans and logs land in the default store."""
    app = tmp_path / "app.py"
    app.write_text(_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    result = subprocess.run(
        [str(instrument), sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app says hi\n"
    assert "Traceback" not in result.stderr
    db = sqlite3.connect(tmp_path / "data" / "otel-lens" / "lens.db")
    assert db.execute("SELECT name FROM lens_spans").fetchall() == [("checkout",)]
    ((body, trace_id, span_trace),) = db.execute(
        "SELECT l.body, l.trace_id, t.trace_id FROM lens_logs l JOIN lens_spans s ON s.span_id = l.span_id "
        "JOIN lens_traces t ON t.id = s.trace_row"
    ).fetchall()
    assert body == '"card declined"'
    assert trace_id == span_trace


def test_user_variables_win_over_the_distro_defaults(tmp_path: Path) -> None:
    """A variable the user set is kept: here traces go to the console exporter, not the store."""
    app = tmp_path / "app.py"
    app.write_text(_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), OTEL_TRACES_EXPORTER="console", OTEL_LOGS_EXPORTER="none")
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    result = subprocess.run(
        [str(instrument), sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert '"name": "checkout"' in result.stdout  # the console exporter prints spans to stdout
    assert not (tmp_path / "data" / "otel-lens" / "lens.db").exists()
