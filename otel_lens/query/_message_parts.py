"""Reading one stored message, part or tool definition, whatever its shape, into the transcript model.

Shapes met in the wild: the GenAI conventions' role + parts (``{"role", "parts": [{"type": "text",
"content"}, {"type": "tool_call", "id", "name", "arguments"}, {"type": "tool_call_response", "id",
"response"}, …], "finish_reason"}``), earlier drafts and legacy event bodies in the OpenAI style
(``{"role", "content", "tool_calls": [{"id", "function": {"name", "arguments"}}], "tool_call_id"}``),
``gen_ai.choice`` bodies wrapping a message in ``"message"``, and JSON text of any of these. Nothing
here raises: what is not understood becomes a ``raw`` part holding the value as text. Every text is
bounded (:func:`bounded`), so a huge prompt costs a bounded amount to read and print.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from otel_lens.query._message_model import (
    MEDIA,
    RAW,
    REASONING,
    TEXT,
    TOOL_CALL,
    TOOL_CALL_RESPONSE,
    Message,
    MessagePart,
    ToolDefinition,
)

MAX_TEXT = 20_000
"""Characters of one text (content, arguments, result) kept; the rest is replaced by a marker saying how much."""
MAX_PARTS = 200
_REASONING_TYPES = frozenset({"reasoning", "thinking", "redacted_thinking"})
_RESPONSE_TYPES = frozenset({"tool_call_response", "tool_result", "function_call_output", "tool_response"})
_CALL_TYPES = frozenset({"tool_call", "function_call", "tool_use", "server_tool_call"})
_MEDIA_TYPES = frozenset({"blob", "uri", "file", "image_url", "image", "input_image", "input_audio", "audio"})


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` whole up to ``limit`` characters, else its start and a marker with the number of characters cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters cut]"


def as_text(value: Any) -> str:
    """A stored value as bounded text: strings as they are, anything else as compact JSON (its repr if not JSON)."""
    if isinstance(value, str):
        return bounded(value)
    try:
        return bounded(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode())
    except TypeError:
        return bounded(repr(value))


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else as_text(value)


def parse_json(value: Any) -> tuple[Any, bool]:
    """``value`` decoded when it is JSON text (a JSON string attribute), and whether it could be read."""
    if not isinstance(value, str):
        return value, True
    try:
        return orjson.loads(value), True
    except orjson.JSONDecodeError:
        return value, False


def _raw(value: Any, kind: str | None = None) -> MessagePart:
    return MessagePart(RAW, content=as_text(value), kind=kind)


def _media(part: Mapping[str, Any], kind: str) -> MessagePart:
    """A placeholder for an image, audio or file: its type, MIME type and where it is, never its bytes."""
    mime = part.get("mime_type") or part.get("mimeType")
    modality = part.get("modality")
    uri = part.get("uri") or part.get("url")
    nested = part.get(kind)
    if isinstance(nested, Mapping):  # OpenAI's {"type": "image_url", "image_url": {"url": …}}
        uri = uri or nested.get("url")
        mime = mime or nested.get("format")
    label = " ".join(str(v) for v in (modality, kind, mime) if v)
    if isinstance(uri, str) and uri.startswith("data:"):  # inline base64: say its size, not its bytes
        described = f"[{label}, inline data, {len(uri)} characters]"
        uri = None
    elif uri:
        described = f"[{label} {bounded(str(uri), 2000)}]"
    elif part.get("file_id"):
        described = f"[{label} file {part.get('file_id')}]"
    else:
        content = part.get("content") or part.get("data")
        size = f", {len(content)} characters" if isinstance(content, (str, bytes)) else ""
        described = f"[{label}{size}]"
    return MessagePart(
        MEDIA,
        content=described,
        uri=None if uri is None else bounded(str(uri), 2000),
        mime_type=None if mime is None else str(mime),
        kind=kind,
    )


def _call(part: Mapping[str, Any], kind: str | None) -> MessagePart:
    function = part.get("function")
    source: Mapping[str, Any] = function if isinstance(function, Mapping) else part
    arguments = source.get("arguments", source.get("input", part.get("server_tool_call")))
    return MessagePart(
        TOOL_CALL,
        id=_optional(part.get("id") or part.get("call_id")),
        name=_optional(source.get("name")) or "?",
        arguments=_optional(arguments),
        kind=None if kind in (None, TOOL_CALL) else kind,
    )


def part_of(raw: Any) -> MessagePart:
    """One part of a message: a string is text; a map by its ``type``; anything else raw."""
    if isinstance(raw, str):
        return MessagePart(TEXT, content=bounded(raw))
    if not isinstance(raw, Mapping):
        return _raw(raw)
    kind = raw.get("type")
    kind = kind if isinstance(kind, str) else None
    if kind in (None, TEXT, "input_text", "output_text") and ("content" in raw or "text" in raw):
        text = raw.get("content", raw.get("text"))
        return MessagePart(TEXT, content=as_text(text)) if text is not None else MessagePart(TEXT)
    if kind in _CALL_TYPES or (kind is None and "function" in raw):
        return _call(raw, kind)
    if kind in _RESPONSE_TYPES:
        result = raw.get("response", raw.get("result", raw.get("output", raw.get("content"))))
        return MessagePart(
            TOOL_CALL_RESPONSE, id=_optional(raw.get("id") or raw.get("tool_call_id") or raw.get("call_id")),
            result=_optional(result),
        )  # fmt: skip
    if kind in _REASONING_TYPES:
        return MessagePart(REASONING, content=_optional(raw.get("content", raw.get("thinking", raw.get("text")))))
    if kind in _MEDIA_TYPES:
        return _media(raw, kind)
    return _raw(raw, kind)


def _parts(content: Any) -> list[MessagePart]:
    if content is None or content == "":
        return []
    if isinstance(content, list):
        return [part_of(item) for item in content[:MAX_PARTS]] + _more(len(content) - MAX_PARTS)
    if isinstance(content, str) and content[:1] == "[":  # OpenLLMetry stores a list of parts as JSON text
        decoded, ok = parse_json(content)
        if ok and isinstance(decoded, list) and all(isinstance(p, Mapping) and "type" in p for p in decoded):
            return _parts(decoded)
    return [part_of(content)]


def _more(count: int) -> list[MessagePart]:
    return [MessagePart(RAW, content=f"[{count} more parts cut]")] if count > 0 else []


def message_of(raw: Any, role: str | None, output: bool) -> Message:
    """One message; ``role`` is the default when the shape names none (a ``gen_ai.user.message`` body)."""
    if not isinstance(raw, Mapping):
        return Message(role or "unknown", tuple(_parts(raw) if isinstance(raw, (str, list)) else [_raw(raw)]), output)
    inner = raw.get("message")
    body: Mapping[str, Any] = inner if isinstance(inner, Mapping) else raw  # gen_ai.choice: {"message": {…}}
    stated = body.get("role")
    role = str(stated) if isinstance(stated, str) and stated else (role or "unknown")
    call_id = body.get("tool_call_id") or (body.get("id") if role == "tool" else None)
    content = body.get("parts", body.get("content"))
    if role == "tool" and call_id is not None and not isinstance(content, list):
        parts = [MessagePart(TOOL_CALL_RESPONSE, id=as_text(call_id), result=_optional(content))]
    else:
        parts = _parts(content)
    calls = body.get("tool_calls")
    if isinstance(calls, list):
        parts += [_call(call, None) if isinstance(call, Mapping) else _raw(call) for call in calls[:MAX_PARTS]]
    elif calls is not None:
        parts.append(_raw(calls))
    function_call = body.get("function_call")  # OpenAI's pre-tools shape
    if isinstance(function_call, Mapping):
        parts.append(_call(function_call, "function_call"))
    finish = raw.get("finish_reason", body.get("finish_reason"))
    name = body.get("name")
    return Message(
        role,
        tuple(parts),
        output,
        finish_reason=None if finish is None else str(finish),
        name=name if isinstance(name, str) and role != "tool" else None,
    )


def messages_of(value: Any, role: str | None, output: bool) -> tuple[list[Message], bool]:
    """The messages of one attribute (JSON text or structured), and whether it was readable.

    A list of messages, one message, or (``gen_ai.system_instructions``) a list of parts or a plain
    string, which is one message of the default role. Unreadable JSON is one message holding it raw.
    """
    decoded, ok = parse_json(value)
    if not ok:
        text = str(value)
        return [Message(role or "unknown", (_raw(text) if text[:1] in "[{" else part_of(text),), output)], False
    if isinstance(decoded, Mapping):
        decoded = [decoded]
    if not isinstance(decoded, list):
        return [message_of(decoded, role, output)], True
    is_message = [isinstance(item, Mapping) and ("role" in item or "message" in item) for item in decoded]
    if decoded and not any(is_message):  # system instructions: a list of parts, or of strings
        return [Message(role or "unknown", tuple(_parts(decoded)), output)], True
    return [message_of(item, role, output) for item in decoded], True


def tool_definitions_of(value: Any) -> list[ToolDefinition]:
    """Tools offered to the model: the conventions' ``{type, name, description, parameters}`` or OpenAI's
    ``{type: "function", function: {…}}``, as JSON text or structured; unreadable ones raw."""
    decoded, ok = parse_json(value)
    if not ok:
        return [ToolDefinition("?", raw=as_text(value))]
    items = decoded if isinstance(decoded, list) else [decoded]
    tools = []
    for item in items[:MAX_PARTS]:
        function = item.get("function") if isinstance(item, Mapping) else None
        source = function if isinstance(function, Mapping) else item
        if not isinstance(source, Mapping) or not isinstance(source.get("name"), str):
            tools.append(ToolDefinition("?", raw=as_text(item)))
            continue
        parameters = source.get("parameters", source.get("input_schema"))
        tools.append(ToolDefinition(
            bounded(source["name"], 200), _optional(source.get("description")), _optional(parameters),
        ))  # fmt: skip
    return tools
