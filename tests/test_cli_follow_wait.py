"""logs --follow started before the application stored anything waits for the database, then follows it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from otel_lens.cli import _wait, main
from tests.test_cli_reliability import _WRITE_ONE_LOG


def test_follow_waits_for_a_missing_database_then_follows(tmp_path: Path) -> None:
    """--follow on a database that does not exist yet says once on a terminal it waits, then prints what is stored."""
    database = tmp_path / "later" / "lens.db"
    controller, terminal = pty.openpty()  # stderr on a terminal, as when a person runs it
    with subprocess.Popen(
        [sys.executable, "-m", "otel_lens", "logs", "--follow", "--json", "--database", str(database)],
        stdout=subprocess.PIPE, stderr=terminal, text=True,
    ) as proc:  # fmt: skip
        os.close(terminal)
        timer = threading.Timer(60, proc.kill)  # a hung follower fails the test instead of hanging it
        timer.start()
        try:
            note = _read_line(controller)
            assert note == f"waiting for {database} to appear…"
            database.parent.mkdir()
            writer = subprocess.run(
                [sys.executable, "-c", _WRITE_ONE_LOG, str(database)], capture_output=True, text=True, timeout=60
            )
            assert writer.returncode == 0, writer.stderr
            assert proc.stdout is not None
            assert '"written by another process"' in proc.stdout.readline()
            assert proc.poll() is None  # still following
        finally:
            timer.cancel()
            proc.terminate()
            proc.wait()
            os.close(controller)


def test_follow_waits_quietly_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    """Piped, the follower waits without a word on stderr."""
    database = tmp_path / "lens.db"
    with subprocess.Popen(
        [sys.executable, "-m", "otel_lens", "logs", "--follow", "--database", str(database)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        timer = threading.Timer(60, proc.kill)
        timer.start()
        try:
            writer = subprocess.run(
                [sys.executable, "-c", _WRITE_ONE_LOG, str(database)], capture_output=True, text=True, timeout=60
            )
            assert writer.returncode == 0, writer.stderr
            assert proc.stdout is not None
            assert "written by another process" in proc.stdout.readline()
        finally:
            timer.cancel()
            proc.terminate()
        _, err = proc.communicate()
    assert err == ""


def _read_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def test_follow_still_refuses_a_foreign_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Waiting is for a database not there yet; a file that is something else fails at once in one line."""
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database at all, just some notes that happen to be long enough " * 10)
    assert main(["logs", "--follow", "--database", str(foreign)]) == 1
    assert capsys.readouterr().err.startswith("otel-lens: error:")


def test_ctrl_c_while_waiting_exits_130_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while waiting for the database exits 130 with nothing on stderr (not a terminal)."""

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_wait.time, "sleep", interrupted)  # the user presses Ctrl-C during the first wait
    assert main(["logs", "--follow", "--database", str(tmp_path / "missing.db")]) == 130
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "missing.db").exists()
