"""The MCP tools' bodies on SQLite and PostgreSQL: sessions scanned from span attributes, latency compared with
the window before, bounded lists with their "N more" hints, long values cut (the protocol side is in
test_mcp_server.py)."""

from __future__ import annotations

import time

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

from otel_lens.mcp import _tools
from otel_lens.mcp._compact import MAX_TEXT, compact
from otel_lens.query import open_store
from otel_lens.settings import Settings
from tests._read_helpers import MS, T0, recorder

HOUR_MS = 3600 * 1000


def _ago(hours: float) -> float:
    return (time.time_ns() - T0) / MS - hours * HOUR_MS


def _store(settings: Settings) -> None:
    with recorder(settings) as rec:
        for i, (key, value) in enumerate(
            (("session.id", "s-1"), ("session.id", "s-1"), ("gen_ai.conversation.id", "c_%"))
        ):
            root = rec.span("agent", "turn", _ago(3 - i), _ago(3 - i) + 100, kind=SpanKind.SERVER,
                            attributes={key: value})  # fmt: skip
            llm = rec.span("agent", "chat", _ago(3 - i) + 1, _ago(3 - i) + 90, root, SpanKind.CLIENT,
                           {"gen_ai.response.model": "m", "gen_ai.usage.input_tokens": 10 * (i + 1),
                            "gen_ai.usage.output_tokens": i + 1})  # fmt: skip
            rec.end(llm)
            rec.end(root)
        # SQLite's LIKE ignores case: this span matches it, and the decoded check leaves it out.
        decoy = rec.span("agent", "decoy", _ago(1), _ago(1) + 1, attributes={"SESSION.ID": "s-1"})
        rec.end(decoy)
        for hours, ms in ((30, 10), (2, 40)):
            start = _ago(hours)  # once: two clock reads made the durations (and their ratio) drift on a loaded machine
            slow = rec.span("web", "GET /a", start, start + ms, kind=SpanKind.SERVER)
            rec.end(slow)


def test_sessions_and_their_tokens_from_span_attributes(settings: Settings) -> None:
    """session.id and gen_ai.conversation.id group traces (kind says which); a session's tokens are its traces'
    LLM spans; LIKE wildcards in an id are taken literally; what LIKE matches loosely (another key's case) does not count."""
    _store(settings)
    with open_store(settings.database) as store:
        listed = _tools.list_sessions(store, "7d", 10)["sessions"]
        usage = _tools.token_usage(store, "7d", "model", "s-1")
        literal = _tools.token_usage(store, "7d", "model", "c_%")
        assert _tools.list_sessions(store, "7d", 1)["more"].startswith("1 more sessions not shown")
    assert [(s["session_id"], s["kind"], s["trace_count"], s["input_tokens"]) for s in listed] == [
        ("c_%", "conversation", 1, 30), ("s-1", "session", 2, 30)]  # fmt: skip
    assert (usage["input_tokens"], usage["output_tokens"], usage["by_model"]) == (
        30, 3, [{"model": "m", "input_tokens": 30, "output_tokens": 3}])  # fmt: skip
    assert literal["input_tokens"] == 30


def test_latency_compared_with_the_window_before(settings: Settings) -> None:
    """compare_previous: the average in the last window against the window of the same length before it."""
    _store(settings)
    with open_store(settings.database) as store:
        rows = _tools.latency_stats(store, "24h", "name", True, True, 10)["stats"]
    row = next(r for r in rows if r["name"] == "GET /a")
    assert (row["count_now"], row["count_before"]) == (1, 1)
    assert round(row["avg_ratio"], 2) == 4.0


def test_lists_are_bounded_and_long_values_cut() -> None:
    """compact(): strings past MAX_TEXT end in a marker saying how much was cut; big maps and lists say how many
    entries are gone."""
    value = compact({"s": "x" * (MAX_TEXT + 50), "l": list(range(30)), "m": {str(i): i for i in range(50)}})
    assert value["s"] == "x" * MAX_TEXT + "…[+50 chars cut]"
    assert value["l"][-1] == "…10 more" and len(value["l"]) == 21
    assert value["m"]["…"] == "10 more keys"


def test_counting_past_the_limit_is_bounded_and_never_a_wrong_number(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """list_traces and search_logs read at most COUNTED matches past the limit to count them: up to that the
    number is exact (limit 2 of 7 → "5 more"), past it the answer says "more than COUNTED", not a wrong count."""
    with recorder(settings) as rec:
        for i in range(7):
            span = rec.span("svc", "GET /x", i * 10, i * 10 + 5)
            rec.log("svc", span, i * 10 + 1, SeverityNumber.INFO, f"line {i}")
            rec.end(span)
    with open_store(settings.database) as store:
        assert _tools.list_traces(store, None, None, False, None, None, 2)["more"].startswith("5 more traces")
        assert _tools.search_logs(store, None, None, None, None, 2)["more"].startswith("5 more logs")
        assert "more" not in _tools.search_logs(store, "line 6", None, None, None, 2)
        monkeypatch.setattr(_tools, "_COUNTED_TRACES", 4)
        monkeypatch.setattr(_tools, "_COUNTED_LOGS", 3)
        assert _tools.list_traces(store, None, None, False, None, None, 3)["more"].startswith("4 more traces")
        assert _tools.list_traces(store, None, None, False, None, None, 2)["more"].startswith(
            "more than 4 more traces not shown; raise limit"
        )
        assert _tools.search_logs(store, None, None, None, None, 2)["more"].startswith("more than 3 more logs")
        assert len(_tools.search_logs(store, None, None, None, None, 2)["logs"]) == 2
