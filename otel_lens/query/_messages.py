"""The transcript of each GenAI span, read at query time from the stored span and its log records.

Every shape the conventions have used is read (see :mod:`otel_lens.query._message_parts` and
:mod:`otel_lens.query._message_flat` for the fields), the first one present winning, so a span an
instrumentation describes twice (openai-v2's ``span_and_event`` mode puts the same messages on the
span and in an event) is shown once:

1. ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` on the span;
2. the ``gen_ai.client.inference.operation.details`` event (a log record of the span, or a span event);
3. the legacy events ``gen_ai.system.message`` / ``gen_ai.user.message`` / ``gen_ai.assistant.message`` /
   ``gen_ai.tool.message`` / ``gen_ai.choice`` (and the older ``gen_ai.content.prompt``/``completion``),
   log records correlated by span id or span events, in time order;
4. OpenInference's ``llm.input_messages.*`` / ``llm.output_messages.*``;
5. OpenLLMetry's ``gen_ai.prompt.*`` / ``gen_ai.completion.*``;
6. an ``execute_tool`` span's ``gen_ai.tool.call.arguments`` / ``result``.

Nothing is stored for this (no schema change): the transcript is derived from what the write path
stored, already redacted, so a secret it removed shows as its ``[REDACTED]`` marker and nothing else.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from otel_lens._genai_usage import genai_usage
from otel_lens.query._message_flat import openinference, openllmetry
from otel_lens.query._message_model import (
    TOOL_CALL,
    TOOL_CALL_RESPONSE,
    Message,
    MessagePart,
    ToolDefinition,
    Transcript,
)
from otel_lens.query._message_parts import MAX_PARTS, as_text, message_of, messages_of, tool_definitions_of
from otel_lens.query.results import LogRecord, SpanRecord

OPERATION_DETAILS = "gen_ai.client.inference.operation.details"
_LEGACY_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.choice": "assistant",
}
_OLDEST = {"gen_ai.content.prompt": ("gen_ai.prompt", "user", False),
           "gen_ai.content.completion": ("gen_ai.completion", "assistant", True)}  # fmt: skip
MESSAGE_EVENTS = frozenset({OPERATION_DETAILS, *_LEGACY_ROLES, *_OLDEST})
"""Names of the events (log records or span events) a transcript is read from: ``show`` prints them as the
transcript, not again one by one."""
_QUIET = frozenset({"gen_ai.system", "gen_ai.provider.name", "event.name", "gen_ai.event.name"})
_MAX_MESSAGES = 1000  # kept from the end: the latest turns are what a reader looks for
_CONTENT_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_OPENINFERENCE_REDACTED = "__REDACTED__"

CAPTURE_HINT = (
    "no message content stored: set OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental"
    " and OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY (or EVENT_ONLY, SPAN_AND_EVENT);"
    " older instrumentations on the v1.30 conventions take OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true"
)
"""The first suggestion is what opentelemetry-instrumentation-openai-v2 2.4b0 accepts: its util-genai only has the
latest-conventions path and rejects ``true`` (warning once per call, storing no content); ``true`` stays as the
fallback for the instrumentations that still read it."""
OPENINFERENCE_HINT = (
    "no messages stored: OpenInference hid them (OPENINFERENCE_HIDE_INPUTS, OPENINFERENCE_HIDE_INPUT_MESSAGES,"
    " OPENINFERENCE_HIDE_OUTPUTS or OPENINFERENCE_HIDE_OUTPUT_MESSAGES is set): unset them or set them to false"
)
OPENLLMETRY_HINT = "no message content stored: OpenLLMetry's TRACELOOP_TRACE_CONTENT is false; set it to true"


@dataclasses.dataclass(frozen=True)
class _Record:
    """A log record or a span event, as far as messages go."""

    time_ns: int
    name: str
    body: Any
    attributes: Mapping[str, Any]


def is_message_record(name: str | None) -> bool:
    return name in MESSAGE_EVENTS


def log_event_name(log: LogRecord) -> str | None:
    """A log record's event name: the field, or the ``event.name`` attribute older SDKs set instead."""
    name = log.event_name or log.attributes.get("event.name")
    return name if isinstance(name, str) else None


def _is_genai(span: SpanRecord, records: Sequence[_Record]) -> bool:
    if records:
        return True
    return any(key.startswith(("gen_ai.", "llm.")) for key in span.attributes) or (
        "openinference.span.kind" in span.attributes
    )


def _records(span: SpanRecord, logs: Iterable[LogRecord]) -> list[_Record]:
    found = [_Record(e.time_ns, e.name, None, e.attributes) for e in span.events if e.name in MESSAGE_EVENTS]
    for log in logs:
        name = log_event_name(log)
        if name in MESSAGE_EVENTS:
            found.append(_Record(log.timestamp_ns, name, log.body, log.attributes))
    found.sort(key=lambda record: record.time_ns)
    return found


def _from_attributes(attributes: Mapping[str, Any]) -> list[Message]:
    messages: list[Message] = []
    for key, role, output in (
        ("gen_ai.system_instructions", "system", False),
        ("gen_ai.input.messages", "user", False),
        ("gen_ai.output.messages", "assistant", True),
    ):
        value = attributes.get(key)
        if value is not None:
            messages += messages_of(value, role, output)[0]
    return messages


def _legacy(records: Sequence[_Record]) -> list[Message]:
    messages: list[Message] = []
    for record in records:
        if record.name in _OLDEST:
            key, default, output = _OLDEST[record.name]
            if key in record.attributes:
                messages += messages_of(record.attributes[key], default, output)[0]
            continue
        role = _LEGACY_ROLES.get(record.name)
        if role is None:
            continue
        body = record.body
        if body is None:  # a span event (or a log without a body) carries the fields as attributes
            body = {key: value for key, value in record.attributes.items() if key not in _QUIET}
        messages.append(message_of(body, role, record.name == "gen_ai.choice"))
    return messages


def _tool_span(attributes: Mapping[str, Any]) -> list[Message]:
    """An ``execute_tool`` span as the call it made and what came back."""
    if attributes.get("gen_ai.operation.name") != "execute_tool":
        return []
    call_id = attributes.get("gen_ai.tool.call.id")
    arguments = attributes.get("gen_ai.tool.call.arguments")
    result = attributes.get("gen_ai.tool.call.result")
    if arguments is None and result is None:
        return []
    ident = None if call_id is None else as_text(call_id)
    name = as_text(attributes.get("gen_ai.tool.name", "?"))
    messages = [Message("assistant", (MessagePart(TOOL_CALL, id=ident, name=name,
                                                  arguments=None if arguments is None else as_text(arguments)),))]  # fmt: skip
    if result is not None:
        messages.append(Message("tool", (MessagePart(TOOL_CALL_RESPONSE, id=ident, result=as_text(result)),)))
    return messages


def _read(span: SpanRecord, records: Sequence[_Record]) -> tuple[str | None, list[Message], list[ToolDefinition]]:
    """The first shape present (module docstring order): its name, messages and tool definitions."""
    attributes = span.attributes
    tools = (
        tool_definitions_of(attributes["gen_ai.tool.definitions"]) if "gen_ai.tool.definitions" in attributes else []
    )
    messages = _from_attributes(attributes)
    if messages:
        return "gen_ai.input.messages", messages, tools
    for record in records:
        if record.name == OPERATION_DETAILS:
            messages = _from_attributes(record.attributes)
            if not tools and "gen_ai.tool.definitions" in record.attributes:
                tools = tool_definitions_of(record.attributes["gen_ai.tool.definitions"])
            if messages:
                return OPERATION_DETAILS, messages, tools
    messages = _legacy(records)
    if messages:
        return "events", messages, tools
    for name, reader in (("openinference", openinference), ("openllmetry", openllmetry)):
        inputs, outputs, found = reader(attributes)
        if inputs or outputs or found:
            return name, inputs + outputs, tools or found
    messages = _tool_span(attributes)
    return ("gen_ai.tool.call" if messages else None), messages, tools


def _hint(span: SpanRecord, messages: Sequence[Message], records: Sequence[_Record]) -> str | None:
    """Why a model call shows no content, and what to set; None when it has some (or is no model call)."""
    if any(message.has_content for message in messages):
        return None
    attributes = span.attributes
    for key in ("gen_ai.input.messages.ref", "gen_ai.output.messages.ref"):
        if key in attributes:
            return f"messages not stored here: a completion hook uploaded them to {as_text(attributes[key])}"
    if "openinference.span.kind" in attributes:
        if attributes["openinference.span.kind"] != "LLM":
            return None
        hidden = _OPENINFERENCE_REDACTED in (attributes.get("input.value"), attributes.get("output.value"))
        return OPENINFERENCE_HINT if hidden or "llm.model_name" in attributes else None
    if "llm.request.type" in attributes and not any(key.startswith("gen_ai.prompt.") for key in attributes):
        return OPENLLMETRY_HINT
    if attributes.get("gen_ai.operation.name") in _CONTENT_OPERATIONS or records or messages:
        return CAPTURE_HINT
    return None


def _finish_reasons(attributes: Mapping[str, Any], messages: Sequence[Message]) -> tuple[str, ...]:
    stated = attributes.get("gen_ai.response.finish_reasons")
    if isinstance(stated, (list, tuple)):
        return tuple(str(reason) for reason in stated[:MAX_PARTS])
    if isinstance(stated, str):
        return (stated,)
    return tuple(m.finish_reason for m in messages if m.output and m.finish_reason is not None)


def transcript_of(span: SpanRecord, logs: Iterable[LogRecord] = ()) -> Transcript | None:
    """The transcript of ``span`` from its attributes, its events and ``logs`` (its log records); None when
    ``span`` is no GenAI span. Never raises on what an instrumentation stored: unknown shapes are kept raw."""
    records = _records(span, logs)
    if not _is_genai(span, records):
        return None
    source, messages, tools = _read(span, records)
    usage = genai_usage(span.attributes)
    hint = _hint(span, messages, records)
    if not messages and not tools and usage is None and hint is None:
        return None
    if len(messages) > _MAX_MESSAGES:
        cut = len(messages) - _MAX_MESSAGES
        marker = Message("unknown", (MessagePart("raw", content=f"[{cut} earlier messages cut]"),))
        messages = [marker, *messages[-_MAX_MESSAGES:]]
    return Transcript(
        messages=tuple(messages),
        tool_definitions=tuple(tools),
        finish_reasons=_finish_reasons(span.attributes, messages),
        usage=usage,
        source=source,
        hint=hint,
    )


def with_transcripts(spans: list[SpanRecord], logs: Iterable[LogRecord]) -> list[SpanRecord]:
    """``spans`` with the transcript of each GenAI span attached (the others as they are)."""
    by_span: dict[str | None, list[LogRecord]] = collections.defaultdict(list)
    for log in logs:
        by_span[log.span_id].append(log)
    attached = []
    for span in spans:
        transcript = transcript_of(span, by_span.get(span.span_id, ()))
        attached.append(span if transcript is None else dataclasses.replace(span, transcript=transcript))
    return attached
