"""Secrets inside JSON *text* in attribute values and log bodies never reach the store (RELIABILITY 20).

GenAI instrumentations store messages, tool arguments and tool results as JSON text in string
attributes (and log bodies); a tool's arguments are JSON text again inside the messages' JSON. Here
the real ``openai`` client, instrumented by opentelemetry-instrumentation-openai-v2 (content capture
on, spans and events) or by openinference-instrumentation-openai, makes a tool call against the fake
OpenAI-compatible server of ``tests/test_real_genai.py``: the model's tool-call arguments and the tool's
result both carry ``{"api_key": …, "password": …}``. The db, -wal and -shm bytes are read raw, and
``otel-lens show --json`` must show the redaction marker where the secrets were.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_lens import open_store
from otel_lens._redact import REDACTED
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests.test_real_genai import MODEL, RESPONSE_MODEL, TOOL_ANSWER, USAGE, _FakeOpenAI, serving

ARGUMENT_SECRETS = {"api_key": "sk-argsecret-41", "password": "pw-argsecret-42"}
RESULT_SECRETS = {"api_key": "sk-resultsecret-43", "password": "pw-resultsecret-44"}
SECRETS = (*ARGUMENT_SECRETS.values(), *RESULT_SECRETS.values())
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_account",
        "description": "Look an account up by its owner.",
        "parameters": {"type": "object", "properties": {"owner": {"type": "string"}}, "required": ["owner"]},
    },
}


class _FakeOpenAIWithTools(_FakeOpenAI):
    """The fake server of test_real_genai, answering a request that offers tools (and has no tool result yet)
    with a tool call whose arguments carry secrets; every other request gets the plain answer."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["content-length"]))
        request = json.loads(raw)
        if not request.get("tools") or any(m.get("role") == "tool" for m in request["messages"]):
            self.rfile = io.BytesIO(raw)  # the base handler reads the request again
            super().do_POST()
            return
        self.calls.append(request)
        arguments = json.dumps({"owner": "ada", **ARGUMENT_SECRETS})
        call = {"id": "call_1", "type": "function", "function": {"name": "lookup_account", "arguments": arguments}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        body = json.dumps({"id": "chatcmpl-tool", "object": "chat.completion", "created": int(time.time()),
                           "model": RESPONSE_MODEL, "usage": USAGE,
                           "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_openai_tools() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The tool-calling fake server's base URL (a free port on 127.0.0.1) and the requests it received."""
    with serving(_FakeOpenAIWithTools) as served:
        yield served


def _tool_round_trip(base_url: str) -> None:
    """The model asks for the tool, the tool answers with secrets in its JSON result, the model answers."""
    client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, timeout=30)
    try:
        messages: list[Any] = [{"role": "user", "content": "What is on ada's account?"}]
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=[TOOL])  # type: ignore[list-item]
        (call,) = first.choices[0].message.tool_calls or []
        assert json.loads(call.function.arguments)["api_key"] == ARGUMENT_SECRETS["api_key"]  # type: ignore[union-attr]
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append(
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"owner": "ada", **RESULT_SECRETS})}
        )
        second = client.chat.completions.create(model=MODEL, messages=messages, tools=[TOOL])  # type: ignore[list-item]
        assert second.choices[0].message.content == TOOL_ANSWER  # the base fake server answers a tool result
    finally:
        client.close()


def _raw_bytes(db_path: Path) -> bytes:
    """The database file with its -wal and -shm, as bytes: a secret cannot hide in a page the API never reads."""
    return b"".join(
        Path(f"{db_path}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{db_path}{suffix}").exists()
    )


def _assert_no_secret(db_path: Path) -> None:
    raw = _raw_bytes(db_path)
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret} is stored in clear"


def _instrumented_round_trip(instrumentor: Any, settings: Settings, base_url: str) -> None:
    spans, logs = LensSpanExporter(settings), LensLogExporter(settings)
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "agent"}), shutdown_on_exit=False)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))
    instrumentor.instrument(tracer_provider=provider, logger_provider=logger_provider)
    try:
        _tool_round_trip(base_url)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()  # flushes the batch processors into the store
        logger_provider.shutdown()


def _shown(db_path: Path) -> list[dict[str, Any]]:
    """``otel-lens show --json`` of every stored trace, as a subprocess (the CLI a person would run)."""
    with open_store(str(db_path)) as store:
        trace_ids = [trace.trace_id for trace in store.traces(since="1h")]
    assert trace_ids, "no trace stored"
    shown = []
    for trace_id in trace_ids:
        result = subprocess.run(
            [sys.executable, "-m", "otel_lens", "show", trace_id, "--json", "--database", str(db_path)],
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode()
        for secret in SECRETS:
            assert secret not in result.stdout.decode(), f"show --json prints {secret}"
        shown.append(json.loads(result.stdout))
    return shown


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, and in the JSON texts inside those strings, at any depth."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value
        if value.lstrip()[:1] in ("{", "["):
            with contextlib.suppress(ValueError):  # prose that starts with a brace
                yield from _strings(json.loads(value))


def test_openai_v2_tool_call_secrets_in_message_json_are_redacted(
    sqlite_settings: Settings,
    db_path: Path,
    fake_openai_tools: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """opentelemetry-instrumentation-openai-v2 with content capture on (span attributes and the
    gen_ai.client.inference.operation.details event): the tool call's arguments (JSON text inside the
    output and input messages' JSON text) and the tool result lose their api_key and password on disk,
    while the messages stay readable JSON with the marker in place and the non-secret owner kept."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_and_event")
    base_url, calls = fake_openai_tools
    _instrumented_round_trip(OpenAIInstrumentor(), sqlite_settings, base_url)
    assert len(calls) == 2
    _assert_no_secret(db_path)
    with open_store(sqlite_settings.database) as store:
        chats = [s for t in store.traces(since="1h") for s in store.trace(t.trace_id).spans]
        events = store.logs(since="1h")
    inputs = [s.attributes["gen_ai.input.messages"] for s in chats if "gen_ai.input.messages" in s.attributes]
    outputs = [s.attributes["gen_ai.output.messages"] for s in chats if "gen_ai.output.messages" in s.attributes]
    assert len(inputs) == 2 and len(outputs) == 2, "content capture stored the messages as span attributes"
    stored_text = " ".join([*inputs, *outputs])
    assert REDACTED in stored_text and "lookup_account" in stored_text and "ada" in stored_text
    for text in (*inputs, *outputs):
        json.loads(text)  # still JSON after the rewrite
    assert any(REDACTED in json.dumps(e.attributes) for e in events), "the operation-details event is redacted"
    shown = list(_strings(_shown(db_path)))
    assert REDACTED in shown and "ada" in shown


def test_openinference_tool_call_secrets_in_json_values_are_redacted(
    sqlite_settings: Settings, db_path: Path, fake_openai_tools: tuple[str, list[dict[str, Any]]]
) -> None:
    """openinference-instrumentation-openai: input.value/output.value (application/json) and the flattened
    llm.input_messages.N.message.content / …tool_call.function.arguments hold the secrets as JSON text;
    none is stored, and the JSON values keep their other content with the redaction marker in place."""
    from openinference.instrumentation.openai import OpenAIInstrumentor

    base_url, calls = fake_openai_tools
    _instrumented_round_trip(OpenAIInstrumentor(), sqlite_settings, base_url)
    assert len(calls) == 2
    _assert_no_secret(db_path)
    with open_store(sqlite_settings.database) as store:
        chats = [s for t in store.traces(since="1h") for s in store.trace(t.trace_id).spans]
    assert len(chats) == 2
    second = next(s for s in chats if "llm.input_messages.2.message.content" in s.attributes)
    assert json.loads(second.attributes["llm.input_messages.2.message.content"]) == {
        "owner": "ada",
        "api_key": REDACTED,
        "password": REDACTED,
    }
    arguments = [v for k, v in second.attributes.items() if k.endswith("tool_call.function.arguments")]
    assert [json.loads(a) for a in arguments] == [{"owner": "ada", "api_key": REDACTED, "password": REDACTED}]
    assert second.attributes["input.mime_type"] == "application/json"
    request = json.loads(second.attributes["input.value"])
    assert json.loads(request["messages"][2]["content"]) == {"owner": "ada", **dict.fromkeys(RESULT_SECRETS, REDACTED)}
    shown = list(_strings(_shown(db_path)))
    assert REDACTED in shown and "ada" in shown
