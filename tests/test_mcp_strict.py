"""``otel-lens mcp`` over the SDK's stdio client against a real subprocess: lists say how many matches were left
out (the true count, not "1 more"), a misspelled argument is a tool error naming what the tool takes instead of
being ignored, and a bad value is one short line rather than pydantic's report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from opentelemetry._logs import SeverityNumber

from otel_lens.settings import Settings
from tests._read_helpers import recorder
from tests.test_mcp_server import EVER, call, drive, error


def _ten_traces(db_path: Path) -> None:
    """Ten one-span traces (the even ones failed), each with one WARN log saying "fox"."""
    with recorder(Settings.load(environ={}, database=str(db_path), sweep_interval=0)) as rec:
        for i in range(10):
            span = rec.span("shop", f"GET /item/{i}", i * 10, i * 10 + 5, error="boom" if i % 2 == 0 else None)
            rec.log("shop", span, i * 10 + 1, SeverityNumber.WARN, f"the quick brown fox {i}")
            rec.end(span)
        rec.log("shop", None, 200, SeverityNumber.INFO, "no animal here")


def test_lists_say_how_many_more_there_are(tmp_path: Path, db_path: Path) -> None:
    """10 traces, limit 2 → "8 more traces"; the error filter counts only failed ones (3 more); 11 logs, the
    text filter keeps 10 (7 more with limit 3); a list that is not cut says nothing about more."""
    _ten_traces(db_path)
    seen: dict[str, Any] = {}

    async def body(session: ClientSession) -> None:
        seen["traces"] = await call(session, "list_traces", since=EVER, limit=2)
        seen["errors"] = await call(session, "list_traces", since=EVER, errors_only=True, limit=2)
        seen["all"] = await call(session, "list_traces", since=EVER, limit=10)
        seen["logs"] = await call(session, "search_logs", since=EVER, limit=3)
        seen["fox"] = await call(session, "search_logs", text="fox", since=EVER, limit=3)

    assert drive(tmp_path, db_path, body) == []
    assert len(seen["traces"]["traces"]) == 2
    assert seen["traces"]["more"].startswith("8 more traces not shown; raise limit")
    assert seen["errors"]["more"].startswith("3 more traces not shown")
    assert len(seen["all"]["traces"]) == 10 and "more" not in seen["all"]
    assert seen["logs"]["more"].startswith("8 more logs not shown")
    assert [r["body"] for r in seen["fox"]["logs"]] == [f"the quick brown fox {i}" for i in (9, 8, 7)]
    assert seen["fox"]["more"].startswith("7 more logs not shown")


def test_unknown_arguments_are_refused_naming_the_accepted_ones(tmp_path: Path, db_path: Path) -> None:
    """search_logs(query=…) (the parameter is text) and list_traces(errors=…) (it is errors_only) are tool errors
    that name the unknown argument and every accepted one — not answers over everything; the tool list says
    additionalProperties false; the right spelling then answers."""
    _ten_traces(db_path)
    seen: dict[str, Any] = {}

    async def body(session: ClientSession) -> None:
        seen["tools"] = (await session.list_tools()).tools
        seen["query"] = await error(session, "search_logs", query="fox", since=EVER)
        seen["errors"] = await error(session, "list_traces", errors=True)
        seen["two"] = await error(session, "get_trace", trace_id="ab", spans=3, log=1)
        seen["right"] = await call(session, "list_traces", errors_only=True, since=EVER, limit=20)

    assert drive(tmp_path, db_path, body) == []
    assert all(t.input_schema.get("additionalProperties") is False for t in seen["tools"])
    assert seen["query"] == (
        "Error executing tool search_logs: unknown argument query; search_logs takes text, level, trace_id, "
        "since, limit"
    )
    assert seen["errors"] == (
        "Error executing tool list_traces: unknown argument errors; list_traces takes errors_only, since, "
        "service, name, min_duration, limit"
    )
    assert "unknown arguments spans, log; get_trace takes trace_id, max_spans, max_logs" in seen["two"]
    assert len(seen["right"]["traces"]) == 5


def test_bad_values_are_one_short_line(tmp_path: Path, db_path: Path) -> None:
    """A wrong type, an out-of-range number, a value outside a choice, an empty id, a missing argument: each
    error is one line saying what the value must be (from the tool's schema), with no pydantic URL."""
    _ten_traces(db_path)
    texts: dict[str, str] = {}

    async def body(session: ClientSession) -> None:
        texts["range"] = await error(session, "list_traces", limit=0)
        texts["type"] = await error(session, "search_logs", limit="many")
        texts["bool"] = await error(session, "list_traces", errors_only="maybe")
        texts["choice"] = await error(session, "search_logs", level="loud")
        texts["float"] = await error(session, "run_sql", query="SELECT 1", timeout_s=0)
        texts["empty"] = await error(session, "get_trace", trace_id="")
        texts["missing"] = await error(session, "get_trace")
        texts["both"] = await error(session, "list_traces", limit=0, errors_only="maybe")

    assert drive(tmp_path, db_path, body) == []
    prefix = "Error executing tool "
    assert texts == {
        "range": prefix + "list_traces: limit: must be an integer from 1 to 200",
        "type": prefix + "search_logs: limit: must be an integer from 1 to 500",
        "bool": prefix + "list_traces: errors_only: must be true or false",
        "choice": prefix + 'search_logs: level: must be one of "debug", "info", "warn", "error", "fatal"',
        "float": prefix + "run_sql: timeout_s: must be a number above 0 and at most 60",
        "empty": prefix + "get_trace: trace_id: must be a non-empty string",
        "missing": prefix + "get_trace: trace_id: required (a non-empty string)",
        "both": prefix + "list_traces: errors_only: must be true or false; limit: must be an integer from 1 to 200",
    }
