"""Logger: stdlib-compatible, stderr text or JSON lines, stored with trace/span ids, never stdout (RELIABILITY 25)."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace

from otel_lens import Lens, Logger, configure
from tests._facade_helpers import logs, otel_globals_restored


@pytest.fixture
def lens(db_path: Path) -> Iterator[Lens]:
    with otel_globals_restored():
        yield configure(database=str(db_path), sweep_interval=0)


def test_text_lines_on_stderr_with_trace_prefix(lens: Lens, capsys: pytest.CaptureFixture[str]) -> None:
    """Text format: ``HH:MM:SS.mmm INF [trace8] message``; no bracket outside a span; %-args and extras."""
    log = Logger("app")
    log.info("outside %s", "span")
    with trace.get_tracer("t").start_as_current_span("s") as span:
        log.warning("inside %d", 7, extra={"user": "ann"})
    out, err = capsys.readouterr()
    assert out == ""
    first, second = err.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} INF outside span", first)
    trace8 = f"{span.get_span_context().trace_id:032x}"[:8]
    assert re.fullmatch(rf"\d\d:\d\d:\d\d\.\d{{3}} WRN \[{trace8}\] inside 7 user=ann", second)


def test_json_lines(db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """OTEL_EXPORTER_LENS_LOG_FORMAT=json: one object per line with the contract's keys."""
    monkeypatch.setenv("OTEL_EXPORTER_LENS_LOG_FORMAT", "json")
    with otel_globals_restored():
        configure(database=str(db_path), sweep_interval=0)
        with trace.get_tracer("t").start_as_current_span("s") as span:
            Logger("svc").error("failed %s", "job")
    out, err = capsys.readouterr()
    assert out == ""
    line = json.loads(err)
    assert {"timestamp", "level", "message", "logger", "trace_id", "span_id"} <= set(line)
    assert line["message"] == "failed job" and line["level"] == "ERROR" and line["logger"] == "svc"
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_records_are_stored_with_ids_and_exceptions(
    lens: Lens, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records reach the store with trace/span ids, severities, extras and exception details."""
    log = Logger("store.test")
    with trace.get_tracer("t").start_as_current_span("s") as span:
        log.debug("hidden at INFO")
        log.info("kept", extra={"order": 12})
        try:
            raise ValueError("bad value")
        except ValueError:
            log.exception("caught")
    log.critical("no span")
    lens.force_flush()
    stored = logs(db_path)
    assert [entry["body"] for entry in stored] == ["kept", "caught", "no span"]
    assert [entry["severity_text"] for entry in stored] == ["INFO", "ERROR", "FATAL"]  # OTel severity text
    assert stored[0]["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert stored[0]["attributes"]["order"] == 12 and stored[0]["logger"] == "store.test"
    assert stored[1]["attributes"]["exception.type"] == "ValueError"
    assert stored[2]["span_id"] is None
    assert "ValueError: bad value" in capsys.readouterr().err


def test_warn_is_warning_without_a_deprecation_warning(lens: Lens, capsys: pytest.CaptureFixture[str]) -> None:
    """``warn`` works like ``warning`` (the stdlib's own emits a DeprecationWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Logger("w").warn("careful")
    assert " WRN careful" in capsys.readouterr().err


def test_logger_records_are_not_stored_twice(lens: Lens, db_path: Path) -> None:
    """With stdlib routing on, a Logger record is stored once (Logger does not propagate to the root)."""
    Logger("once").info("single")
    lens.force_flush()
    assert [entry["body"] for entry in logs(db_path)] == ["single"]
