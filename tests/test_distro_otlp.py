"""A new user's zero-code path into ``otel-lens serve``: ``opentelemetry-instrument`` with the stock OTLP exporter.

With otel-lens installed its distro is active for every ``opentelemetry-instrument`` run, also one that sends
traces elsewhere: ``OTEL_TRACES_EXPORTER=otlp`` pointed at a real ``otel-lens serve`` must get the app's
spans *and* logs into serve's database, not the logs into the local default store beside it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._instrument import INSTRUMENT
from tests._receiver import lens, serving
from tests._reliability import PROCESS_TIMEOUT_S, child_env, write_script

pytestmark = pytest.mark.slow

_APP = """
    import logging
    from opentelemetry import trace

    with trace.get_tracer("app").start_as_current_span("checkout"):
        logging.getLogger("app").warning("card declined")
    print("done")
"""


def test_otlp_traces_to_serve_bring_their_logs_along(tmp_path: Path) -> None:
    """`OTEL_TRACES_EXPORTER=otlp` (http/protobuf) to `otel-lens serve --database B`, logs exporter unset: the
    span and its log record are both in B, under one trace, and no local default store is created."""
    database = tmp_path / "served.db"
    app = write_script(tmp_path, "app.py", _APP)
    with serving(database) as served:
        env = child_env(
            XDG_DATA_HOME=str(tmp_path / "data"),
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=served.otlp,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_SERVICE_NAME="shop",
        )
        result = subprocess.run(
            [INSTRUMENT, sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S
        )
        assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        (trace,) = lens(database, "traces")
        logs = lens(database, "logs")
    assert (trace["root_name"], trace["service"]) == ("checkout", "shop")
    assert [(log["body"], log["trace_id"]) for log in logs] == [("card declined", trace["trace_id"])]
    assert not (tmp_path / "data" / "otel-lens" / "lens.db").exists()
