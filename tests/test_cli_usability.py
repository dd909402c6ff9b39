"""Papercuts a first-time user of the CLI and read API hit: each test pins the fixed behaviour."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.settings import Settings
from tests._read_helpers import build_sample, recorder


def test_show_says_an_exception_once(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """A span that raised has status "ValueError: bad thing" and an exception event saying the same: one line."""
    with recorder(sqlite_settings) as rec:
        tracer = rec.tracer("quickstart")
        with pytest.raises(ValueError), tracer.start_as_current_span("work"):
            raise ValueError("bad thing")
    with open_store(sqlite_settings.database) as store:
        (trace,) = store.traces()
    assert main(["show", trace.trace_id, "--database", sqlite_settings.database]) == 0
    out = capsys.readouterr().out
    assert [line.strip() for line in out.splitlines() if "✗" in line] == ["✗ error: ValueError: bad thing"]
    assert out.count("bad thing") == 2  # the error line, and the raise statement in its stack


def test_show_keeps_a_different_exception_apart_from_the_status(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception whose text differs from the error status is shown as well, marked as an exception."""
    with recorder(sqlite_settings) as rec:
        span = rec.span("shop", "retry", 0, 5, error="gave up after 3 tries")
        span.add_event("exception", {"exception.type": "TimeoutError", "exception.message": "read timed out"})
        rec.end(span)
        trace_id = f"{span.get_span_context().trace_id:032x}"
    assert main(["show", trace_id, "--database", sqlite_settings.database]) == 0
    out = capsys.readouterr().out
    assert "✗ error: gave up after 3 tries" in out
    assert "✗ exception TimeoutError: read timed out" in out


def test_read_api_status_and_start_time_match_the_json_shape(settings: Settings) -> None:
    """SpanRecord.status is the JSON {code, message}; TraceSummary.start_time is the RFC 3339 start."""
    sample = build_sample(settings)
    with open_store(settings.database) as store:
        detail = store.trace(sample.checkout_trace)
        summary = store.traces(status="error")[0]
    charge = next(span for span in detail.spans if span.name == "charge card")
    assert charge.status == {"code": "ERROR", "message": "card declined"}
    assert charge.status == charge.as_dict()["status"]
    assert charge.status_code == "ERROR"  # the flat attributes stay
    assert summary.start_time == "2024-01-01T00:00:01.000000Z" == summary.as_dict()["start_time"]
    assert summary.duration_ms == 250.0


def test_logs_separate_service_and_logger(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """logs text output shows service/logger, not the two run together ("quickstart quickstart: …")."""
    with recorder(sqlite_settings) as rec:
        rec.log("quickstart", None, 0, SeverityNumber.INFO, "hello", logger="quickstart")
    assert main(["logs", "--database", sqlite_settings.database]) == 0
    out = capsys.readouterr().out
    assert "quickstart/quickstart: hello" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["traces", "--json"], 3),
        (["logs", "--json"], 4),
        (["stats", "--json"], 7),
        (["usage", "--json"], 1),
        (["traces", "--json", "--min-duration", "99999999d"], 0),
    ],
)
def test_a_huge_window_means_everything(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], expected: int
) -> None:
    """--since 99999999d (before 1970) is clamped to the epoch: every record, no OverflowError."""
    build_sample(sqlite_settings)
    code = main([*argv, "--since", "99999999d", "--database", sqlite_settings.database])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(json.loads(out)) == expected


def test_export_with_a_huge_window_exports_everything(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """export --since 99999999d gives every trace."""
    build_sample(sqlite_settings)
    assert main(["export", "--since", "99999999d", "--database", sqlite_settings.database]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_read_api_clamps_huge_and_pre_epoch_windows(settings: Settings) -> None:
    """The read API takes a window past 1970, a datetime before it, and one after 2262, without overflow."""
    build_sample(settings)
    with open_store(settings.database) as store:
        assert len(store.traces(since="99999999d")) == 3
        assert len(store.traces(since=float("1e300"))) == 3
        assert len(store.traces(since=dt.datetime(1900, 1, 1))) == 3
        assert store.traces(since=dt.datetime(9999, 1, 1)) == []
        assert store.traces(min_duration="9" * 400 + "d") == []
        assert len(store.logs(since="99999999d")) == 4


def test_prune_with_a_huge_max_age_keeps_everything(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """prune --max-age 99999999d deletes nothing and does not fail; the same age as a setting is refused clearly."""
    build_sample(sqlite_settings)
    database = sqlite_settings.database
    assert main(["prune", "--max-age", "99999999d", "--max-size", "0", "--json", "--database", database]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["traces_deleted"] == 0
    # As a setting, such an age is refused where it is configured, with a one-line reason (0 keeps forever).
    monkeypatch.setenv("OTEL_EXPORTER_LENS_RETENTION", "99999999d")
    assert main(["prune", "--max-size", "0", "--json", "--database", database]) == 1
    err = capsys.readouterr().err
    assert "OTEL_EXPORTER_LENS_RETENTION" in err and "100 years" in err and "Traceback" not in err
    with open_store(database) as store:
        assert len(store.traces()) == 3


def test_prune_reads_only_the_settings_it_uses(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad log format, body size or sweep interval does not stop prune or a read; a bad retention does."""
    build_sample(sqlite_settings)
    database = sqlite_settings.database
    monkeypatch.setenv("OTEL_EXPORTER_LENS_LOG_FORMAT", "xml")
    monkeypatch.setenv("OTEL_EXPORTER_LENS_MAX_BODY_SIZE", "huge")
    monkeypatch.setenv("OTEL_EXPORTER_LENS_SWEEP_INTERVAL", "often")
    monkeypatch.setenv("OTEL_EXPORTER_LENS_CAPTURE_BODIES", "perhaps")
    assert main(["prune", "--max-age", "3d", "--max-size", "500MB", "--database", database]) == 0
    assert capsys.readouterr().out.startswith("deleted 3 traces")
    assert main(["traces", "--database", database]) == 0
    monkeypatch.setenv("OTEL_EXPORTER_LENS_RETENTION", "forever")
    assert main(["prune", "--database", database]) == 1
    assert "OTEL_EXPORTER_LENS_RETENTION='forever'" in capsys.readouterr().err


def test_database_and_json_before_or_after_the_command(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--database and --json work before the command as after it; given in both places, the later one wins."""
    sample = build_sample(sqlite_settings)
    database = sqlite_settings.database
    assert main(["--database", database, "--json", "traces"]) == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)][-1] == sample.users_trace
    assert main(["--database", str(tmp_path / "other.db"), "traces", "--database", database]) == 0
    assert "GET /users/{id}" in capsys.readouterr().out
    assert main(["--database", database, "traces", "--database", str(tmp_path / "other.db")]) == 1
    assert str(tmp_path / "other.db") in capsys.readouterr().err


def test_an_unknown_flag_prints_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """traces --bogus is a usage error showing the traces usage (its flags), not the top-level one."""
    with pytest.raises(SystemExit) as exit_:
        main(["traces", "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("usage: otel-lens traces") and "--min-duration" in err
    assert "otel-lens traces: error: unrecognized arguments: --bogus" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """otel-lens --version prints the installed version."""
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"otel-lens {importlib.metadata.version('otel-lens')}"


@pytest.mark.parametrize("where", ["before", "after"])
def test_an_empty_database_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str], where: str) -> None:
    """--database "" is refused as a usage error instead of silently reading the default database."""
    argv = ["--database", "", "traces"] if where == "before" else ["traces", "--database", "  "]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "argument --database: is empty" in capsys.readouterr().err


def test_help_shows_the_real_default_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--help names the default database path as resolved now (honouring XDG_DATA_HOME)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data%home"))
    with pytest.raises(SystemExit):
        main(["traces", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps the long path anywhere
    assert f"else{tmp_path / 'data%home' / 'otel-lens' / 'lens.db'}" in help_text


def test_export_defaults_to_otlp_json_and_ignores_json(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """export needs no --format (otlp-json is the one and default format; still accepted); --json changes nothing."""
    build_sample(sqlite_settings)
    database = sqlite_settings.database
    outputs = []
    for argv in (["export"], ["export", "--format", "otlp-json"], ["export", "--json"], ["--json", "export"]):
        assert main([*argv, "--database", database]) == 0
        outputs.append(capsys.readouterr().out)
    assert len(outputs[0].splitlines()) == 3
    assert all(out == outputs[0] for out in outputs)
