"""Issue 13's "done when": an agent given only ``otel-lens mcp`` answers three questions. Each test drives the
real server over stdio as an agent would (discover, then narrow down) and checks the answer is in the tool
output — nothing is read from the store any other way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

from otel_lens.settings import Settings
from tests._read_helpers import MS, T0, Recorder, recorder
from tests.test_mcp_server import call, drive

HOUR_MS = 3600 * 1000


def _ago_ms(hours: float) -> float:
    """The Recorder's offset (ms from its T0) of the moment ``hours`` before now."""
    return (time.time_ns() - T0) / MS - hours * HOUR_MS


def _request(rec: Recorder, route: str, at: float, ms: float, error: str | None = None) -> Any:
    root = rec.span("shop", f"GET {route}", at, at + ms, kind=SpanKind.SERVER,
                    attributes={"http.route": route, "http.response.status_code": 500 if error else 200})  # fmt: skip
    return root


def test_what_failed_in_my_last_request_and_why(tmp_path: Path, db_path: Path) -> None:
    """Agent: list_traces(limit=1) → the newest trace; get_trace → its errors with the exception and the error
    log: the failing span, its message, the exception type and the log line are all in the output."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    with recorder(settings) as rec:
        for i in range(5):
            ok = _request(rec, "/orders", _ago_ms(1) + i * 1000, 40)
            rec.end(ok)
        root = _request(rec, "/orders", _ago_ms(0.01), 300, error="boom")
        charge = rec.span("shop", "charge card", _ago_ms(0.01) + 10, _ago_ms(0.01) + 290, root, SpanKind.CLIENT,
                          error="card declined by issuer")  # fmt: skip
        charge.record_exception(ValueError("insufficient funds on card ending 4242"))
        rec.log("shop", charge, _ago_ms(0.01) + 280, SeverityNumber.ERROR, "payment gateway answered 402")
        rec.end(charge)
        root.set_attribute("http.response.status_code", 502)
        rec.end(root)
    answer: dict[str, Any] = {}

    async def agent(session: ClientSession) -> None:
        latest = (await call(session, "list_traces", limit=1))["traces"][0]
        answer["latest"] = latest
        answer["trace"] = await call(session, "get_trace", trace_id=latest["trace_id"])

    assert drive(tmp_path, db_path, agent) == []
    assert answer["latest"]["error_count"] == 1 and answer["latest"]["root_name"] == "GET /orders"
    [failure] = answer["trace"]["errors"]
    assert failure["name"] == "charge card" and failure["status"] == "ERROR: card declined by issuer"
    [exception] = failure["exceptions"]
    assert exception["exception.type"] == "ValueError"
    assert exception["exception.message"] == "insufficient funds on card ending 4242"
    assert [(r["severity"], r["body"]) for r in answer["trace"]["logs"]] == [("ERROR", "payment gateway answered 402")]


def test_which_endpoint_got_slower_since_yesterday(tmp_path: Path, db_path: Path) -> None:
    """Agent: latency_stats(since=24h, server_only, compare_previous) → the endpoint whose average grew most
    comes first (GET /search, 5x), the steady one after it, client spans left out."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    with recorder(settings) as rec:
        for hours, search_ms in ((30, 50), (28, 52), (26, 48), (5, 250), (3, 260), (1, 240)):
            search = _request(rec, "/search", _ago_ms(hours), search_ms)
            backend = rec.span("shop", "SELECT products", _ago_ms(hours) + 1, _ago_ms(hours) + search_ms - 1,
                               search, SpanKind.CLIENT)  # fmt: skip
            rec.end(backend)
            rec.end(search)
            users = _request(rec, "/users", _ago_ms(hours) + 5000, 30)
            rec.end(users)
    answer: dict[str, Any] = {}

    async def agent(session: ClientSession) -> None:
        answer["stats"] = await call(session, "latency_stats", since="24h", server_only=True, compare_previous=True)

    assert drive(tmp_path, db_path, agent) == []
    rows = answer["stats"]["stats"]
    assert [r["name"] for r in rows] == ["GET /search", "GET /users"]
    slower = rows[0]
    assert (slower["count_now"], slower["count_before"]) == (3, 3)
    assert round(slower["avg_ms_before"]) == 50 and round(slower["avg_ms_now"]) == 250
    assert round(slower["avg_ratio"], 1) == 5.0 and round(rows[1]["avg_ratio"], 1) == 1.0


def test_how_many_tokens_did_session_x_cost(tmp_path: Path, db_path: Path) -> None:
    """Agent: list_sessions → the session ids; token_usage(session_id=…) → its input/output tokens summed over its
    traces' LLM spans (per model too), other sessions not counted."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    with recorder(settings) as rec:
        for session_id, at, model, tokens in (
            ("sess-42", 3, "gpt-4o", (100, 50)),
            ("sess-42", 2, "gpt-4o-mini", (200, 70)),
            ("sess-7", 1, "gpt-4o", (5000, 900)),
        ):
            turn = rec.span("agent", "invoke_agent", _ago_ms(at), _ago_ms(at) + 900, kind=SpanKind.SERVER,
                            attributes={"session.id": session_id})  # fmt: skip
            llm = rec.span("agent", f"chat {model}", _ago_ms(at) + 10, _ago_ms(at) + 800, turn, SpanKind.CLIENT,
                           {"gen_ai.request.model": model, "gen_ai.usage.input_tokens": tokens[0],
                            "gen_ai.usage.output_tokens": tokens[1]})  # fmt: skip
            rec.end(llm)
            rec.end(turn)
    answer: dict[str, Any] = {}

    async def agent(session: ClientSession) -> None:
        answer["sessions"] = await call(session, "list_sessions")
        answer["usage"] = await call(session, "token_usage", session_id="sess-42", since="7d")

    assert drive(tmp_path, db_path, agent) == []
    listed = {s["session_id"]: s for s in answer["sessions"]["sessions"]}
    assert sorted(listed) == ["sess-42", "sess-7"]
    assert (listed["sess-42"]["trace_count"], listed["sess-42"]["kind"]) == (2, "session")
    assert (listed["sess-42"]["input_tokens"], listed["sess-42"]["output_tokens"]) == (300, 120)
    usage = answer["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (300, 120, 420)
    assert usage["by_model"] == [
        {"model": "gpt-4o", "input_tokens": 100, "output_tokens": 50},
        {"model": "gpt-4o-mini", "input_tokens": 200, "output_tokens": 70},
    ]
    assert len(usage["traces"]) == 2
