"""examples/mcp_stdio.py is a real MCP server: the official ``mcp`` SDK's stdio client drives it.

RELIABILITY 25/31: stdout carries the protocol alone (a stray line would reach the client as a parse
error), our log lines go to stderr, and every call is stored as a trace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests._facade_helpers import logs, spans

SERVER = Path(__file__).resolve().parent.parent / "examples" / "mcp_stdio.py"
CONCURRENT_CALLS = 150


def _env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_LENS_DATABASE"] = str(db_path)
    return env


async def _session_run(db_path: Path, errlog: Any) -> dict[str, Any]:
    """One client session doing everything a client does; returns what it saw."""
    stray: list[object] = []

    async def on_message(message: object) -> None:  # a non-protocol stdout line arrives here as an Exception
        if isinstance(message, Exception):
            stray.append(message)

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=_env(db_path))
    seen: dict[str, Any] = {"stray": stray}
    with anyio.fail_after(120):
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, message_handler=on_message) as session,
        ):
            seen["init"] = await session.initialize()
            seen["tools"] = (await session.list_tools()).tools
            seen["add"] = await session.call_tool("add", {"a": 2, "b": 3})
            seen["words"] = await session.call_tool("word_count", {"text": "one two three"})
            seen["divide_ok"] = await session.call_tool("divide", {"a": 9, "b": 3})
            seen["divide_zero"] = await session.call_tool("divide", {"a": 1, "b": 0})
            seen["bad_argument"] = await session.call_tool("add", {"a": "not a number", "b": 1})
            results: dict[int, Any] = {}

            async def call(i: int) -> None:
                results[i] = await session.call_tool("add", {"a": i, "b": 1000})

            async with anyio.create_task_group() as group:
                for i in range(CONCURRENT_CALLS):
                    group.start_soon(call, i)
            seen["many"] = results
    return seen


@pytest.mark.slow
def test_mcp_sdk_client_drives_the_example_server(db_path: Path, tmp_path: Path) -> None:
    """initialize, tools/list, each tool, a tool error, a bad argument and many concurrent calls through the
    SDK's stdio client: answers are right, stdout held protocol only, stderr our log lines, the db the traces."""
    err_path = tmp_path / "server-stderr.txt"
    with err_path.open("w") as errlog:
        seen = anyio.run(_session_run, db_path, errlog)
    err = err_path.read_text()

    assert seen["stray"] == []
    assert seen["init"].server_info.name == "otel-lens-example"
    assert sorted(t.name for t in seen["tools"]) == ["add", "divide", "word_count"]
    assert seen["add"].structured_content == {"result": 5.0} and not seen["add"].is_error
    assert seen["words"].structured_content == {"result": 3}
    assert seen["divide_ok"].structured_content == {"result": 3.0}
    assert seen["divide_zero"].is_error and "cannot divide by zero" in seen["divide_zero"].content[0].text
    assert seen["bad_argument"].is_error and "valid number" in seen["bad_argument"].content[0].text
    assert {i: r.structured_content["result"] for i, r in seen["many"].items()} == {
        i: float(i + 1000) for i in range(CONCURRENT_CALLS)
    }
    assert "adding 2.0 and 3.0" in err and "counted 3 words" in err and "refusing to divide 1.0 by zero" in err

    stored = spans(db_path)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in stored:
        by_name.setdefault(span["name"], []).append(span)
    assert len(by_name["tool.add"]) == 1 + CONCURRENT_CALLS  # the bad argument never reached the function
    assert len(by_name["tool.word_count"]) == 1 and len(by_name["tool.divide"]) == 2
    (failed,) = [s for s in by_name["tool.divide"] if s["status_code"] == 2]
    assert "cannot divide by zero" in (failed["status_message"] or "")
    # Each tool span sits under the SDK's own tools/call server span, in its own trace.
    server_spans = {s["span_id"]: s for s in stored if s["name"].startswith("tools/call ")}
    for span in by_name["tool.add"] + by_name["tool.divide"] + by_name["tool.word_count"]:
        parent = server_spans[span["parent_span_id"]]
        assert parent["trace_id"] == span["trace_id"] and parent["name"] == "tools/call " + span["name"][5:]
    assert len({s["trace_id"] for s in by_name["tool.add"]}) == 1 + CONCURRENT_CALLS
    stored_logs = [entry["body"] for entry in logs(db_path)]
    assert "adding 2.0 and 3.0" in stored_logs and "refusing to divide 1.0 by zero" in stored_logs


def test_raw_stdio_survives_a_non_json_line(db_path: Path) -> None:
    """A line that is not JSON is skipped, never a crash (the old example died on it): the request after it
    is still answered, and every stdout line is a JSON-RPC message."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]  # fmt: skip
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}
    stdin = "".join(json.dumps(m) + "\n" for m in messages) + "this is not json\n" + json.dumps(call) + "\n"
    replies: list[dict[str, Any]] = []
    with subprocess.Popen(
        [sys.executable, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_env(db_path), text=True,
    ) as server:  # fmt: skip
        assert server.stdin is not None and server.stdout is not None and server.stderr is not None
        stdout = server.stdout

        def read_two() -> None:  # closing stdin ends the session, so the answers are read before that
            replies.extend(json.loads(stdout.readline()) for _ in range(2))

        reader = threading.Thread(target=read_two, daemon=True)
        reader.start()
        server.stdin.write(stdin)
        server.stdin.flush()
        reader.join(timeout=120)
        server.stdin.close()
        server.wait(timeout=120)
        rest, err = stdout.read(), server.stderr.read()
    assert server.returncode == 0, err[-2000:]
    assert len(replies) == 2 and rest == "", (replies, rest, err[-2000:])
    assert all(reply.get("jsonrpc") == "2.0" for reply in replies)
    answered = {reply.get("id"): reply for reply in replies}
    assert answered[1]["result"]["serverInfo"]["name"] == "otel-lens-example"
    assert answered[2]["result"]["structuredContent"] == {"result": 3.0}
    assert "adding 1.0 and 2.0" in err
    assert "tool.add" in {s["name"] for s in spans(db_path)}
