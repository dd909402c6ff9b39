"""Papercuts a first-time user of the CLI and read API hit: each test pins the fixed behaviour."""

from __future__ import annotations

import pytest
from opentelemetry._logs import SeverityNumber

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.settings import Settings
from tests._read_helpers import build_sample, recorder


def test_show_says_an_exception_once(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """A span that raised has status "ValueError: bad thing" and an exception event saying the same: one line."""
    with recorder(sqlite_settings) as rec, pytest.raises(ValueError):
        with rec.tracer("quickstart").start_as_current_span("work"):
            raise ValueError("bad thing")
    with open_store(sqlite_settings.database) as store:
        (trace,) = store.traces()
    assert main(["show", trace.trace_id, "--database", sqlite_settings.database]) == 0
    out = capsys.readouterr().out
    assert out.count("bad thing") == 1
    assert "✗ error: ValueError: bad thing" in out


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
