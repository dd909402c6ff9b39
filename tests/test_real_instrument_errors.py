"""Unusable storage and bad settings under ``opentelemetry-instrument``: one clear line, never a traceback.

Issue 8 ("smaller ones"): a database that could not be created printed ~30 traceback lines and left the
app uninstrumented. Storage that cannot be opened must not stop the application (one warning naming the
path; the app runs, nothing is stored); a setting that does not parse stops the start with one line.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests._instrument import INSTRUMENT, instrument_env
from tests._reliability import PROCESS_TIMEOUT_S, write_script

pytestmark = pytest.mark.slow

_APP = """
    import logging
    import sqlite3
    from opentelemetry import trace

    with trace.get_tracer("app").start_as_current_span("checkout"):
        logging.getLogger("app").warning("card declined")
        sqlite3.connect(":memory:").execute("SELECT 1")
    print("app ran")
"""


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    app = write_script(tmp_path, "app.py", _APP)
    return subprocess.run(
        [INSTRUMENT, sys.executable, str(app)],
        cwd=tmp_path,
        env={**instrument_env(tmp_path / "lens.db"), **env},
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )


@pytest.mark.parametrize("case", ["parent-is-a-file", "path-is-a-directory"])
def test_database_that_cannot_be_opened_warns_once_and_the_app_runs(tmp_path: Path, case: str) -> None:
    """A database whose directory cannot be made, or whose path is a directory: exactly one stderr line naming
    the path (the app's own warning aside), the app runs to its normal end, and no file is created."""
    (tmp_path / "a-file").write_text("not a directory")
    database = tmp_path / "a-file" / "sub" / "lens.db" if case == "parent-is-a-file" else tmp_path / "dir.db"
    if case == "path-is-a-directory":
        database.mkdir()
    result = _run(tmp_path, OTEL_EXPORTER_LENS_DATABASE=str(database))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app ran\n"
    lines = [line for line in result.stderr.splitlines() if line != "card declined"]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otel-lens: spans and logs will not be stored:") and str(database) in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a-file" / "sub").exists() and list(database.parent.glob("*.db-*")) == []


@pytest.mark.parametrize(("value", "hint"), [("banana", "e.g. 7d"), ("7", "7d")])
def test_bad_setting_stops_with_one_line_naming_it(tmp_path: Path, value: str, hint: str) -> None:
    """OTEL_EXPORTER_LENS_RETENTION=banana, or =7 (no unit: read as 7 seconds it deleted everything at each
    sweep): one stderr line naming the variable and a valid value, the app does not run (a typo must not
    silently keep or delete data), exit status 2."""
    result = _run(tmp_path, OTEL_EXPORTER_LENS_RETENTION=value)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"OTEL_EXPORTER_LENS_RETENTION={value!r}" in result.stderr and hint in result.stderr
    assert not (tmp_path / "lens.db").exists()


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("OTEL_BSP_SCHEDULE_DELAY", "soon", "e.g. 500"),
        ("OTEL_BSP_SCHEDULE_DELAY", "0", "e.g. 500"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "1.5", "e.g. 65536"),
    ],
)
def test_bad_batch_variable_stops_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, example: str
) -> None:
    """A batch-processor variable the SDK cannot use (not a whole number, or not positive): one stderr line
    naming it and a valid value, the app does not run, exit status 2, as for a bad OTEL_EXPORTER_LENS_* setting.
    The SDK alone would log a ValueError traceback and run with its own 5 s delay (or, for 0, leave the app
    uninstrumented after another traceback)."""
    result = _run(tmp_path, **{variable: value})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{variable}={value!r}" in result.stderr and example in result.stderr
    assert not (tmp_path / "lens.db").exists()


@pytest.mark.parametrize("setting", ["small-queue", "empty-delay"])
def test_batch_values_the_sdk_refuses_but_configure_takes_run_and_store(tmp_path: Path, setting: str) -> None:
    """A span queue smaller than the SDK's default batch (512), or an empty OTEL_BSP_SCHEDULE_DELAY (unset, as
    the spec reads it): the app runs and its span and log are stored, with no traceback (the SDK alone refuses
    the first with a ValueError that leaves the app uninstrumented, and fails to parse the second)."""
    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "100"} if setting == "small-queue" else {"OTEL_BSP_SCHEDULE_DELAY": ""}
    result = _run(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app ran\n"
    assert "Traceback" not in result.stderr, result.stderr
    with sqlite3.connect(tmp_path / "lens.db") as conn:
        spans = conn.execute("SELECT count(*) FROM lens_spans WHERE name = 'checkout'").fetchone()[0]
        logs = conn.execute("SELECT count(*) FROM lens_logs WHERE trace_id IS NOT NULL").fetchone()[0]
    assert (spans, logs) == (1, 1)


def test_a_misspelt_variable_is_warned_about_once_naming_the_closest(tmp_path: Path) -> None:
    """OTEL_EXPORTER_LENS_DATABSE was ignored without a word (the data went to another database): under
    ``opentelemetry-instrument`` the app runs and stores as before, and one stderr line names the unknown
    variable and the known one it is closest to (not once per exporter reading the settings)."""
    result = _run(tmp_path, OTEL_EXPORTER_LENS_DATABSE=str(tmp_path / "meant.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app ran\n"
    lines = [line for line in result.stderr.splitlines() if line != "card declined"]
    assert lines == [
        "otel-lens: OTEL_EXPORTER_LENS_DATABSE is not an otel-lens setting and is ignored; "
        "did you mean OTEL_EXPORTER_LENS_DATABASE?"
    ], result.stderr
    assert (tmp_path / "lens.db").exists() and not (tmp_path / "meant.db").exists()
