"""Messages stored as flattened attributes, one attribute per field: OpenInference and OpenLLMetry.

OpenInference: ``llm.input_messages.N.message.role`` / ``.content`` / ``.name`` / ``.tool_call_id`` /
``.contents.M.message_content.{type,text,image.image.url}`` / ``.tool_calls.K.tool_call.{id,function.name,
function.arguments}``, the same under ``llm.output_messages``, and ``llm.tools.N.tool.json_schema``.
OpenLLMetry: ``gen_ai.prompt.N.{role,content,tool_call_id,tool_calls.K.{id,name,arguments}}``,
``gen_ai.completion.N.{role,content,finish_reason,tool_calls.K.…,function_call.…}`` and
``llm.request.functions.N.{name,description,parameters}``.

Both are first folded back into nested values (numbered segments become lists in index order), then read
by :mod:`otel_lens.query._message_parts` like any JSON message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from otel_lens.query._message_model import Message, ToolDefinition
from otel_lens.query._message_parts import message_of, tool_definitions_of

_MAX_INDEX = 10_000  # a larger index is not a message number (and must not make a huge list)


def unflatten(attributes: Mapping[str, Any], prefix: str) -> list[Any]:
    """The values under ``prefix.N.…`` folded back into a list, by N (gaps skipped); [] when there are none."""
    root: dict[str, Any] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        path = key[len(prefix) :].split(".")
        if not path[0].isdigit():
            continue
        node = root
        for segment in path[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = {}
            node = child
        node[path[-1]] = value
    folded = _lists(root)
    return folded if isinstance(folded, list) else []


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() and int(key) < _MAX_INDEX for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def _openinference_message(entry: Any) -> Any:
    """An OpenInference message tree in the OpenAI shape :func:`message_of` reads."""
    message = entry.get("message") if isinstance(entry, Mapping) else None
    if not isinstance(message, Mapping):
        return entry
    shaped: dict[str, Any] = {k: v for k, v in message.items() if k not in ("contents", "tool_calls")}
    contents = message.get("contents")
    if isinstance(contents, list):
        parts = []
        for item in contents:
            content = item.get("message_content") if isinstance(item, Mapping) else None
            if not isinstance(content, Mapping):
                parts.append(item)
            elif content.get("type") == "image":
                image = content.get("image")
                url = image.get("image", {}).get("url") if isinstance(image, Mapping) else None
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                parts.append({"type": "text", "content": content.get("text")})
        shaped["content"] = message.get("content", parts)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        shaped["tool_calls"] = [c.get("tool_call", c) if isinstance(c, Mapping) else c for c in calls]
    return shaped


def openinference(attributes: Mapping[str, Any]) -> tuple[list[Message], list[Message], list[ToolDefinition]]:
    """OpenInference's input messages, output messages and tools (each [] when absent)."""
    inputs = [message_of(_openinference_message(m), None, False) for m in unflatten(attributes, "llm.input_messages.")]
    outputs = [
        message_of(_openinference_message(m), "assistant", True) for m in unflatten(attributes, "llm.output_messages.")
    ]
    finish = attributes.get("llm.finish_reason")
    if outputs and outputs[-1].finish_reason is None and isinstance(finish, str):
        outputs[-1] = dataclasses.replace(outputs[-1], finish_reason=finish)
    tools: list[ToolDefinition] = []
    for tool in unflatten(attributes, "llm.tools."):
        schema = tool.get("tool", {}).get("json_schema") if isinstance(tool, Mapping) else tool
        tools += tool_definitions_of(schema)
    return inputs, outputs, tools


def openllmetry(attributes: Mapping[str, Any]) -> tuple[list[Message], list[Message], list[ToolDefinition]]:
    """OpenLLMetry's prompts, completions and functions (each [] when absent)."""
    inputs = [message_of(m, "user", False) for m in unflatten(attributes, "gen_ai.prompt.")]
    outputs = [message_of(m, "assistant", True) for m in unflatten(attributes, "gen_ai.completion.")]
    functions = unflatten(attributes, "llm.request.functions.")
    return inputs, outputs, tool_definitions_of(functions) if functions else []
