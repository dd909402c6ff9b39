"""The neutral span and log model every source is turned into before the row builder sees it.

A source adapter (``encode.py`` for the OTel SDK, ``_otlp.py`` for OTLP protobuf requests) turns
its objects into these plain values; :mod:`otel_lens.export._builder` turns them into store rows,
applying every policy once (redaction, caps, text safety, GenAI usage, bodies, interning).

The records are plain tuples typed field by field (mypy checks every adapter builds the right
shape) rather than NamedTuples: a NamedTuple costs ~1 µs to build, a tuple ~0.1 µs, and the SDK
adapter builds one per span on the export thread. ``*_FIELDS`` name the slots in order; the
builder unpacks them into locals of those names.

Conventions, the store's (and the SDK's):
- ids are big-endian bytes (16 for a trace, 8 for a span), ``None`` when absent;
- times are integer nanoseconds since the epoch;
- ``kind`` is the SDK's ``SpanKind`` value (0 internal … 4 consumer; OTLP's enum is one higher);
- ``status_code`` is 0 unset, 1 ok, 2 error (the SDK's and OTLP's);
- ``flags`` are OTLP span/link flags: the W3C trace flags in the low byte, ``0x100`` "is-remote is
  known" and ``0x200`` "the parent (link target) is remote";
- attribute maps are mappings of str to OTel values (str, bool, int, float, bytes, sequences of
  those; a log body and log attributes may also nest mappings and lists), ``None`` when empty;
- ``trace_state`` is the W3C ``tracestate`` header text, ``None`` when empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Attributes = Mapping[str, Any] | None


class ResourceLike(Protocol):
    """What the builder reads of a resource (the SDK's ``Resource`` is one as it is)."""

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def schema_url(self) -> str: ...


class ScopeLike(Protocol):
    """What the builder reads of an instrumentation scope (the SDK's ``InstrumentationScope`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def schema_url(self) -> str | None: ...

    @property
    def attributes(self) -> Mapping[str, Any] | None: ...


@dataclasses.dataclass(frozen=True, eq=False)
class Resource:
    """A resource for sources without SDK objects. The builder interns by identity: reuse one per resource."""

    attributes: Mapping[str, Any]
    schema_url: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class Scope:
    """An instrumentation scope for sources without SDK objects (interned by identity, like :class:`Resource`)."""

    name: str
    version: str | None = None
    schema_url: str | None = None
    attributes: Mapping[str, Any] | None = None


EventData = tuple[str, int, Attributes, int]
"""A span event: name, time, attributes, dropped attribute count."""
EVENT_FIELDS = ("name", "time_ns", "attributes", "dropped_attributes")

LinkData = tuple[bytes, bytes, int, str | None, Attributes, int]
"""A span link: the linked trace and span ids, flags, tracestate, attributes, dropped attribute count."""
LINK_FIELDS = ("trace_id", "span_id", "flags", "trace_state", "attributes", "dropped_attributes")

SpanData = tuple[
    bytes,  # trace_id
    bytes,  # span_id
    bytes | None,  # parent_span_id
    str,  # name
    int,  # kind
    int,  # flags
    int,  # start_ns
    int,  # end_ns
    int,  # status_code
    str | None,  # status_message
    Attributes,  # attributes
    Sequence[EventData],  # events
    Sequence[LinkData],  # links
    str | None,  # trace_state
    int,  # dropped_attributes
    int,  # dropped_events
    int,  # dropped_links
    ResourceLike | None,  # resource
    ScopeLike | None,  # scope
]
"""One finished span."""
SPAN_FIELDS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "flags",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
    "trace_state",
    "dropped_attributes",
    "dropped_events",
    "dropped_links",
    "resource",
    "scope",
)

LogData = tuple[
    int,  # timestamp_ns (0: unknown, the observed time is used)
    int,  # observed_ns (0: unknown)
    int | None,  # severity_number (None or 0: unspecified)
    str | None,  # severity_text
    Any,  # body: any OTel value, None when absent
    Attributes,  # attributes
    bytes | None,  # trace_id
    bytes | None,  # span_id
    int,  # flags: W3C trace flags
    str | None,  # event_name
    int,  # dropped_attributes
    ResourceLike | None,  # resource
    ScopeLike | None,  # scope
]
"""One log record."""
LOG_FIELDS = (
    "timestamp_ns",
    "observed_ns",
    "severity_number",
    "severity_text",
    "body",
    "attributes",
    "trace_id",
    "span_id",
    "flags",
    "event_name",
    "dropped_attributes",
    "resource",
    "scope",
)
