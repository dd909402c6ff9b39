"""``otel-lens mcp`` driven by the official ``mcp`` SDK's stdio client against a real subprocess: the tool list,
every tool, bad arguments as tool errors, concurrent calls, and stdout protocol-only with a noisy store that is
being written meanwhile (RELIABILITY 31)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from opentelemetry._logs import SeverityNumber

from otel_lens.settings import Settings
from tests._read_helpers import Sample, build_sample, recorder

TOOLS = ["diff_traces", "get_trace", "latency_stats", "list_sessions", "list_traces", "run_sql", "search_logs",
         "token_usage"]  # fmt: skip
EVER = "100000d"  # a window holding the sample's 2024 data


@contextlib.asynccontextmanager
async def mcp_session(database: str | Path, errlog: Any, stray: list[object]) -> AsyncIterator[ClientSession]:
    """An initialized SDK client session with ``otel-lens mcp --database …``; a non-protocol stdout line lands
    in ``stray`` (the SDK hands it to the message handler as an exception)."""

    async def on_message(message: object) -> None:
        if isinstance(message, Exception):
            stray.append(message)

    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONWARNINGS"] = "always"  # any warning we caused would be printed: it must go to stderr
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "otel_lens", "mcp", "--database", str(database)], env=env
    )
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write, message_handler=on_message) as session,
    ):
        await session.initialize()
        yield session


def drive(tmp_path: Path, database: str | Path, body: Callable[[ClientSession], Awaitable[None]]) -> list[object]:
    """Run ``body(session)`` against a fresh server (bounded in time); returns the stray stdout messages."""
    stray: list[object] = []

    async def main() -> None:
        with anyio.fail_after(180), (tmp_path / "mcp-stderr.txt").open("a") as errlog:
            async with mcp_session(database, errlog, stray) as session:
                await body(session)

    anyio.run(main)
    return stray


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool call that must succeed; its structured result."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, (tool, arguments, result.content)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """A tool call that must fail as a tool error (isError), not a protocol error; its text."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, (tool, arguments, result.structured_content)
    text = getattr(result.content[0], "text", "")
    assert isinstance(text, str)
    return text


@pytest.fixture
def sample_db(db_path: Path) -> tuple[Path, Sample]:
    return db_path, build_sample(Settings.load(environ={}, database=str(db_path), sweep_interval=0))


def test_lists_the_tools_with_described_parameters_and_each_answers(
    tmp_path: Path, sample_db: tuple[Path, Sample]
) -> None:
    """tools/list has the eight contract tools, each described, every parameter described; each tool answers
    from the store (the sample's failing checkout, its log, latency, tokens, SQL, a diff)."""
    db, sample = sample_db
    seen: dict[str, Any] = {}

    async def body(session: ClientSession) -> None:
        tools = (await session.list_tools()).tools
        seen["tools"] = {t.name: t for t in tools}
        seen["list"] = await call(session, "list_traces", errors_only=True, since=EVER)
        seen["trace"] = await call(session, "get_trace", trace_id=sample.checkout_trace)
        seen["logs"] = await call(session, "search_logs", text="PAYMENT", since=EVER)
        seen["stats"] = await call(session, "latency_stats", since=EVER)
        seen["usage"] = await call(session, "token_usage", since=EVER)
        seen["sessions"] = await call(session, "list_sessions", since=EVER)
        seen["sql"] = await call(session, "run_sql", query="SELECT count(*) AS n FROM spans")
        seen["diff"] = await call(session, "diff_traces", trace_a=sample.users_trace, trace_b=sample.checkout_trace)

    assert drive(tmp_path, db, body) == []
    assert sorted(seen["tools"]) == TOOLS
    for tool in seen["tools"].values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), (tool.name, name)
    assert [t["trace_id"] for t in seen["list"]["traces"]] == [sample.checkout_trace]
    errors = seen["trace"]["errors"]
    assert {e["status"] for e in errors} == {"ERROR: upstream failed", "ERROR: card declined"}
    assert {"exception.type": "PaymentError", "exception.message": "card declined"} in errors[1]["exceptions"]
    assert seen["trace"]["logs"][0]["body"] == {"event": "payment failed", "code": 51}
    assert [r["body"] for r in seen["logs"]["logs"]] == [{"event": "payment failed", "code": 51}]
    assert "charge card" in {r["name"] for r in seen["stats"]["stats"]}
    assert seen["usage"]["input_tokens"] == 1200 and seen["usage"]["output_tokens"] == 300
    assert seen["sessions"] == {"sessions": []}
    assert seen["sql"] == {"columns": ["n"], "rows": [[7]]}
    assert {s["name"] for s in seen["diff"]["added"]} == {"POST /checkout", "charge card"}


def test_bad_arguments_are_tool_errors_and_the_server_keeps_answering(
    tmp_path: Path, sample_db: tuple[Path, Sample]
) -> None:
    """Every kind of bad call is an isError result with a reason an agent can act on — an unknown or malformed
    id, a bad window, an out-of-range or mistyped argument, a missing one, a refused or runaway query, an
    unknown tool — and the server answers the next call as before."""
    db, sample = sample_db
    texts: dict[str, str] = {}

    async def body(session: ClientSession) -> None:
        texts["unknown id"] = await error(session, "get_trace", trace_id="ffff")
        texts["not hex"] = await error(session, "get_trace", trace_id="xyz")
        texts["ambiguous"] = await error(session, "get_trace", trace_id="0000")
        texts["bad since"] = await error(session, "list_traces", since="yesterday")
        texts["range"] = await error(session, "list_traces", limit=0)
        texts["type"] = await error(session, "search_logs", limit="many")
        texts["missing"] = await error(session, "get_trace")
        texts["level"] = await error(session, "search_logs", level="loud")
        texts["refused"] = await error(session, "run_sql", query="DELETE FROM lens_spans")
        texts["runaway"] = await error(
            session, "run_sql", query="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c", timeout_s=0.5)  # fmt: skip
        texts["both"] = await error(session, "diff_traces", trace_a=sample.users_trace, trace_b=sample.chat_trace,
                                    previous=True)  # fmt: skip
        texts["no session"] = await error(session, "token_usage", session_id="nope")
        texts["unknown tool"] = await error(session, "drop_everything")
        texts["after"] = str((await call(session, "run_sql", query="SELECT count(*) FROM traces"))["rows"])

    assert drive(tmp_path, db, body) == []
    expected = {
        "unknown id": "no trace id starts with ffff",
        "not hex": "'xyz' is not a trace id",
        "ambiguous": "trace id prefix 0000 is ambiguous",
        "bad since": "since='yesterday' is not a duration",
        "range": "limit",
        "type": "limit",
        "missing": "trace_id",
        "level": "level",
        "refused": "refused: DELETE lens_spans",
        "runaway": "ran past its 0.5s budget",
        "both": "give trace_b, or previous=true",
        "no session": "no session or conversation 'nope'",
        "unknown tool": "Unknown tool: drop_everything",
        "after": "[[3]]",
    }
    for key, fragment in expected.items():
        assert fragment in texts[key], (key, texts[key])


def test_concurrent_calls_all_get_their_own_answer(tmp_path: Path, sample_db: tuple[Path, Sample]) -> None:
    """Sixty calls in flight at once (the SDK runs them in threads) each get the right answer: the store's one
    read connection is taken in turns, never shared mid-query."""
    db, sample = sample_db
    answers: dict[int, Any] = {}

    async def body(session: ClientSession) -> None:
        async def one(i: int) -> None:
            if i % 3 == 0:
                answers[i] = (await call(session, "run_sql", query=f"SELECT {i} + count(*) FROM spans"))["rows"]
            elif i % 3 == 1:
                answers[i] = (await call(session, "get_trace", trace_id=sample.chat_trace))["trace"]["span_count"]
            else:
                answers[i] = len((await call(session, "list_traces", since=EVER, limit=2))["traces"])

        async with anyio.create_task_group() as group:
            for i in range(60):
                group.start_soon(one, i)

    assert drive(tmp_path, db, body) == []
    assert answers == {i: [[i + 7]] if i % 3 == 0 else 1 if i % 3 == 1 else 2 for i in range(60)}


NOISE = '\x1b[31mred\x1b[0m\n{"jsonrpc": "2.0", "id": 1, "result": {}}\n\r\x00 \u2028 end'


def test_stdout_is_protocol_only_with_a_noisy_store_written_meanwhile(tmp_path: Path, db_path: Path) -> None:
    """RELIABILITY 31: before the store exists a call is a tool error naming the wait; then, with values full of
    escapes, fake JSON-RPC lines, NULs and 200 KB strings, and a writer storing spans while the client reads
    (the reader switches from its immutable read to the WAL one), stdout carries nothing but protocol, long
    values come back cut with a marker, and every call answers."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    seen: dict[str, Any] = {}
    stop = threading.Event()

    def write_meanwhile() -> None:
        with recorder(settings) as rec:
            i = 0
            while not stop.is_set() and i < 2000:
                span = rec.span("noisy", "tick", i, i + 1, attributes={"noise": NOISE, "i": i})
                rec.log("noisy", span, i, SeverityNumber.WARN, NOISE)
                rec.end(span)
                i += 1

    async def body(session: ClientSession) -> None:
        seen["before"] = await error(session, "list_traces")
        with recorder(settings) as rec:
            span = rec.span("noisy", "GET /noise", 0, 5, attributes={"big": "x" * 200_000, "noise": NOISE})
            rec.log("noisy", span, 1, SeverityNumber.ERROR, NOISE + "y" * 100_000)
            rec.end(span)
        writer = threading.Thread(target=write_meanwhile)
        writer.start()
        try:
            for _ in range(15):
                seen["trace"] = await call(session, "list_traces", since=EVER, name="GET /noise")
                trace_id = seen["trace"]["traces"][0]["trace_id"]
                seen["detail"] = await call(session, "get_trace", trace_id=trace_id, max_spans=5)
                seen["logs"] = await call(session, "search_logs", text="red", since=EVER, limit=3)
                seen["sql"] = await call(session, "run_sql", query="SELECT attributes FROM spans LIMIT 3")
        finally:
            stop.set()
            writer.join(timeout=120)

    assert drive(tmp_path, db_path, body) == []
    assert "no otel-lens database" in seen["before"] and "run the app with otel-lens first" in seen["before"]
    attributes = seen["detail"]["spans"][0]["attributes"]
    assert attributes["big"].startswith("x" * 300) and attributes["big"].endswith("chars cut]")
    assert len(attributes["big"]) < 400
    assert "\x1b[31mred" in attributes["noise"] and '{"jsonrpc": "2.0"' in attributes["noise"]  # data, not protocol
    assert all(len(str(row)) < 2000 for row in seen["sql"]["rows"])
