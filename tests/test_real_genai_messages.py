"""GenAI transcripts from real instrumentations: ``show`` and ``show --json`` print the conversation of each model call.

The official ``openai`` client, instrumented by opentelemetry-instrumentation-openai-v2 (on the latest
experimental conventions: the installed util-genai has no other path for chat completions) or by
openinference-instrumentation-openai, talks to the fake OpenAI-compatible server of ``test_real_genai``
(a real HTTP server on 127.0.0.1): a tool call in the first answer, the tool's result in the next
request, then a streaming call with usage. Spans and logs are stored by the real exporters.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import openai
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens.cli import main
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests.test_real_genai import MODEL, TOOL_ANSWER, fake_openai  # noqa: F401  (fake_openai: the server fixture)

SECRET = "s3cr3t-Tok3n"
QUESTION = f"Weather in Paris? My notes: https://notes.example/p?token={SECRET}"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
TOOL_RESULT = '{"temp": 21}'


def _conversation(base_url: str, tracer_provider: TracerProvider) -> str:
    """A tool call, its result sent back, then a streaming call with usage, all in one trace; its id."""
    client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, timeout=30)
    messages: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
    try:
        with tracer_provider.get_tracer("tests").start_as_current_span("agent run") as run:
            first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
            call = first.choices[0].message
            assert call.tool_calls and call.tool_calls[0].function.name == "get_weather"
            messages.append(call.model_dump(exclude_none=True))
            messages.append({"role": "tool", "tool_call_id": call.tool_calls[0].id, "content": TOOL_RESULT})
            second = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
            assert second.choices[0].message.content == TOOL_ANSWER
            stream = client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True,
                stream_options={"include_usage": True},
            )  # fmt: skip
            assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "Hello"
        return f"{run.get_span_context().trace_id:032x}"
    finally:
        client.close()


def _run(instrumentor: Any, settings: Settings, base_url: str) -> str:
    resource = Resource.create({"service.name": "agent"})
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(settings)))
    try:
        instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
        try:
            return _conversation(base_url, tracer_provider)
        finally:
            instrumentor.uninstrument()
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()


def _show(settings: Settings, trace_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], dict[str, Any]]:
    """``show``'s lines (without the tree's rails) and ``show --json``."""
    assert main(["show", trace_id, "--database", settings.database]) == 0
    lines = [line.strip(" │└├─") for line in capsys.readouterr().out.splitlines()]
    assert main(["show", trace_id, "--json", "--database", settings.database]) == 0
    return lines, json.loads(capsys.readouterr().out)


def _model_spans(shown: dict[str, Any]) -> list[dict[str, Any]]:
    spans = [span for span in shown["spans"] if span["name"] != "agent run"]
    assert "messages" not in next(span for span in shown["spans"] if span["name"] == "agent run")
    return sorted(spans, key=lambda span: span["start_time_unix_nano"])


def _in_order(lines: list[str], *expected: str) -> None:
    """Each expected text starts a line, in this order."""
    position = 0
    for text in expected:
        found = next((i for i in range(position, len(lines)) if lines[i].startswith(text)), None)
        assert found is not None, f"{text!r} not after line {position} in:\n" + "\n".join(lines)
        position = found + 1


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    return list(message["parts"])


@pytest.fixture
def openai_v2(monkeypatch: pytest.MonkeyPatch) -> Any:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    return OpenAIInstrumentor()


@pytest.mark.parametrize("mode", ["span_only", "event_only"])
def test_openai_v2_conversation_with_tool_call_in_show_and_json(
    sqlite_settings: Settings,
    fake_openai: tuple[str, list[dict[str, Any]]],  # noqa: F811
    openai_v2: Any,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """openai-v2 with content capture on the span (gen_ai.*.messages attributes) or in the operation.details log
    record: show prints each call's messages in order, the tool call with its arguments and id, the tool result,
    the finish reasons and tokens; the JSON holds the same; the URL secret stays the redaction marker."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", mode)
    trace_id = _run(openai_v2, sqlite_settings, fake_openai[0])
    lines, shown = _show(sqlite_settings, trace_id, capsys)
    redacted_question = QUESTION.replace(SECRET, "[REDACTED]")
    _in_order(lines,
              "system: Be brief.", f"user: {redacted_question}",
              '↳ assistant: → get_weather({"city":"Paris"})  #call_weather_1  [tool_calls]', "tokens: input 1200, output 300",
              "system: Be brief.", f"user: {redacted_question}",
              'assistant: → get_weather({"city":"Paris"})  #call_weather_1',
              f"tool: ← #call_weather_1 {TOOL_RESULT}", f"↳ assistant: {TOOL_ANSWER}  [stop]",
              "user: hi", "↳ assistant: Hello  [stop]", "tokens: input 1200, output 300")  # fmt: skip
    assert not any("gen_ai.client.inference.operation.details" in line for line in lines)  # said once
    assert SECRET not in json.dumps(shown) and SECRET not in "\n".join(lines)

    first, second, streamed = _model_spans(shown)
    source = "gen_ai.input.messages" if mode == "span_only" else "gen_ai.client.inference.operation.details"
    assert {span["genai"]["source"] for span in (first, second, streamed)} == {source}
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    (call,) = _parts(second["messages"][2])
    assert call == {"type": "tool_call", "id": "call_weather_1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    (result,) = _parts(second["messages"][3])
    assert result == {"type": "tool_call_response", "id": "call_weather_1", "result": TOOL_RESULT}
    assert second["messages"][-1]["direction"] == "output" and second["messages"][-1]["finish_reason"] == "stop"
    assert first["genai"]["finish_reasons"] == ["tool_calls"]
    assert streamed["genai"]["usage"] == {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 0,
                                          "cache_creation_tokens": 0, "reasoning_tokens": 0}  # fmt: skip
    assert all(span["genai"]["content_hint"] is None for span in (first, second, streamed))


def test_openai_v2_without_content_capture_says_what_to_set(
    sqlite_settings: Settings,
    fake_openai: tuple[str, list[dict[str, Any]]],  # noqa: F811
    openai_v2: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Content capture off (the default): under each chat span one line names the variables to set, the tokens
    are still shown, and no message text (nor the secret) appears."""
    trace_id = _run(openai_v2, sqlite_settings, fake_openai[0])
    lines, shown = _show(sqlite_settings, trace_id, capsys)
    hints = [line for line in lines if line.startswith("no message content stored")]
    assert len(hints) == 3
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY" in hints[0]
    assert "OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental" in hints[0]
    assert sum(line.startswith("tokens: input 1200, output 300") for line in lines) == 3
    assert not any("Weather in Paris" in line for line in lines)
    for span in _model_spans(shown):
        assert span["messages"] == [] and span["genai"]["content_hint"] == hints[0]


def test_openai_v2_following_the_hint_stores_content(
    sqlite_settings: Settings,
    fake_openai: tuple[str, list[dict[str, Any]]],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hint's first suggestion, set exactly as printed (and nothing else) on the installed openai-v2, makes
    the next run store the messages: no "not a valid option" warning, no hint any more."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    trace_id = _run(OpenAIInstrumentor(), sqlite_settings, fake_openai[0])
    (hint, *_) = [line for line in _show(sqlite_settings, trace_id, capsys)[0] if line.startswith("no message content")]
    first_suggestion = hint.split("(")[0]
    settings = re.findall(r"(OTEL_\w+)=(\w+)", first_suggestion)
    assert len(settings) == 2, hint
    for name, value in settings:
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.WARNING)
    trace_id = _run(OpenAIInstrumentor(), sqlite_settings, fake_openai[0])
    lines, shown = _show(sqlite_settings, trace_id, capsys)
    assert not any("not a valid option" in record.getMessage() for record in caplog.records)
    assert not any(line.startswith("no message content") for line in lines)
    assert any(line.startswith("user: hi") for line in lines)
    assert all(span["messages"] for span in _model_spans(shown))


@pytest.fixture
def openinference_openai() -> Any:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def test_openinference_conversation_with_tool_call_in_show_and_json(
    sqlite_settings: Settings,
    fake_openai: tuple[str, list[dict[str, Any]]],  # noqa: F811
    openinference_openai: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """OpenInference's flattened llm.input_messages.N / llm.output_messages.N / llm.tools.N: the same
    conversation in order, tool call and result, the tools offered, tokens with cache read and reasoning."""
    trace_id = _run(openinference_openai, sqlite_settings, fake_openai[0])
    lines, shown = _show(sqlite_settings, trace_id, capsys)
    redacted_question = QUESTION.replace(SECRET, "[REDACTED]")
    tokens = "tokens: input 1200 (cache read 1000), output 300 (reasoning 120)"
    _in_order(lines,
              "system: Be brief.", f"user: {redacted_question}",
              '↳ assistant: → get_weather({"city": "Paris"})  #call_weather_1  [tool_calls]',
              "tools offered: get_weather", tokens,
              'assistant: → get_weather({"city": "Paris"})  #call_weather_1', f"tool: ← #call_weather_1 {TOOL_RESULT}",
              f"↳ assistant: {TOOL_ANSWER}  [stop]",
              "user: hi", "↳ assistant: Hello  [stop]", tokens)  # fmt: skip
    assert SECRET not in json.dumps(shown)
    first, second, _ = _model_spans(shown)
    assert second["genai"]["source"] == "openinference"
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert _parts(second["messages"][3]) == [
        {"type": "tool_call_response", "id": "call_weather_1", "result": TOOL_RESULT}
    ]
    (tool,) = first["genai"]["tool_definitions"]
    assert tool["name"] == "get_weather" and tool["description"] == "Weather of a city"
    assert json.loads(tool["parameters"]) == TOOLS[0]["function"]["parameters"]  # type: ignore[index]


def test_openinference_hidden_messages_name_its_variables(
    sqlite_settings: Settings,
    fake_openai: tuple[str, list[dict[str, Any]]],  # noqa: F811
    openinference_openai: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """OPENINFERENCE_HIDE_INPUTS/OUTPUTS set: the hint names OpenInference's variables, not the OTel ones."""
    monkeypatch.setenv("OPENINFERENCE_HIDE_INPUTS", "true")
    monkeypatch.setenv("OPENINFERENCE_HIDE_OUTPUTS", "true")
    trace_id = _run(openinference_openai, sqlite_settings, fake_openai[0])
    lines, _ = _show(sqlite_settings, trace_id, capsys)
    hints = [line for line in lines if line.startswith("no messages stored: OpenInference hid them")]
    assert len(hints) == 3 and "OPENINFERENCE_HIDE_INPUTS" in hints[0]
    assert not any("Weather in Paris" in line for line in lines)
