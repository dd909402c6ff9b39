"""One-line summaries of events: log records with an event name and span events (GenAI messages above all).

GenAI instrumentations (opentelemetry-instrumentation-openai-v2 and others) store prompts and
completions as events whose body is a map, or empty when content capture is off: printed as a plain
body they were blank lines. Here an event reads as its name plus what it says: role, content, tool
calls, finish reason, else its attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from otel_lens.cli._format import one_line
from otel_lens.query.results import LogRecord

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


def _content(value: Any) -> str | None:
    """Message content as text: a string, or the text of its parts (``[{"type": "text", "content": …}]``)."""
    if is_empty(value):
        return None
    if isinstance(value, str):
        return one_line(value, _BIG)
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, Mapping):
                text = part.get("content", part.get("text"))
                texts.append(one_line(text, _BIG) if isinstance(text, str) else one_line(part, _BIG))
            else:
                texts.append(one_line(part, _BIG))
        return " ".join(texts)
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
