"""Receiver test helpers: a real ``otel-lens serve`` with its OTLP port, and the official client process."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests._web import Viewer, serve

CLIENT = Path(__file__).parent / "data" / "otlp_http_client.py"
_ENDPOINT = re.compile(r"OTEL_EXPORTER_OTLP_ENDPOINT=(http://\S+)")


class Served:
    """A running ``otel-lens serve``: ``viewer`` (its URL and process), ``otlp`` (the endpoint it printed), its database."""

    def __init__(self, viewer: Viewer, otlp: str, database: Path) -> None:
        self.viewer = viewer
        self.otlp = otlp
        self.database = database


@contextlib.contextmanager
def serving(database: Path, *args: str) -> Iterator[Served]:
    """``otel-lens serve`` on free ports (viewer and OTLP), until the OTLP line is printed."""
    with serve(database, *args) as viewer:
        deadline = time.monotonic() + 60
        while True:
            found = [m.group(1) for line in list(viewer.stderr_lines) if (m := _ENDPOINT.search(line))]
            if found:
                break
            assert time.monotonic() < deadline and viewer.process.poll() is None, "".join(viewer.stderr_lines)
            time.sleep(0.02)
        yield Served(viewer, found[0], database)


def run_client(endpoint: str, out: Path, compression: str = "none", token: str | None = None) -> dict[str, Any]:
    """Run the official-exporter client process; returns what its in-memory exporters captured."""
    args = [sys.executable, str(CLIENT), endpoint, str(out), compression, *([token] if token else [])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Failed to export" not in result.stderr, result.stderr
    captured: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return captured


def lens(database: Path, *args: str) -> Any:
    """``otel-lens ARGS --json --database DATABASE`` parsed."""
    command = [sys.executable, "-m", "otel_lens", *args, "--json", "--database", str(database)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
