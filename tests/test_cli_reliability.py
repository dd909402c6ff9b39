"""RELIABILITY 24 and 19 for the reading side: bad databases get one line and a non-zero exit, reads never
create or change a file, and hostile filters are bound parameters matched literally."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.settings import Settings
from otel_lens.store.errors import NotALensDatabase, StoreError
from tests._read_helpers import ChosenIdGenerator, build_sample, recorder

READING = [
    ["traces"],
    ["traces", "--errors", "--service", "shop", "--since", "100000d", "--min-duration", "1ms"],
    ["show", "00000000000000000000000000000002"],
    ["show", "00000000000000000000000000000002", "--json"],
    ["logs", "--search", "render", "--level", "info"],
    ["logs", "--trace", "00000000000000000000000000000001", "--json"],
    ["stats", "--since", "100000d"],
    ["stats", "--by", "service", "--json"],
    ["usage", "--since", "100000d", "--by", "service"],
    ["export", "--format", "otlp-json"],
]


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m otel_lens`` as a separate process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "otel_lens", *argv], capture_output=True, text=True, timeout=60, env=env
    )


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file in ``directory`` with a digest of its bytes and its mtime."""
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())
    }


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture
def closed_store(sqlite_settings: Settings, db_path: Path) -> Path:
    """A sample store whose writers have all closed (so no -wal or -shm file is left)."""
    build_sample(sqlite_settings)
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["lens.db"]
    return db_path


def test_reading_commands_never_create_or_change_files(closed_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every reading command leaves the directory byte-for-byte and mtime-for-mtime as it was (no -wal, no -shm)."""
    before = snapshot(closed_store.parent)
    for argv in READING:
        assert main([*argv, "--database", str(closed_store)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""
    assert snapshot(closed_store.parent) == before


def test_reading_beside_a_live_writer_changes_nothing(sqlite_settings: Settings, closed_store: Path) -> None:
    """With a writer holding the database open, reads see its new data and leave the main file untouched."""
    with recorder(sqlite_settings, ChosenIdGenerator([0x100])) as rec:
        rec.end(rec.span("live", "while reading", 0, 1))
        main_file = (hashlib.sha256(closed_store.read_bytes()).hexdigest(), closed_store.stat().st_mtime_ns)
        names = sorted(p.name for p in closed_store.parent.iterdir())
        with open_store(str(closed_store)) as store:
            assert store.traces(service="live")[0].root_name == "while reading"
            for argv in READING:
                assert main([*argv, "--database", str(closed_store)]) == 0
        assert (hashlib.sha256(closed_store.read_bytes()).hexdigest(), closed_store.stat().st_mtime_ns) == main_file
        assert sorted(p.name for p in closed_store.parent.iterdir()) == names


def test_a_write_during_an_immutable_read_is_seen_on_the_next_read(
    sqlite_settings: Settings, closed_store: Path
) -> None:
    """A store opened with no writer around still sees spans a writer stores later."""
    with open_store(str(closed_store)) as store:
        assert store.traces(service="late") == []
        with recorder(sqlite_settings, ChosenIdGenerator([0x200])) as rec:
            rec.end(rec.span("late", "arrived", 0, 1))
        assert [t.root_name for t in store.traces(service="late")] == ["arrived"]


def test_missing_database_is_refused_and_not_created(tmp_path: Path) -> None:
    """A missing database: exit ≠ 0, one line naming it, and no file or directory appears."""
    missing = tmp_path / "nowhere" / "lens.db"
    for argv in (
        ["traces"],
        ["show", "abc"],
        ["logs"],
        ["stats"],
        ["usage"],
        ["prune"],
        ["export", "--format", "otlp-json"],
    ):
        assert_one_line_failure(cli(*argv, "--database", str(missing)), str(missing))
    assert not missing.parent.exists()


def test_default_database_comes_from_the_environment(tmp_path: Path) -> None:
    """Without --database the CLI reads OTEL_EXPORTER_LENS_DATABASE, else the XDG default, creating neither."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("OTEL_EXPORTER_LENS_DATABASE", None)
    assert_one_line_failure(cli("traces", env=env), str(tmp_path / "xdg" / "otel-lens" / "lens.db"))
    env["OTEL_EXPORTER_LENS_DATABASE"] = str(tmp_path / "env.db")
    assert_one_line_failure(cli("traces", env=env), str(tmp_path / "env.db"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_foreign_and_random_files_are_refused_unchanged(tmp_path: Path) -> None:
    """Random bytes, another application's SQLite, and an empty file: refused in one line, bytes unchanged."""
    random_file = tmp_path / "random.db"
    random_file.write_bytes(os.urandom(8192))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    empty = tmp_path / "empty.db"
    empty.touch()
    before = snapshot(tmp_path)
    assert_one_line_failure(cli("traces", "--database", str(random_file)), "not an otel-lens database")
    assert_one_line_failure(cli("stats", "--database", str(other)), "not an otel-lens database")
    assert_one_line_failure(cli("logs", "--database", str(empty)), "empty")
    assert_one_line_failure(cli("prune", "--database", str(other)), "not an otel-lens database")
    assert snapshot(tmp_path) == before
    with pytest.raises(NotALensDatabase):
        open_store(other)


def test_corrupt_database_is_one_line(closed_store: Path) -> None:
    """A database whose pages were overwritten: one line saying it is corrupt (or not a database), no traceback."""
    data = bytearray(closed_store.read_bytes())
    page = 4096
    data[page : len(data)] = os.urandom(len(data) - page)
    closed_store.write_bytes(bytes(data))
    for argv in (["traces"], ["show", "0" * 31 + "1"], ["stats", "--since", "100000d"]):
        result = cli(*argv, "--database", str(closed_store))
        assert_one_line_failure(result, str(closed_store))
        assert any(word in result.stderr for word in ("corrupt", "malformed", "not a database", "not an otel-lens"))


@pytest.mark.slow
def test_locked_database_is_one_line(closed_store: Path) -> None:
    """A database held in exclusive locking mode by another process: one line saying it is locked."""
    holder = sqlite3.connect(closed_store, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM lens_meta WHERE key = 'nothing'")
    try:
        assert_one_line_failure(cli("traces", "--database", str(closed_store)), "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_unknown_or_ambiguous_trace_is_a_clear_message(closed_store: Path) -> None:
    """show of an unknown id or an ambiguous prefix: exit 1 and one line saying which."""
    assert_one_line_failure(cli("show", "f" * 32, "--database", str(closed_store)), "no trace " + "f" * 32)
    assert_one_line_failure(cli("show", "000", "--database", str(closed_store)), "ambiguous")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["traces", "--since", "yesterday"], "--since"),
        (["traces", "--limit", "0"], "--limit"),
        (["traces", "--limit", "ten"], "--limit"),
        (["logs", "--limit", "1; DROP TABLE lens_logs"], "--limit"),
        (["logs", "--since", "-1h"], "--since"),
        (["traces", "--min-duration", "fast"], "--min-duration"),
        (["stats", "--by", "name; DROP TABLE lens_spans"], "--by"),
        (["show", "not-hex"], "TRACE_ID"),
        (["prune", "--max-size", "lots"], "--max-size"),
    ],
)
def test_bad_flag_values_are_usage_errors_naming_the_flag(closed_store: Path, argv: list[str], flag: str) -> None:
    """A bad --since/--limit/... value exits 2 with argparse's usage error naming the flag."""
    result = cli(*argv, "--database", str(closed_store))
    assert result.returncode == 2
    assert f"argument {flag}" in result.stderr and "Traceback" not in result.stderr


def test_hostile_values_are_stored_and_matched_literally(sqlite_settings: Settings, db_path: Path) -> None:
    """SQL in names, attributes and filters is data: stored and matched literally, tables intact (RELIABILITY 19)."""
    hostile = "x'); DROP TABLE lens_spans; --"
    with recorder(sqlite_settings) as rec:
        span = rec.span(hostile, hostile, 0, 5, attributes={"http.route": hostile, hostile: "' OR 1=1 --"})
        rec.log(hostile, span, 1, rec_severity(), f"100% done_{hostile}")
        rec.end(span)
        rec.end(rec.span("plain", "plain", 10, 20))
        rec.log("plain", None, 11, rec_severity(), "1000 done")
    with open_store(db_path) as store:
        (trace,) = store.traces(service=hostile)
        assert trace.root_name == hostile
        assert store.traces(service="x' OR '1'='1") == []
        assert store.traces(name="' OR ''='") == []
        assert store.trace(trace.trace_id).spans[0].attributes == {"http.route": hostile, hostile: "' OR 1=1 --"}
        assert [log.body for log in store.logs(search="100%")] == [f"100% done_{hostile}"]
        assert [log.body for log in store.logs(search="0% done")] == [f"100% done_{hostile}"]
        assert [log.body for log in store.logs(search="_x')")] == [f"100% done_{hostile}"]
        assert store.logs(search="1_00") == [] and store.logs(search="%%") == []
        assert [log.body for log in store.logs(search="!")] == []
        assert {row.key for row in store.stats(since=None)} == {hostile, "plain"}
    with sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM lens_spans").fetchone() == (2,)
    conn.close()


def rec_severity():  # type: ignore[no-untyped-def]
    from opentelemetry._logs import SeverityNumber

    return SeverityNumber.INFO


def test_prune_is_the_one_command_that_writes(sqlite_settings: Settings, closed_store: Path) -> None:
    """prune --max-age deletes old traces and logs and reports what it reclaimed; JSON has the counts."""
    result = cli("prune", "--max-age", "1d", "--json", "--database", str(closed_store))
    assert result.returncode == 0, result.stderr
    import json

    summary = json.loads(result.stdout)
    assert (summary["traces_deleted"], summary["spans_deleted"], summary["logs_deleted"]) == (3, 7, 4)
    with open_store(closed_store) as store:
        assert store.traces() == [] and store.logs() == []
    text = cli("prune", "--max-age", "0", "--max-size", "0", "--database", str(closed_store))
    assert text.returncode == 0 and text.stdout.startswith("deleted 0 traces")


def test_stdout_is_only_the_requested_output(closed_store: Path) -> None:
    """Progress and notes go to stderr, and only on a terminal: piped export is pure OTLP/JSON lines."""
    result = cli("export", "--format", "otlp-json", "--database", str(closed_store))
    assert result.returncode == 0 and result.stderr == ""
    assert len(result.stdout.splitlines()) == 3
    assert all(line.startswith('{"resourceSpans":') for line in result.stdout.splitlines())


def test_console_script_entry_point_runs(closed_store: Path) -> None:
    """The installed otel-lens script and python -m otel_lens print the same thing."""
    script = Path(sys.executable).with_name("otel-lens")
    direct = subprocess.run([str(script), "traces", "--database", str(closed_store)], capture_output=True, text=True)
    assert direct.returncode == 0
    assert direct.stdout == cli("traces", "--database", str(closed_store)).stdout


def test_follow_prints_records_other_processes_store(sqlite_settings: Settings, closed_store: Path) -> None:
    """logs --follow prints the latest records, then each one another process stores afterwards."""
    with subprocess.Popen(
        [sys.executable, "-m", "otel_lens", "logs", "--follow", "--json", "--limit", "2", "--database",
         str(closed_store)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as proc:  # fmt: skip
        timer = threading.Timer(60, proc.kill)  # a hung follower fails the test instead of hanging it
        timer.start()
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline(), proc.stdout.readline()]
            assert '"payment failed"' in lines[0] and '"checkout queue drained"' in lines[1]
            writer = subprocess.run(
                [sys.executable, "-c", _WRITE_ONE_LOG, str(closed_store)], capture_output=True, text=True, timeout=60
            )
            assert writer.returncode == 0, writer.stderr
            assert '"written by another process"' in proc.stdout.readline()
        finally:
            timer.cancel()
            proc.terminate()


_WRITE_ONE_LOG = """
import sys
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from otel_lens.export.logs import LensLogExporter
provider = LoggerProvider(shutdown_on_exit=False)
provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(database=sys.argv[1], sweep_interval=0)))
provider.get_logger("other").emit(severity_number=SeverityNumber.WARN, body="written by another process")
provider.shutdown()
"""


def test_store_errors_are_store_error_subclasses(tmp_path: Path) -> None:
    """open_store raises StoreError (one-line str) for a missing file, without creating it."""
    with pytest.raises(StoreError, match="no otel-lens database"):
        open_store(tmp_path / "missing.db")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("command", "total", "what"), [("traces", 3, "traces"), ("logs", 4, "log records")])
def test_a_cut_by_the_limit_is_said_on_stderr(closed_store: Path, command: str, total: int, what: str) -> None:
    """``traces --json`` printed 50 of 1115 traces (``logs`` 200) with nothing said: when the limit cuts the
    output, stdout holds exactly the limit's rows and one stderr line says more matched and how to see them;
    when it does not cut, stderr stays empty (JSON and text view alike)."""
    database = str(closed_store)
    cut = cli(command, "--json", "--limit", str(total - 1), "--database", database)
    assert cut.returncode == 0, cut.stderr
    assert len(json.loads(cut.stdout)) == total - 1
    assert (
        cut.stderr == f"otel-lens: showing the newest {total - 1} {what}; more match (use --limit N, up to 1000000)\n"
    )
    text = cli(command, "--limit", str(total - 1), "--database", database)
    assert text.returncode == 0 and text.stderr == cut.stderr and text.stdout.strip()
    whole = cli(command, "--json", "--limit", str(total), "--database", database)
    assert whole.returncode == 0 and whole.stderr == ""
    assert len(json.loads(whole.stdout)) == total
