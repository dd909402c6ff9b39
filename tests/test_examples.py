"""Every example runs as a script and stores what it says it stores; stdout stays clean (RELIABILITY 25)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests._facade_helpers import free_port, logs, spans

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_env(db_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_LENS_DATABASE"] = str(db_path)
    env.update(extra)
    return env


def run(script: str, db_path: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], input=stdin, env=example_env(db_path), capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    return result


def test_quickstart_stores_and_says_where(db_path: Path) -> None:
    """quickstart.py stores spans and logs in the configured database and tells (on stderr) how to view them."""
    result = run("quickstart.py", db_path)
    assert result.stdout == b""
    err = result.stderr.decode()
    assert str(db_path) in err and "otel-lens traces" in err and "otel-lens show" in err
    names = {s["name"] for s in spans(db_path)}
    assert {"index.build", "tokenize", "search"} <= names
    assert any("indexed 3 documents" in str(entry["body"]) for entry in logs(db_path))


def test_quickstart_defaults_to_the_xdg_database(tmp_path: Path) -> None:
    """Without OTEL_EXPORTER_LENS_DATABASE the data goes to $XDG_DATA_HOME/otel-lens/lens.db."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    default = tmp_path / "xdg" / "otel-lens" / "lens.db"
    assert spans(default) and str(default) in result.stderr.decode()


def test_existing_setup_keeps_the_console_exporter(db_path: Path) -> None:
    """existing_setup.py: the app's console exporter prints every span and otel-lens stores the same spans."""
    result = run("existing_setup.py", db_path)
    assert result.stdout == b""
    printed = set(re.findall(r'"name": "([^"]+)"', result.stderr.decode()))
    stored = {s["name"] for s in spans(db_path)}
    assert {"charge", "handle"} <= printed and stored == printed


def test_mcp_stdio_runs_as_a_script_and_ends_with_its_input(db_path: Path) -> None:
    """mcp_stdio.py (a real MCP server on the mcp SDK) starts, ends cleanly when its client closes stdin, and
    writes nothing to stdout by itself. The protocol itself: tests/test_real_mcp_stdio.py."""
    result = run("mcp_stdio.py", db_path)
    assert result.stdout == b""


def test_fastapi_example_under_uvicorn_stores_on_sigterm(db_path: Path) -> None:
    """fastapi_app.py served by uvicorn: requests are stored as server → route → function spans, flushed on SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "fastapi_app.py")],
        env=example_env(db_path, PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/grep", params={"q": "fox"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.json() == {"query": "fox", "found": ["the quick brown fox"]}
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM), err.decode()  # uvicorn re-raises SIGTERM after its shutdown
    assert out == b""
    stored = spans(db_path)
    by_id = {s["span_id"]: s for s in stored}
    (grep,) = [s for s in stored if s["name"] == "engine.grep"]
    route = by_id[grep["parent_span_id"]]
    assert route["attributes"]["lens.route"] == "GET /grep"
    root = route
    while root["parent_span_id"] is not None:
        root = by_id[root["parent_span_id"]]
    assert root["kind"] == 1  # the server span
    assert [entry["span_id"] for entry in logs(db_path) if "grep" in str(entry["body"])] == [grep["span_id"]]


def test_instrument_cli_recipe(db_path: Path, tmp_path: Path) -> None:
    """instrument_cli.md: ``opentelemetry-instrument`` with the ``lens`` exporters stores the app's spans."""
    recipe = (EXAMPLES / "instrument_cli.md").read_text()
    app_source = recipe.split("cat > app.py <<'PY'\n", 1)[1].split("PY\n", 1)[0]
    (tmp_path / "app.py").write_text(app_source)
    command = recipe.rsplit("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()[-1]
    variables = dict(part.split("=", 1) for part in command.split() if "=" in part)
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    result = subprocess.run(
        [str(instrument), sys.executable, "app.py"],
        cwd=tmp_path,
        env=example_env(db_path, **variables),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    assert [s["name"] for s in spans(db_path)] == ["hello"]
