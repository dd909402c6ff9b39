"""One-line summaries of events: log records with an event name and span events (GenAI messages above all).

GenAI instrumentations (opentelemetry-instrumentation-openai-v2 and others) store prompts and
completions as events whose body is a map, or empty when content capture is off: printed as a plain
body they were blank lines. Here an event reads as its name plus what it says: role, content, tool
calls, finish reason, else its attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rich.text import Text

from otel_lens.cli._format import one_line
from otel_lens.query import LogRecord

_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.choice": "assistant",
}
_SAID_ELSEWHERE = ("role", "content", "tool_calls", "message", "parts")
# Attributes every event of a kind carries: they say where it came from, not what it says.
_QUIET = frozenset({"gen_ai.system", "gen_ai.provider.name", "event.name", "gen_ai.event.name"})
_CONTENT_ATTRIBUTES = ("gen_ai.prompt", "gen_ai.completion", "content", "message")
_MESSAGE_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
_BIG = 10**9  # "no limit" for one_line: the caller cuts once, after assembling the line


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def log_message(log: LogRecord, limit: int | None) -> Text:
    """The text of a log record: its body; for an event, its name and what it says; else its attributes."""
    if log.event_name:
        return Text.assemble(
            (log.event_name, "blue"), " ", event_summary(log.event_name, log.body, log.attributes, limit)
        )
    if is_empty(log.body) and log.attributes:
        return Text(_attributes(log.attributes, limit), "dim")
    return Text(one_line(log.body, _BIG if limit is None else limit))


def event_summary(name: str, body: Any, attributes: Mapping[str, Any], limit: int | None) -> str:
    """What the event ``name`` says, on one line; ``limit`` cuts the content (``None``: whole)."""
    if any(key in attributes for key in _MESSAGE_ATTRIBUTES) and is_empty(body):
        return _operation(attributes, limit)
    if name.startswith("gen_ai.") and (isinstance(body, Mapping) or is_empty(body)):
        return _message(name, body if isinstance(body, Mapping) else {}, attributes, limit)
    if not is_empty(body):
        return _cut(one_line(body, _BIG), limit)
    return _attributes(attributes, limit)


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _message(name: str, body: Mapping[str, Any], attributes: Mapping[str, Any], limit: int | None) -> str:
    """``role: content`` with tool calls and the other fields of a GenAI message or choice event."""
    inner = body.get("message")
    message: Mapping[str, Any] = inner if isinstance(inner, Mapping) else body
    role = message.get("role") or _ROLES.get(name)
    said = []
    content = _content(message.get("content", message.get("parts")))
    if content is None:
        content = next((_content(attributes[k]) for k in _CONTENT_ATTRIBUTES if k in attributes), None)
    if content:
        said.append(content)
    for call in message.get("tool_calls") or ():
        said.append("→ " + _tool_call(call))
    facts = [f"{key}={one_line(value, 200)}" for key, value in body.items() if key not in _SAID_ELSEWHERE]
    if message is not body:
        facts += [f"{key}={one_line(value, 200)}" for key, value in message.items() if key not in _SAID_ELSEWHERE]
    text = " ".join(said) if said else "(no content stored)"
    head = f"{role}: " if role else ""
    tail = f"  ({', '.join(facts)})" if facts else ""
    return _cut(head + text, None if limit is None else max(limit - len(tail), 20)) + tail


def _operation(attributes: Mapping[str, Any], limit: int | None) -> str:
    """A ``gen_ai.client.inference.operation.details`` event (or a span) by its messages: input, then → output.

    Cut (on a terminal), only the last input message is kept before the output, with a count of the
    earlier ones: the question and its answer are what a reader looks for.
    """
    inputs = [_said(m) for m in _messages(attributes.get("gen_ai.system_instructions"), "system")]
    inputs += [_said(m) for m in _messages(attributes.get("gen_ai.input.messages"), None)]
    outputs = ["→ " + _said(m) for m in _messages(attributes.get("gen_ai.output.messages"), "assistant")]
    earlier = ""
    if limit is not None and len(inputs) > 1:
        earlier = f"  (+{len(inputs) - 1} earlier message{'s' * (len(inputs) != 2)})"
        inputs = inputs[-1:]
    if limit is not None and outputs:
        inputs = [_cut(text, limit // 2) for text in inputs]  # leave room for the answer
    return _cut("  ".join(inputs + outputs) + earlier, limit)


def _messages(value: Any, role: str | None) -> list[Mapping[str, Any]]:
    """GenAI messages as stored: a JSON string or structured, a list of messages or of parts."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [{"role": role, "content": value}]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return []
    if role == "system" and value and all(isinstance(v, Mapping) and "role" not in v for v in value):
        return [{"role": "system", "parts": value}]  # system instructions are a list of parts
    return [v if isinstance(v, Mapping) else {"role": role, "content": v} for v in value]


def _said(message: Mapping[str, Any]) -> str:
    content = _content(message.get("content", message.get("parts")))
    calls = [_tool_call(call) for call in message.get("tool_calls") or ()]
    calls += [
        _tool_call({"function": part})
        for part in message.get("parts") or ()
        if isinstance(part, Mapping) and part.get("type") == "tool_call"
    ]
    text = " ".join([content or "", *(f"→ {call}" for call in calls)]).strip() or "(no content stored)"
    role = message.get("role")
    return f"{role}: {text}" if role else text


def _content(value: Any) -> str | None:
    """Message content as text: a string, or the text of its parts (``[{"type": "text", "content": …}]``)."""
    if is_empty(value):
        return None
    if isinstance(value, str):
        return one_line(value.strip(), _BIG)
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, Mapping) and part.get("type") == "tool_call":
                continue  # said as "→ name(arguments)"
            if isinstance(part, Mapping):
                text = part.get("content", part.get("text"))
                texts.append(one_line(text, _BIG) if isinstance(text, str) else one_line(part, _BIG))
            else:
                texts.append(one_line(part, _BIG))
        return " ".join(text.strip() for text in texts)
    return one_line(value, _BIG)


def _tool_call(call: Any) -> str:
    if not isinstance(call, Mapping):
        return one_line(call, 200)
    function = call.get("function")
    if isinstance(function, Mapping):
        arguments = function.get("arguments")
        shown = "" if arguments is None else one_line(arguments, _BIG)
        return f"{function.get('name', '?')}({shown})"
    return one_line(call, 200)


def _attributes(attributes: Mapping[str, Any], limit: int | None) -> str:
    pairs = [f"{key}={one_line(value, _BIG)}" for key, value in attributes.items() if key not in _QUIET]
    return _cut("  ".join(pairs), limit)
