"""``otel-lens traces`` on a real terminal (a pty of 200, 80 and 60 columns): time, root span, duration, spans
and errors always shown, long names cut with "…" instead of columns disappearing (the new-user trial's
80-column terminal lost the time column)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests._web import MS, Demo

LONG_NAME = "GET /api/v1/organizations/{organization_id}/projects/{project_id}/members"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("narrow") / "lens.db"
    demo = Demo(str(path))
    now = time.time_ns()
    try:
        demo.span("billing-service-eu-west", LONG_NAME, now - 50 * MS, now - 10 * MS, error="boom")
        demo.span("shop", "GET /", now - 9 * MS, now - 8 * MS)
    finally:
        demo.close()
    return path


def on_terminal(columns: int, *args: str) -> str:
    """What the real CLI prints on a pty ``columns`` wide (its output, colours stripped)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | {"COLUMNS": str(columns)}
    process = subprocess.Popen([sys.executable, "-m", "otel_lens", *args], stdin=subprocess.DEVNULL,
                               stdout=terminal, stderr=terminal, env=env)  # fmt: skip
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=120) == 0
    return _ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [200, 80, 60])
def test_traces_keep_time_name_duration_spans_errors(database: Path, columns: int) -> None:
    """Every line fits; the header names time, root span, duration, spans and errors; each row has its clock
    time, its name (cut with "…" when it does not fit), duration, span count and error count."""
    out = on_terminal(columns, "traces", "--database", str(database))
    lines = [line for line in out.splitlines() if line.strip()]
    assert all(len(line) <= columns for line in lines), out
    header, rows = lines[0], lines[2:]
    assert header.split()[0] == "time" and all(t in header for t in ("root span", "duration", "spans", "errors"))
    assert len(rows) == 2
    failed = next(row for row in rows if "GET /api" in row)
    assert _CLOCK.search(failed), failed
    assert failed.split()[-3:] == ["40ms", "1", "1"], failed
    assert next(row for row in rows if row is not failed).split()[-2:] == ["1", "0"]
    if columns >= 200:
        assert LONG_NAME in failed and "billing-service-eu-west" in failed and "…" not in out
    else:
        assert "GET /api/v" in failed and "…" in failed and LONG_NAME not in failed
    assert re.search(r"\b[0-9a-f]{12}\b", failed)  # the id `show` takes, also at 60 columns
