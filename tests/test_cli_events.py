"""Events in ``show`` and ``logs``: GenAI prompts and completions read as their name and what they say.

The records come from the real opentelemetry-instrumentation-openai-v2 (against a small fake
OpenAI-compatible server on 127.0.0.1 in this file) and from the SDK's own ``Logger.emit``.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from rich.console import Console

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.cli._views import render_logs
from otel_lens.cli._waterfall import render_trace
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings

QUESTION = "What is the capital of France? Answer in one long sentence, " + "please " * 100
ANSWER = "The capital of France is Paris, " + "and that is all there is to it " * 10


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/chat/completions with one assistant choice, as the OpenAI API does."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        body = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": ANSWER}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        }).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextlib.contextmanager
def fake_openai() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def providers(settings: Settings) -> Iterator[tuple[TracerProvider, LoggerProvider]]:
    resource = Resource.create({"service.name": "agent"})
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(settings)))
    try:
        yield tracer_provider, logger_provider
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()


def chat_through_openai_v2(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """One chat completion through the real openai client and openai-v2 instrumentation; the trace id."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_AND_EVENT")
    with providers(settings) as (tracer_provider, logger_provider), fake_openai() as base_url:
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
        try:
            client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
            with tracer_provider.get_tracer("tests").start_as_current_span("agent turn") as turn:
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
                )
            return f"{turn.get_span_context().trace_id:032x}"
        finally:
            instrumentor.uninstrument()


def terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False), out


def test_openai_v2_operation_details_event_in_logs_and_show(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """openai-v2's gen_ai.client.inference.operation.details record (empty body) prints its messages, not a blank."""
    trace_id = chat_through_openai_v2(sqlite_settings, monkeypatch)
    database = ["--database", sqlite_settings.database]
    assert main(["logs", *database]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    question, answer = " ".join(QUESTION.split()), " ".join(ANSWER.split())
    assert line.endswith(f"gen_ai.client.inference.operation.details system: Be brief.  user: {question}  "
                         f"→ assistant: {answer}")  # fmt: skip

    assert main(["logs", "--json", *database]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["event_name"] == "gen_ai.client.inference.operation.details" and record["body"] is None
    assert main(["logs", "--search", "CAPITAL OF FRANCE", "--json", *database]) == 0  # found in its attributes
    assert [r["event_name"] for r in json.loads(capsys.readouterr().out)] == [record["event_name"]]

    # On a terminal, show prints the span's transcript (read from the span, so the event is not repeated), each
    # message cut to fit a few lines.
    console, text = terminal(100)
    with open_store(sqlite_settings.database) as store:
        render_trace(store.trace(trace_id), console)
    shown = text.getvalue().splitlines()
    assert all(len(line) <= 100 for line in shown)
    assert not any("gen_ai.client.inference.operation." in line for line in shown)
    (first,) = [index for index, line in enumerate(shown) if "user: What is the capital of France?" in line]
    assert "system: Be brief." in shown[first - 1]
    question = " ".join(line.strip(" │") for line in shown[first : first + 6] if "↳ assistant" not in line)
    assert "…" in question and len(question) < len(QUESTION)
    assert any("↳ assistant: The capital of France is" in line for line in shown[first:])


def emit_legacy_events(settings: Settings, content: bool) -> None:
    """The records openai-v2 wrote before util-genai 1.0 (and still writes on its legacy path), via the SDK."""
    system = {"gen_ai.system": "openai"}
    with providers(settings) as (_, logger_provider):
        logger = logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
        logger.emit(LogRecord(event_name="gen_ai.user.message", attributes=system,
                              body={"content": QUESTION} if content else None))  # fmt: skip
        message: dict[str, Any] = {"role": "assistant"}
        if content:
            message["content"] = ANSWER
        logger.emit(LogRecord(event_name="gen_ai.choice", attributes=system,
                              body={"index": 0, "finish_reason": "stop", "message": message}))  # fmt: skip
        tool_call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
        }
        logger.emit(LogRecord(event_name="gen_ai.assistant.message", attributes=system,
                              body={"tool_calls": [tool_call]}))  # fmt: skip


def test_legacy_genai_events_print_role_and_content(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """gen_ai.user.message / gen_ai.choice / tool calls print as name, role and content, whole when piped."""
    emit_legacy_events(sqlite_settings, content=True)
    assert main(["logs", "--database", sqlite_settings.database]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert any(line.endswith(f"gen_ai.user.message user: {' '.join(QUESTION.split())}") for line in lines)
    assert any(line.endswith(f"gen_ai.choice assistant: {' '.join(ANSWER.split())}  (index=0, finish_reason=stop)")
               for line in lines)  # fmt: skip
    assert any(line.endswith('gen_ai.assistant.message assistant: → weather({"city":"Paris"})') for line in lines)
    with open_store(sqlite_settings.database) as store:
        found = store.logs()
    console, out = terminal(100)
    render_logs(found, console)
    user = [line for line in out.getvalue().splitlines() if "gen_ai.user.message" in line]
    assert user and user[0].endswith("…") and len(user[0]) < len(QUESTION) + 60  # cut on a terminal


def test_events_without_content_say_so_instead_of_a_blank_line(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """With content capture off the bodies are empty: each event still says its name and role."""
    emit_legacy_events(sqlite_settings, content=False)
    assert main(["logs", "--database", sqlite_settings.database]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.endswith("gen_ai.user.message user: (no content stored)") for line in lines)
    assert any(line.endswith("gen_ai.choice assistant: (no content stored)  (index=0, finish_reason=stop)")
               for line in lines)  # fmt: skip


def test_logs_search_finds_attributes_and_event_names(sqlite_settings: Settings) -> None:
    """--search matches attribute text and the event name as well as the body, literally and case-insensitively."""
    with providers(sqlite_settings) as (_, logger_provider):
        logger = logger_provider.get_logger("tests.events")
        logger.emit(LogRecord(event_name="deploy.finished", attributes={"deploy.id": "D-100%_x", "ok": True}))
        logger.emit(LogRecord(body="plain message", attributes={"user.name": "Ada Lovelace"}))
        logger.emit(LogRecord(body="unrelated", severity_number=SeverityNumber.INFO))
    with open_store(sqlite_settings.database) as store:
        assert [r.event_name for r in store.logs(search="DEPLOY.FIN")] == ["deploy.finished"]
        assert [r.event_name for r in store.logs(search="d-100%_X")] == ["deploy.finished"]
        assert store.logs(search="D-1000") == [] and store.logs(search="100%%") == []
        assert [r.body for r in store.logs(search="lovelace")] == ["plain message"]
        assert [r.body for r in store.logs(search="unrelated")] == ["unrelated"]
        found = store.logs()
    console, out = terminal(120)
    render_logs(found, console)
    lines = out.getvalue().splitlines()
    assert any(line.endswith("deploy.finished deploy.id=D-100%_x  ok=true") for line in lines)


def test_span_events_show_under_their_span(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Span events other than exceptions are listed under the span; a legacy GenAI prompt event is read into the
    span's transcript (its text under the span, by role) instead of being listed again."""
    with providers(sqlite_settings) as (tracer_provider, _):
        with tracer_provider.get_tracer("tests").start_as_current_span("chat gpt-4o") as span:
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "hello there"})
            span.add_event("cache.miss", {"key": "user:42"})
        trace_id = f"{span.get_span_context().trace_id:032x}"
    assert main(["show", trace_id, "--database", sqlite_settings.database]) == 0
    out = capsys.readouterr().out
    assert "user: hello there" in out and "gen_ai.content.prompt" not in out
    assert "• cache.miss key=user:42" in out
    assert trace.get_current_span() is trace.INVALID_SPAN
