"""``otel-lens show``: a GenAI span's conversation printed under it, one item per message.

System prompt, each message by role, tool calls with their arguments (``→ name(arguments)  #id``), tool
results (``← #id result``), reasoning, media placeholders, the finish reason, then the tokens (input with
cache read/creation, output with reasoning). A span without stored content gets one dim line saying
why and what to set. Piped, texts print whole up to the transcript's own bound; on a terminal each
message is cut to fit a few lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from rich.text import Text

from otel_lens.cli._format import one_line
from otel_lens.query import MESSAGE_EVENTS, LogRecord, Message, MessagePart, SpanRecord, Transcript, log_event_name

_PIPED_TEXT = 20_000  # the read side already bounds each text to this
_TERMINAL_TEXT = 600
_MESSAGE_LINES = 6  # on a terminal, lines one message may wrap over
_ROLE_STYLES = {"system": "magenta", "user": "green", "assistant": "cyan", "tool": "yellow"}


def transcript_lines(span: SpanRecord, terminal: bool) -> Iterator[tuple[Text, int]]:
    """The items of ``span``'s transcript with the lines each may wrap over; nothing for other spans."""
    transcript = span.transcript
    if transcript is None:
        return
    limit = _TERMINAL_TEXT if terminal else _PIPED_TEXT
    if transcript.hint is not None:
        yield Text(transcript.hint, "dim italic"), 3
    else:
        for message in transcript.messages:
            yield _message(message, limit), _MESSAGE_LINES
        if transcript.tool_definitions:
            names = ", ".join(tool.name for tool in transcript.tool_definitions)
            yield Text(f"tools offered: {names}", "dim"), 2
    tokens = _tokens(transcript)
    if tokens:
        yield Text(tokens, "dim"), 2


def _message(message: Message, limit: int) -> Text:
    text = Text("↳ " if message.output else "", "dim")
    text.append(
        message.role + (f" ({message.name})" if message.name else ""), f"bold {_ROLE_STYLES.get(message.role, '')}"
    )
    text.append(": ")
    said = [_part(part, limit) for part in message.parts]
    for index, part in enumerate(said or [Text("(empty)", "dim")]):
        if index:
            text.append("  ")
        text.append_text(part)
    if message.finish_reason:
        text.append(f"  [{message.finish_reason}]", "dim")
    return text


def _part(part: MessagePart, limit: int) -> Text:
    if part.type == "tool_call":
        call = Text(f"→ {part.name or '?'}(", "blue")
        call.append(one_line(part.arguments or "", limit))
        call.append(")", "blue")
        if part.id:
            call.append(f"  #{part.id}", "dim")
        return call
    if part.type == "tool_call_response":
        head = Text("← ", "blue")
        if part.id:
            head.append(f"#{part.id} ", "dim")
        head.append(one_line(part.result or "", limit))
        return head
    if part.type == "reasoning":
        return Text("(reasoning) " + one_line(part.content or "", limit), "italic dim")
    if part.type == "media":
        return Text(one_line(part.content or "[media]", limit), "dim")
    if part.type == "raw":
        return Text(one_line(part.content or "", limit), "dim")
    return Text(one_line(part.content or "", limit))


def _tokens(transcript: Transcript) -> str:
    usage = transcript.usage
    if usage is None:
        return ""
    inputs = [f"cache read {usage.cache_read_tokens}"] if usage.cache_read_tokens else []
    if usage.cache_creation_tokens:
        inputs.append(f"cache creation {usage.cache_creation_tokens}")
    line = f"tokens: input {usage.input_tokens}" + (f" ({', '.join(inputs)})" if inputs else "")
    line += f", output {usage.output_tokens}"
    if usage.reasoning_tokens:
        line += f" (reasoning {usage.reasoning_tokens})"
    return line


def without_message_records(span: SpanRecord, logs: list[LogRecord]) -> tuple[SpanRecord, list[LogRecord]]:
    """``span`` and its ``logs`` less the events its transcript was read from (all of them for other spans)."""
    if span.transcript is None:
        return span, logs
    events = [event for event in span.events if event.name not in MESSAGE_EVENTS]
    kept = [log for log in logs if log_event_name(log) not in MESSAGE_EVENTS]
    return (span if len(events) == len(span.events) else dataclasses.replace(span, events=events)), kept
