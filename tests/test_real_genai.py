"""Real GenAI stacks: the official ``openai`` client, instrumented by opentelemetry-instrumentation-openai-v2 or by
openinference-instrumentation-openai, against a fake OpenAI-compatible server on 127.0.0.1, stored by
LensSpanExporter through a BatchSpanProcessor and read back with ``store.usage()``.

Only the OpenAI API is fake (a real HTTP server in a thread); client, instrumentations, SDK and store are real.
What each instrumentation reports for a chat completion (installed versions, checked here):
openai-v2 sets ``gen_ai.usage.input_tokens``/``output_tokens`` only (its cache-token attributes are for the
Responses API); OpenInference sets ``llm.token_count.*`` with the cache-read and reasoning details.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_lens import open_store
from otel_lens.export.spans import LensSpanExporter
from otel_lens.query.results import UsageRow
from otel_lens.settings import Settings

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 120, "audio_tokens": 0},
}


TOOL_CALL = {"id": "call_weather_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}  # fmt: skip
TOOL_ANSWER = "It is 21 degrees in Paris."


def answer_to(request: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason for a non-streaming request: a call of the first tool offered
    when the last message is the user's, the weather once the tool's result came back, else "Hello"."""
    last = request["messages"][-1]
    if request.get("tools") and last["role"] == "user":
        return {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}, "tool_calls"
    if last["role"] == "tool":
        return {"role": "assistant", "content": TOOL_ANSWER}, "stop"
    return {"role": "assistant", "content": "Hello"}, "stop"


class _FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: one answer (:func:`answer_to`), as JSON, or "Hello" as server-sent events ending in
    a usage chunk."""

    calls: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays clean
        pass

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.calls.append(request)
        base = {"id": f"chatcmpl-{len(self.calls)}", "created": int(time.time()), "model": RESPONSE_MODEL}
        if request.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            delta = {"object": "chat.completion.chunk", **base}
            chunks = [
                {**delta, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
                {**delta, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
                {**delta, "choices": [], "usage": USAGE},  # stream_options.include_usage: the last chunk
            ]  # fmt: skip
            for chunk in chunks:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        message, finish = answer_to(request)
        body = json.dumps({"object": "chat.completion", **base, "usage": USAGE,
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}]}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving(handler: type[_FakeOpenAI]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A fake server with ``handler`` on a free port of 127.0.0.1: its base URL and the requests it received."""
    calls: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (handler,), {"calls": calls}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def fake_openai() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The fake server's base URL (a free port on 127.0.0.1) and the requests it received."""
    with serving(_FakeOpenAI) as served:
        yield served


def _chat_twice(base_url: str) -> None:
    """One plain and one streaming chat completion through the real openai client."""
    client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, timeout=30)
    try:
        answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "Hello"
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "Hello"
    finally:
        client.close()


def _usage_of_instrumented_calls(instrumentor: Any, settings: Settings, base_url: str) -> dict[str, UsageRow]:
    exporter = LensSpanExporter(settings)
    provider = TracerProvider(resource=Resource.create({"service.name": "chatbot"}), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor.instrument(tracer_provider=provider)
    try:
        _chat_twice(base_url)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()  # flushes the batch processor into the store
    with open_store(settings.database) as store:
        return {row.key: row for row in store.usage(since="1h", by="model")}


def _stored_attributes(settings: Settings) -> list[dict[str, Any]]:
    with open_store(settings.database) as store:
        traces = store.traces(since="1h")
        return [span.attributes for trace in traces for span in store.trace(trace.trace_id).spans]


def test_openai_v2_instrumentation_usage_is_counted_once_per_call(
    sqlite_settings: Settings, fake_openai: tuple[str, list[dict[str, Any]]]
) -> None:
    """opentelemetry-instrumentation-openai-v2 on a plain and a streaming call: one usage span each, counted
    once, under the response model and provider openai, with the input and output tokens the API returned."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    base_url, calls = fake_openai
    rows = _usage_of_instrumented_calls(OpenAIInstrumentor(), sqlite_settings, base_url)
    assert len(calls) == 2
    assert list(rows) == [RESPONSE_MODEL]
    row = rows[RESPONSE_MODEL]
    assert (row.span_count, row.input_tokens, row.output_tokens) == (2, 2 * 1200, 2 * 300)
    # Cache and reasoning counts are stored exactly when the instrumentation reports them (this version doesn't
    # for chat completions): never guessed, never counted twice.
    spans = [a for a in _stored_attributes(sqlite_settings) if "gen_ai.usage.input_tokens" in a]
    assert len(spans) == 2 and all(a["gen_ai.provider.name"] == "openai" for a in spans)
    assert row.cache_read_tokens == sum(a.get("gen_ai.usage.cache_read.input_tokens", 0) for a in spans)
    assert row.reasoning_tokens == sum(a.get("gen_ai.usage.reasoning.output_tokens", 0) for a in spans)
    with open_store(sqlite_settings.database) as store:
        assert [r.key for r in store.usage(since="1h", by="provider")] == ["openai"]
        assert [r.key for r in store.usage(since="1h", by="service")] == ["chatbot"]


def test_openinference_instrumentation_usage_counts_cache_and_reasoning_tokens(
    sqlite_settings: Settings, fake_openai: tuple[str, list[dict[str, Any]]]
) -> None:
    """openinference-instrumentation-openai on a plain and a streaming call: llm.token_count.* give input, output,
    cache-read and reasoning tokens, llm.model_name the model and llm.system the provider, once per call."""
    from openinference.instrumentation.openai import OpenAIInstrumentor

    base_url, calls = fake_openai
    rows = _usage_of_instrumented_calls(OpenAIInstrumentor(), sqlite_settings, base_url)
    assert len(calls) == 2
    assert list(rows) == [RESPONSE_MODEL]
    row = rows[RESPONSE_MODEL]
    assert (row.span_count, row.input_tokens, row.output_tokens) == (2, 2 * 1200, 2 * 300)
    assert (row.cache_read_tokens, row.cache_creation_tokens, row.reasoning_tokens) == (2 * 1000, 0, 2 * 120)
    with open_store(sqlite_settings.database) as store:
        assert [r.key for r in store.usage(since="1h", by="provider")] == ["openai"]
    if row.price_key is not None:  # genai-prices installed (the dev extra): the dated model is priced by name
        assert row.price_key.startswith("genai-prices:openai/gpt-4o-mini") and row.cost is not None
