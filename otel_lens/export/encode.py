"""Pure encoding of OTel SDK data into store rows: ReadableSpan / ReadableLogRecord → tuples.

Nothing here touches a database. Resources and scopes are deduplicated per batch and referred to
by their index in the batch's ``resources`` / ``scopes`` lists; the writer swaps those indexes for
row ids. Spans carrying GenAI token counts are listed with their usage so the writer can keep the
usage totals in the same transaction.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceState
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from otel_lens._redact import Redactor
from otel_lens.export.bodies import extract_bodies, has_bodies
from otel_lens.export.genai import USAGE_KEYS, genai_usage
from otel_lens.store.codec import dumps
from otel_lens.store.rows import (
    FLAG_HAS_IS_REMOTE,
    FLAG_IS_REMOTE,
    BodyRow,
    EncodedBatch,
    GenAIUsage,
    ResourceRow,
    ScopeRow,
)

_MAX_NAME = 1024
_MAX_MESSAGE = 4096
_NOTHING = object()


class _Interner:
    """Per-batch dedup of resources and scopes, keyed by object identity (the SDK reuses them)."""

    def __init__(self) -> None:
        self.resources: list[ResourceRow] = []
        self.scopes: list[ScopeRow] = []
        self._resource_index: dict[int, int] = {}
        self._scope_index: dict[int, int] = {}
        self._keep: list[object] = []  # keeps ids stable for the life of the batch

    def resource(self, resource: Resource | None) -> int:
        key = id(resource)
        index = self._resource_index.get(key)
        if index is None:
            index = self._resource_index[key] = len(self.resources)
            self._keep.append(resource)
            self.resources.append(encode_resource(resource))
        return index

    def scope(self, scope: InstrumentationScope | None) -> int:
        key = id(scope)
        index = self._scope_index.get(key)
        if index is None:
            index = self._scope_index[key] = len(self.scopes)
            self._keep.append(scope)
            self.scopes.append(encode_scope(scope))
        return index


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
# SpanContext is a tuple whose trace_state property returns item 4: read it in C when that holds.
_probe = TraceState([("k", "v")])
_CONTEXT_IS_TUPLE = isinstance(SpanContext(1, 1, False, trace_state=_probe), tuple) and (
    SpanContext(1, 1, False, trace_state=_probe)[4] is _probe
)
_public_fields = operator.attrgetter(*_SPAN_FIELDS)
_private_fields = operator.attrgetter(*(f"_{name}" for name in _SPAN_FIELDS))
_reads_private: dict[type, bool] = {}


def _span_fields(span: ReadableSpan) -> tuple[Any, ...]:
    """The fields of ``span`` in :data:`_SPAN_FIELDS` order, read in one C call.

    ReadableSpan's properties wrap its fields (a MappingProxy around the attributes, a tuple copy of
    the events), which costs more per span than storing it. Classes that keep those properties as
    ReadableSpan defines them (the SDK's spans) are read from the fields directly; any class that
    overrides one is read through its public properties.
    """
    cls = type(span)
    direct = _reads_private.get(cls)
    if direct is None:
        direct = all(getattr(cls, name, None) is getattr(ReadableSpan, name) for name in _SPAN_FIELDS)
        _reads_private[cls] = direct
    return _private_fields(span) if direct else _public_fields(span)


def _extras(trace_state: Any, dropped_attributes: int, dropped_events: int, dropped_links: int) -> str:
    """The ``extras`` column: ``[tracestate | null, dropped attributes, dropped events, dropped links]``.

    The tracestate header is W3C-validated ASCII of bounded size (the SDK checks it), so it is kept whole.
    """
    header = trace_state.to_header() or None if trace_state else None
    return dumps([header, dropped_attributes, dropped_events, dropped_links])


def _public_dropped(span: ReadableSpan) -> tuple[int, int, int]:
    """The dropped attribute, event and link counts of a span class read through its properties."""
    return (
        getattr(span, "dropped_attributes", 0) or 0,
        getattr(span, "dropped_events", 0) or 0,
        getattr(span, "dropped_links", 0) or 0,
    )


def _event_rows(events: Any, redactor: Redactor | None) -> list[list[Any]]:
    """``[[name, time_ns, attributes | None(, dropped_attributes)], ...]``; the SDK's Event is read from its fields.

    Attributes are redacted like the span's. The dropped-attribute count is appended only when the
    SDK's limits dropped some, so ordinary events stay three items long (and rows stored before
    schema 3 read the same way).
    """
    rows = []
    for event in events:
        if type(event) is Event:
            name, timestamp, attributes = event._name, event._timestamp, event._attributes
            dropped = getattr(attributes, "dropped", 0)
        else:
            name, timestamp, attributes = event.name, event.timestamp, event.attributes
            dropped = getattr(event, "dropped_attributes", 0)
        attributes = plain_mapping(attributes)
        if attributes and redactor is not None:  # inline, not _redacted(): one call less per event
            attributes = redactor.attributes(attributes) or attributes
        row = [name, timestamp, attributes or None]
        if dropped:
            row.append(dropped)
        rows.append(row)
    return rows


def _link_rows(links: Any, redactor: Redactor | None) -> list[list[Any]]:
    """``[[trace_id, span_id, attributes | None, flags(, trace_state | None, dropped_attributes)], ...]``.

    ``flags`` are OTLP link flags (W3C trace flags + is-remote bits); tracestate and the dropped count
    follow only when there are any. Rows stored before schema 3 have just the first three items.
    Attributes are redacted like the span's.
    """
    rows = []
    for link in links:
        context = link.context
        flags = int(context.trace_flags) | FLAG_HAS_IS_REMOTE | (FLAG_IS_REMOTE if context.is_remote else 0)
        attributes = _redacted(plain_mapping(link.attributes), redactor)
        row = [f"{context.trace_id:032x}", f"{context.span_id:016x}", attributes, flags]
        trace_state = context.trace_state
        dropped = getattr(link, "dropped_attributes", 0)
        if trace_state or dropped:
            row += [trace_state.to_header() or None if trace_state else None, dropped or None]
        rows.append(row)
    return rows


def _redacted(attributes: Mapping[str, Any] | None, redactor: Redactor | None) -> Mapping[str, Any] | None:
    """``attributes`` with secret keys' values replaced (a copy only when it scrubbed anything); None for empty."""
    if not attributes:
        return None
    if redactor is None:
        return attributes
    return redactor.attributes(attributes) or attributes


def _scrubbed_text(text: str, redactor: Redactor | None) -> str:
    """Plain text (a status description, "HTTPError: … for url: https://…?api_key=…") without URL secrets."""
    return redactor.urls_in_json(text) if redactor is not None and "://" in text else text


def _stored(value: Any, redactor: Redactor | None, attributes: Mapping[str, Any] | None = None) -> str:
    """The JSON text stored for ``value``: JSON text in its strings scrubbed by the key rule, URLs' secrets removed."""
    text = dumps(value)
    if redactor is None:
        return text
    if '\\"' in text:  # a quote inside a string: maybe JSON text there (GenAI messages, tool arguments)
        scrubbed = redactor.json_in_strings(value)
        if scrubbed is not value:
            text = dumps(scrubbed)
    return redactor.urls_in_json(text, attributes) if "://" in text else text


def _digest(*parts: str | None) -> bytes:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(b"\x00" if part is None else part.encode() + b"\x01")
    return hasher.digest()


def encode_resource(resource: Resource | None) -> ResourceRow:
    attributes = dict(resource.attributes) if resource is not None else {}
    text = dumps(dict(sorted(attributes.items()))) if attributes else None
    schema_url = safe_text(resource.schema_url or None) if resource is not None else None
    service = attributes.get("service.name")
    return ResourceRow(
        _digest(text, schema_url), safe_text(str(service)) if service is not None else None, text, schema_url
    )


def encode_scope(scope: InstrumentationScope | None) -> ScopeRow:
    if scope is None:
        return ScopeRow(_digest("", None, None), "", None, None)
    attributes = dict(scope.attributes) if scope.attributes else None
    text = dumps(attributes) if attributes else None
    name, version = safe_text(scope.name, _MAX_NAME) or "", safe_text(scope.version, _MAX_NAME)
    schema_url = safe_text(scope.schema_url or None)
    # The schema URL joins the digest only when there is one: scopes without it keep the digest they
    # had before schema 3 (their stored rows, and the log uids built on them, still match).
    digest = _digest(name, version, text) if schema_url is None else _digest(name, version, text, schema_url)
    return ScopeRow(digest, name, version, text, schema_url)


def safe_text(text: str | None, limit: int = _MAX_MESSAGE) -> str | None:
    """``text`` cut to ``limit`` characters with a marker, lone surrogates replaced (SQLite needs UTF-8)."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    if len(text) > limit:
        text = f"{text[:limit]}…[+{len(text) - limit} chars truncated]"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def encode_spans(spans: Sequence[ReadableSpan], redactor: Redactor | None = None) -> EncodedBatch:
    """Rows in :data:`SPAN_COLUMNS` order for ``spans`` (ids as big-endian bytes, times in ns)."""
    interner = _Interner()
    rows: list[list[Any]] = []
    genai: dict[int, GenAIUsage] = {}
    bodies: list[BodyRow] = []
    # The SDK hands over spans sharing one resource and scope: remember the last ones looked up.
    last_resource: object = _NOTHING
    last_scope: object = _NOTHING
    last_class: type | None = None
    direct = True
    resource_index = scope_index = 0
    for span in spans:
        context, parent, name, kind, start, end, status, attributes, events, links, resource, scope = _span_fields(span)
        if context is None:
            continue
        cls = type(span)
        if cls is not last_class:
            last_class, direct = cls, _reads_private[cls]
        if direct:  # the SDK's bounded containers count what their limits dropped
            dropped_attributes = getattr(attributes, "dropped", 0)
            dropped_events = getattr(events, "dropped", 0)
            dropped_links = getattr(links, "dropped", 0)
        else:
            dropped_attributes, dropped_events, dropped_links = _public_dropped(span)
        trace_state = context[4] if _CONTEXT_IS_TUPLE else context.trace_state
        if trace_state is DEFAULT_TRACE_STATE:  # most spans: skip TraceState's Python-level __len__
            trace_state = None
        flags = int(context.trace_flags) | FLAG_HAS_IS_REMOTE
        if parent is not None and parent.is_remote:
            flags |= FLAG_IS_REMOTE
        start = start or 0
        end = end or start
        attributes = plain_mapping(attributes)
        if attributes and redactor is not None:
            attributes = redactor.attributes(attributes) or attributes  # a copy when it scrubbed anything
        if attributes and has_bodies(attributes):
            attributes, found = extract_bodies(attributes, start)  # a copy: the SDK's dict stays untouched
            bodies.extend(found)
        events = getattr(events, "_dq", events)  # the deque inside the SDK's BoundedList: len() and iteration in C
        links = getattr(links, "_dq", links)
        if resource is not last_resource:
            last_resource, resource_index = resource, interner.resource(resource)
        if scope is not last_scope:
            last_scope, scope_index = scope, interner.scope(scope)
        if len(name) > _MAX_NAME or not name.isascii():
            name = safe_text(name, _MAX_NAME)
        description = status.description
        rows.append(
            [
                context.trace_id.to_bytes(16, "big"),
                context.span_id.to_bytes(8, "big"),
                parent.span_id.to_bytes(8, "big") if parent is not None else None,
                name,
                kind._value_,
                flags,
                start,
                max(end - start, 0),
                status.status_code._value_,
                safe_text(_scrubbed_text(description, redactor)) if description else None,
                (_stored(attributes, redactor, attributes) if redactor else dumps(attributes)) if attributes else None,
                _stored(_event_rows(events, redactor), redactor) if events else None,
                _stored(_link_rows(links, redactor), redactor) if links else None,
                _extras(trace_state, dropped_attributes, dropped_events, dropped_links)
                if trace_state or dropped_attributes or dropped_events or dropped_links
                else None,
                resource_index,
                scope_index,
            ]
        )
        # Bounded cost for spans that are not GenAI: at most min(len(attributes), len(USAGE_KEYS)) lookups, in C.
        if attributes and not attributes.keys().isdisjoint(USAGE_KEYS):
            usage = genai_usage(attributes)
            if usage is not None:
                genai[len(rows) - 1] = usage
    return EncodedBatch(rows, interner.resources, interner.scopes, genai, bodies)


def encode_logs(records: Sequence[ReadableLogRecord], redactor: Redactor | None = None) -> EncodedBatch:
    """Rows in :data:`LOG_COLUMNS` order; ``uid`` is a content digest so a re-export is stored once."""
    interner = _Interner()
    rows: list[list[Any]] = []
    for readable in records:
        record = readable.log_record
        observed = record.observed_timestamp or record.timestamp or 0
        timestamp = record.timestamp or observed
        severity = record.severity_number.value if record.severity_number is not None else None
        body = record.body
        if redactor is not None and body.__class__ in (dict, list):
            body = redactor.value(body)  # a structured body: its secret keys, like attributes'
        body = _stored(body, redactor) if body is not None else None
        plain = plain_mapping(record.attributes)
        if plain and redactor is not None:
            plain = redactor.log_attributes(plain) or plain
        attributes = _stored(plain, redactor) if plain else None
        trace_id = record.trace_id.to_bytes(16, "big") if record.trace_id else None
        span_id = record.span_id.to_bytes(8, "big") if record.span_id else None
        event_name = safe_text(getattr(record, "event_name", None) or None, _MAX_NAME)
        flags = int(record.trace_flags or 0) or None
        dropped = getattr(record.attributes, "dropped", 0) or None
        scope_index = interner.scope(readable.instrumentation_scope)
        resource_index = interner.resource(readable.resource)
        uid = hashlib.blake2b(
            b"%d|%d|%d|" % (timestamp, observed, severity or 0)
            + (trace_id or b"")
            + (span_id or b"")
            + (body or "").encode()
            + b"\x00"
            + (attributes or "").encode()
            + interner.scopes[scope_index].digest
            + interner.resources[resource_index].digest,
            digest_size=16,
        ).digest()
        rows.append(
            [
                uid,
                timestamp,
                observed,
                severity,
                safe_text(record.severity_text, _MAX_NAME),
                body,
                attributes,
                trace_id,
                span_id,
                event_name,
                flags,
                dropped,
                resource_index,
                scope_index,
            ]
        )
    return EncodedBatch(rows, interner.resources, interner.scopes)
