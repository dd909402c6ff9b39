"""Each message shape the GenAI conventions, OpenInference and OpenLLMetry have used, read into one transcript.

Hand-written attributes, events and log records (as the instrumentations write them) go through
:func:`otel_lens.query.transcript_of`; the last cases store spans through the real exporter and read them
back with ``Store.trace()``, including malformed and huge values and a non-GenAI span.
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens import open_store
from otel_lens.export.spans import LensSpanExporter
from otel_lens.query import LogRecord, ScopeInfo, SpanEvent, SpanRecord, Transcript, transcript_of
from otel_lens.settings import Settings


def _span(attributes: dict[str, Any], events: list[SpanEvent] | None = None) -> SpanRecord:
    return SpanRecord(
        trace_id="0" * 32, span_id="1" * 16, parent_span_id=None, name="chat", kind="CLIENT", flags=1,
        start_ns=1, end_ns=2, status_code="UNSET", status_message=None, attributes=attributes,
        events=events or [], links=[], resource={}, scope=ScopeInfo("tests", None, {}),
    )  # fmt: skip


def _log(name: str, body: Any, time_ns: int, attributes: dict[str, Any] | None = None) -> LogRecord:
    return LogRecord(id=time_ns, timestamp_ns=time_ns, observed_ns=time_ns, severity_text=None, severity_number=None,
                     body=body, attributes=attributes or {"gen_ai.system": "openai"}, trace_id="0" * 32,
                     span_id="1" * 16, service=None, logger=None, event_name=name)  # fmt: skip


def _read(span: SpanRecord, logs: list[LogRecord] | None = None) -> Transcript:
    transcript = transcript_of(span, logs or [])
    assert transcript is not None
    return transcript


def _said(transcript: Transcript) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(m.role, [p.as_dict() for p in m.parts]) for m in transcript.messages]


def test_latest_conventions_json_string_attributes() -> None:
    """gen_ai.system_instructions / input / output messages as JSON text (span attributes): role + parts, tool call,
    tool call response, reasoning, a uri placeholder, finish reason, and tool definitions."""
    span = _span({
        "gen_ai.operation.name": "chat",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": "Look"},
                                       {"type": "uri", "modality": "image", "mime_type": "image/png",
                                        "uri": "https://img.example/cat.png"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"x": 1}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"ok": True}}]},
        ]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop",
                                               "parts": [{"type": "reasoning", "content": "hmm"},
                                                         {"type": "text", "content": "Done"}]}]),
        "gen_ai.tool.definitions": json.dumps([{"type": "function", "name": "f", "description": "F",
                                                "parameters": {"type": "object"}}]),
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5,
    })  # fmt: skip
    transcript = _read(span)
    assert transcript.source == "gen_ai.input.messages"
    assert _said(transcript) == [
        ("system", [{"type": "text", "content": "Be brief."}]),
        ("user", [{"type": "text", "content": "Look"},
                  {"type": "media", "content": "[image uri image/png https://img.example/cat.png]",
                   "uri": "https://img.example/cat.png", "mime_type": "image/png", "kind": "uri"}]),
        ("assistant", [{"type": "tool_call", "id": "c1", "name": "f", "arguments": '{"x":1}'}]),
        ("tool", [{"type": "tool_call_response", "id": "c1", "result": '{"ok":true}'}]),
        ("assistant", [{"type": "reasoning", "content": "hmm"}, {"type": "text", "content": "Done"}]),
    ]  # fmt: skip
    assert transcript.messages[-1].output and transcript.messages[-1].finish_reason == "stop"
    assert transcript.finish_reasons == ("stop",)
    assert [t.as_dict() for t in transcript.tool_definitions] == [
        {"name": "f", "description": "F", "parameters": '{"type":"object"}'}
    ]
    assert transcript.usage is not None and transcript.usage.input_tokens == 10 and transcript.hint is None


def test_operation_details_log_record_with_structured_attributes() -> None:
    """The gen_ai.client.inference.operation.details log record (structured attributes, as util-genai emits them)."""
    record = _log(
        "gen_ai.client.inference.operation.details", None, 5,
        {"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}],
         "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "yo"}],
                                     "finish_reason": "stop"}]},
    )  # fmt: skip
    transcript = _read(_span({"gen_ai.operation.name": "chat"}), [record])
    assert transcript.source == "gen_ai.client.inference.operation.details"
    assert _said(transcript) == [("user", [{"type": "text", "content": "hi"}]),
                                 ("assistant", [{"type": "text", "content": "yo"}])]  # fmt: skip


def test_legacy_events_as_log_records_in_time_order() -> None:
    """gen_ai.system/user/assistant/tool.message and gen_ai.choice log records, correlated by span id, in time order
    (not arrival order), with OpenAI-style tool calls and a tool message's id."""
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}
    logs = [
        _log("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "21C"}}, 6),
        _log("gen_ai.system.message", {"content": "Be brief."}, 1),
        _log("gen_ai.user.message", {"content": "Weather?"}, 2),
        _log("gen_ai.assistant.message", {"tool_calls": [call]}, 3),
        _log("gen_ai.tool.message", {"content": "21", "id": "c1"}, 4),
    ]  # fmt: skip
    transcript = _read(_span({"gen_ai.system": "openai"}), logs)
    assert transcript.source == "events"
    assert _said(transcript) == [
        ("system", [{"type": "text", "content": "Be brief."}]),
        ("user", [{"type": "text", "content": "Weather?"}]),
        ("assistant", [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": '{"city":"Paris"}'}]),
        ("tool", [{"type": "tool_call_response", "id": "c1", "result": "21"}]),
        ("assistant", [{"type": "text", "content": "21C"}]),
    ]
    assert transcript.finish_reasons == ("stop",)


def test_legacy_events_as_span_events_and_without_content() -> None:
    """Legacy events as span events carry their fields as attributes; with content capture off they say nothing,
    and the transcript carries the hint naming the variables to set."""
    events = [SpanEvent("gen_ai.user.message", 1, {"gen_ai.system": "openai", "content": "hi"})]
    assert _said(_read(_span({}, events))) == [("user", [{"type": "text", "content": "hi"}])]
    empty = [SpanEvent("gen_ai.user.message", 1, {"gen_ai.system": "openai"}),
             SpanEvent("gen_ai.choice", 2, {"index": 0, "finish_reason": "stop"})]  # fmt: skip
    transcript = _read(_span({"gen_ai.operation.name": "chat"}, empty))
    assert (
        transcript.hint is not None
        and "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY" in transcript.hint
    )


def test_openinference_flattened_messages() -> None:
    """llm.input_messages.N.message.* including contents.M (text and image) and tool_calls.K, and llm.output_messages."""
    span = _span({
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.contents.0.message_content.type": "text",
        "llm.input_messages.0.message.contents.0.message_content.text": "What is this?",
        "llm.input_messages.0.message.contents.1.message_content.type": "image",
        "llm.input_messages.0.message.contents.1.message_content.image.image.url": "data:image/png;base64,AAAA",
        "llm.input_messages.10.message.role": "tool",  # index order, not text order
        "llm.input_messages.10.message.tool_call_id": "c1",
        "llm.input_messages.10.message.content": "ok",
        "llm.input_messages.2.message.role": "assistant",
        "llm.input_messages.2.message.tool_calls.0.tool_call.id": "c1",
        "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "look",
        "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments": "{}",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "A cat.",
        "llm.finish_reason": "stop",
    })  # fmt: skip
    transcript = _read(span)
    assert transcript.source == "openinference"
    assert [m.role for m in transcript.messages] == ["user", "assistant", "tool", "assistant"]
    assert _said(transcript)[0][1][1]["content"] == "[image_url, inline data, 26 characters]"
    assert _said(transcript)[1][1] == [{"type": "tool_call", "id": "c1", "name": "look", "arguments": "{}"}]
    assert _said(transcript)[2][1] == [{"type": "tool_call_response", "id": "c1", "result": "ok"}]
    assert transcript.messages[-1].finish_reason == "stop"


def test_openllmetry_flattened_prompts_and_completions() -> None:
    """gen_ai.prompt.N.* / gen_ai.completion.N.* with tool calls and llm.request.functions.N.*."""
    span = _span({
        "llm.request.type": "chat",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Weather?",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.id": "c1", "gen_ai.completion.0.tool_calls.0.name": "weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"city":"Paris"}',
        "llm.request.functions.0.name": "weather", "llm.request.functions.0.description": "W",
    })  # fmt: skip
    transcript = _read(span)
    assert transcript.source == "openllmetry"
    assert _said(transcript) == [
        ("user", [{"type": "text", "content": "Weather?"}]),
        ("assistant", [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": '{"city":"Paris"}'}]),
    ]
    assert transcript.finish_reasons == ("tool_calls",) and transcript.tool_definitions[0].name == "weather"
    hidden = _read(_span({"llm.request.type": "chat", "gen_ai.system": "OpenAI"}))
    assert hidden.hint is not None and "TRACELOOP_TRACE_CONTENT" in hidden.hint


def test_malformed_and_unknown_shapes_are_shown_raw() -> None:
    """Unparseable JSON, an unknown part type, a non-list tool_calls and a number as a message never raise:
    each is kept as a raw part with its text."""
    span = _span({
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "cut',
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "hologram", "depth": 3}],
                                               "tool_calls": "nope"}, 42]),
        "gen_ai.tool.definitions": "{not json",
    })  # fmt: skip
    transcript = _read(span)
    said = _said(transcript)
    assert said[0] == ("user", [{"type": "raw", "content": span.attributes["gen_ai.input.messages"]}])
    assert said[1] == ("assistant", [{"type": "raw", "content": '{"type":"hologram","depth":3}', "kind": "hologram"},
                                     {"type": "raw", "content": "nope"}])  # fmt: skip
    assert said[2] == ("assistant", [{"type": "raw", "content": "42"}])
    assert transcript.tool_definitions[0].raw == "{not json"


def test_huge_content_is_cut_with_a_marker() -> None:
    """A 1 MB message is kept to its first 20000 characters plus a marker saying how many were cut."""
    huge = "x" * 1_000_000
    transcript = _read(_span({"gen_ai.input.messages": json.dumps([{"role": "user", "content": huge}])}))
    (part,) = transcript.messages[0].parts
    assert part.content == "x" * 20_000 + "… [980000 more characters cut]"


def test_execute_tool_span_and_non_genai_span() -> None:
    """An execute_tool span reads as its call and result; a span without GenAI attributes has no transcript."""
    tool = _read(_span({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather",
                        "gen_ai.tool.call.id": "c1", "gen_ai.tool.call.arguments": '{"city":"Paris"}',
                        "gen_ai.tool.call.result": "21"}))  # fmt: skip
    assert _said(tool) == [
        ("assistant", [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": '{"city":"Paris"}'}]),
        ("tool", [{"type": "tool_call_response", "id": "c1", "result": "21"}]),
    ]
    assert transcript_of(_span({"http.request.method": "GET"})) is None


def test_store_trace_attaches_transcripts_and_keeps_secrets_redacted(sqlite_settings: Settings) -> None:
    """Stored through the real exporter and read with Store.trace(): the GenAI span's JSON gains "messages" and
    "genai", the other span gains neither; a secret-keyed value and a URL secret inside the messages stay the
    redaction marker, shown as text."""
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(sqlite_settings)))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("turn") as turn, tracer.start_as_current_span("chat") as chat:
        chat.set_attribute("gen_ai.operation.name", "chat")
        chat.set_attribute("gen_ai.input.messages", json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "see https://x.example/?api_key=hunter2"}]}]))  # fmt: skip
    provider.shutdown()
    with open_store(sqlite_settings.database) as store:
        detail = store.trace(f"{turn.get_span_context().trace_id:032x}")
    spans = {span.name: span.as_dict() for span in detail.spans}
    assert "messages" not in spans["turn"] and "genai" not in spans["turn"]
    assert spans["chat"]["messages"] == [{"role": "user", "direction": "input", "finish_reason": None,
                                          "parts": [{"type": "text", "content": "see https://x.example/?api_key=[REDACTED]"}]}]  # fmt: skip
    assert "hunter2" not in json.dumps(spans)
