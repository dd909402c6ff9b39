"""The transcript of a GenAI span: one model for every shape the GenAI conventions (and OpenInference, OpenLLMetry)
have stored messages in.

A transcript is what a reader wants to see of a model call: the system instructions and the messages by
role, each made of parts (text, a tool call with its arguments, a tool call's result, reasoning, a media
placeholder, or a part we don't know shown raw), the finish reasons, the tools offered, the tokens used, and
when no content was stored, a hint saying which setting would have stored it. Built by
:mod:`otel_lens.query._messages`; ``as_dict()`` gives the JSON the span's ``"messages"``/``"genai"`` keys hold.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from otel_lens.store.rows import GenAIUsage

TEXT = "text"
TOOL_CALL = "tool_call"
TOOL_CALL_RESPONSE = "tool_call_response"
REASONING = "reasoning"
MEDIA = "media"
RAW = "raw"
"""Part types of the model; other shapes are mapped onto these (an unknown part becomes ``raw``, its JSON as text)."""


@dataclasses.dataclass(frozen=True)
class MessagePart:
    """One part of a message; which fields are set depends on ``type`` (see the module constants).

    ``text``/``reasoning``/``raw``: ``content``. ``tool_call``: ``id``, ``name``, ``arguments`` (text, JSON as
    stored). ``tool_call_response``: ``id``, ``result``. ``media``: ``content`` is a placeholder describing it,
    ``uri`` and ``mime_type`` when known. ``kind`` keeps the part's own type name when it was mapped (``uri``,
    ``blob``, ``image_url``, an unknown type).
    """

    type: str
    content: str | None = None
    id: str | None = None
    name: str | None = None
    arguments: str | None = None
    result: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    kind: str | None = None

    def as_dict(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        return {key: value for key, value in fields.items() if value is not None}


@dataclasses.dataclass(frozen=True)
class Message:
    """A message by ``role`` (``system``, ``user``, ``assistant``, ``tool`` or what was stored); ``output`` marks
    what the model answered (as opposed to what it was sent)."""

    role: str
    parts: tuple[MessagePart, ...]
    output: bool = False
    finish_reason: str | None = None
    name: str | None = None  # a participant's name, when the shape has one

    @property
    def has_content(self) -> bool:
        return any(part.type != TEXT or part.content for part in self.parts)

    def as_dict(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role,
            "parts": [part.as_dict() for part in self.parts],
            "direction": "output" if self.output else "input",
            "finish_reason": self.finish_reason,
        }
        if self.name is not None:
            message["name"] = self.name
        return message


@dataclasses.dataclass(frozen=True)
class ToolDefinition:
    """A tool offered to the model: its name, description and parameters (JSON text), or ``raw`` when unreadable."""

    name: str
    description: str | None = None
    parameters: str | None = None
    raw: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


@dataclasses.dataclass(frozen=True)
class Transcript:
    """What a GenAI span says of its conversation; ``source`` names the shape the messages were read from."""

    messages: tuple[Message, ...] = ()
    tool_definitions: tuple[ToolDefinition, ...] = ()
    finish_reasons: tuple[str, ...] = ()
    usage: GenAIUsage | None = None
    source: str | None = None
    hint: str | None = None  # set when no content was stored: why, and what to set

    def as_dict(self) -> dict[str, Any]:
        """The extra keys of a GenAI span's JSON: ``messages`` (in order) and ``genai`` (the rest)."""
        usage = None
        if self.usage is not None:
            usage = {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "cache_read_tokens": self.usage.cache_read_tokens,
                "cache_creation_tokens": self.usage.cache_creation_tokens,
                "reasoning_tokens": self.usage.reasoning_tokens,
            }
        return {
            "messages": [message.as_dict() for message in self.messages],
            "genai": {
                "source": self.source,
                "tool_definitions": [tool.as_dict() for tool in self.tool_definitions],
                "finish_reasons": list(self.finish_reasons),
                "usage": usage,
                "content_hint": self.hint,
            },
        }
