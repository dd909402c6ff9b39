"""The OTel SDK adapter: ReadableSpan / ReadableLogRecord → the neutral model (:mod:`._model`) → the row builder.

This module knows the SDK's objects and nothing of the store's policies, which live in
:mod:`._builder` for every source. It reads private SDK fields where that is exact and faster
(see :func:`_span_fields`), and hands the SDK's own Resource and InstrumentationScope objects
through as they are (they already have the fields the builder reads).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, Status, TraceFlags, TraceState
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from otel_lens._redact import Redactor
from otel_lens.export._builder import build_logs, build_spans, encode_resource, encode_scope, safe_text
from otel_lens.export._model import EventData, LinkData, LogData, SpanData
from otel_lens.store.rows import FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, EncodedBatch

__all__ = ["encode_logs", "encode_resource", "encode_scope", "encode_spans", "plain_mapping", "safe_text"]


def plain_mapping(attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The SDK's attribute dict behind a ``BoundedAttributes`` (or a read-only view of one), else the mapping.

    orjson serializes a plain dict in C; any other Mapping costs a Python-level copy per span.
    """
    if attributes is None or type(attributes) is dict:
        return attributes
    inner = getattr(attributes, "_dict", None)
    return inner if type(inner) is dict else dict(attributes)


_SPAN_FIELDS = (
    "context",
    "parent",
    "name",
    "kind",
    "start_time",
    "end_time",
    "status",
    "attributes",
    "events",
    "links",
    "resource",
    "instrumentation_scope",
)
# SpanContext is a tuple (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid) behind its
# properties: unpacked in C when that holds, instead of five Python-level property calls per span.
_probe = TraceState([("k", "v")])
_probe_context = SpanContext(7, 9, True, trace_flags=TraceFlags(1), trace_state=_probe)
_CONTEXT_IS_TUPLE = isinstance(_probe_context, tuple) and tuple(_probe_context) == (7, 9, True, 1, _probe, True)
_public_fields = operator.attrgetter(*_SPAN_FIELDS)
_private_fields = operator.attrgetter(*(f"_{name}" for name in _SPAN_FIELDS))
_reads_private: dict[type, bool] = {}


def _reads_fields(cls: type) -> bool:
    """True when ``cls`` keeps ReadableSpan's properties as ReadableSpan defines them (the SDK's spans).

    ReadableSpan's properties wrap its fields (a MappingProxy around the attributes, a tuple copy of
    the events), which costs more per span than storing it. Such classes are read from the fields
    directly; any class that overrides one is read through its public properties.
    """
    direct = _reads_private.get(cls)
    if direct is None:
        direct = all(getattr(cls, name, None) is getattr(ReadableSpan, name) for name in _SPAN_FIELDS)
        _reads_private[cls] = direct
    return direct


def _public_dropped(span: ReadableSpan) -> tuple[int, int, int]:
    """The dropped attribute, event and link counts of a span class read through its properties."""
    return (
        getattr(span, "dropped_attributes", 0) or 0,
        getattr(span, "dropped_events", 0) or 0,
        getattr(span, "dropped_links", 0) or 0,
    )


def _events(events: Any) -> list[EventData]:
    """The neutral events of a span; the SDK's Event (and its BoundedAttributes) is read from its fields."""
    out: list[EventData] = []
    for event in events:
        if type(event) is Event:
            attributes = event._attributes
            if type(attributes) is BoundedAttributes:
                out.append((event._name, event._timestamp, attributes._dict, attributes.dropped))
            else:
                out.append((event._name, event._timestamp, plain_mapping(attributes), 0))
        else:
            out.append(
                (
                    event.name,
                    event.timestamp,
                    plain_mapping(event.attributes),
                    getattr(event, "dropped_attributes", 0) or 0,
                )
            )
    return out


def _links(links: Any) -> list[LinkData]:
    """The neutral links of a span: flags are the linked context's W3C flags plus its is-remote bits."""
    out: list[LinkData] = []
    for link in links:
        context = link.context
        flags = int(context.trace_flags) | FLAG_HAS_IS_REMOTE | (FLAG_IS_REMOTE if context.is_remote else 0)
        trace_state = context.trace_state
        out.append(
            (
                context.trace_id.to_bytes(16, "big"),
                context.span_id.to_bytes(8, "big"),
                flags,
                trace_state.to_header() or None if trace_state else None,
                plain_mapping(link.attributes),
                getattr(link, "dropped_attributes", 0) or 0,
            )
        )
    return out


def sdk_spans(spans: Sequence[ReadableSpan]) -> Iterator[SpanData]:
    """The neutral spans of ``spans`` (spans without a context, never started, are skipped)."""
    last_class: type | None = None
    direct = True
    for span in spans:
        cls = type(span)
        if cls is not last_class:
            last_class, direct = cls, _reads_fields(cls)
        context, parent, name, kind, start, end, status, attributes, events, links, resource, scope = (
            _private_fields(span) if direct else _public_fields(span)
        )
        if context is None:
            continue
        if direct:  # the SDK's bounded containers count what their limits dropped
            if type(attributes) is BoundedAttributes:  # the SDK's spans: its plain dict, read in C by orjson
                dropped_attributes, attributes = attributes.dropped, attributes._dict
            else:
                dropped_attributes, attributes = getattr(attributes, "dropped", 0), plain_mapping(attributes)
            if type(events) is BoundedList:  # the deque inside: len() and iteration in C
                dropped_events, events = events.dropped, events._dq  # type: ignore[attr-defined]  # untyped field
            else:
                dropped_events = getattr(events, "dropped", 0)
            if type(links) is BoundedList:
                dropped_links, links = links.dropped, links._dq  # type: ignore[attr-defined]
            else:
                dropped_links = getattr(links, "dropped", 0)
        else:
            dropped_attributes, dropped_events, dropped_links = _public_dropped(span)
            attributes = plain_mapping(attributes)
        if _CONTEXT_IS_TUPLE and type(context) is SpanContext:
            trace_id, span_id, _, trace_flags, trace_state, _ = context
            flags = trace_flags | FLAG_HAS_IS_REMOTE  # TraceFlags is an int: the result is a plain one
        else:
            trace_id, span_id, trace_state = context.trace_id, context.span_id, context.trace_state
            flags = int(context.trace_flags) | FLAG_HAS_IS_REMOTE
        parent_id = None
        if parent is not None:
            if _CONTEXT_IS_TUPLE and type(parent) is SpanContext:
                parent_span, parent_remote = parent[1], parent[2]
            else:
                parent_span, parent_remote = parent.span_id, parent.is_remote
            parent_id = parent_span.to_bytes(8, "big")
            if parent_remote:
                flags |= FLAG_IS_REMOTE
        if type(status) is Status:  # the SDK's own: its fields, not two property calls
            status_code, description = status._status_code, status._description
        else:
            status_code, description = status.status_code, status.description
        start = start or 0
        yield (
            trace_id.to_bytes(16, "big"),
            span_id.to_bytes(8, "big"),
            parent_id,
            name,
            kind._value_,
            flags,
            start,
            end or start,
            status_code._value_,
            description,
            attributes,
            _events(events) if events else (),
            _links(links) if links else (),
            # Most spans have the default: skip TraceState's Python-level __len__ and to_header().
            None if trace_state is DEFAULT_TRACE_STATE or not trace_state else trace_state.to_header() or None,
            dropped_attributes,
            dropped_events,
            dropped_links,
            resource,
            scope,
        )


def sdk_logs(records: Sequence[ReadableLogRecord]) -> Iterator[LogData]:
    """The neutral log records of ``records``."""
    for readable in records:
        record = readable.log_record
        yield (
            record.timestamp or 0,
            record.observed_timestamp or 0,
            record.severity_number.value if record.severity_number is not None else None,
            record.severity_text,
            record.body,
            plain_mapping(record.attributes),
            record.trace_id.to_bytes(16, "big") if record.trace_id else None,
            record.span_id.to_bytes(8, "big") if record.span_id else None,
            int(record.trace_flags or 0),
            getattr(record, "event_name", None),
            getattr(record.attributes, "dropped", 0) or 0,
            readable.resource,
            readable.instrumentation_scope,
        )


def encode_spans(spans: Sequence[ReadableSpan], redactor: Redactor | None = None) -> EncodedBatch:
    """Store rows for SDK spans: the SDK adapter feeding the row builder."""
    return build_spans(sdk_spans(spans), redactor)


def encode_logs(records: Sequence[ReadableLogRecord], redactor: Redactor | None = None) -> EncodedBatch:
    """Store rows for SDK log records: the SDK adapter feeding the row builder."""
    return build_logs(sdk_logs(records), redactor)
