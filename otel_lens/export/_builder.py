"""The row builder: neutral spans and log records (:mod:`._model`) → the store's rows, every policy applied once.

Whatever the source (the OTel SDK, an OTLP request), this is where stored data gets its shape:
secrets redacted, names and messages cut and made UTF-8 safe, times kept in range, captured
bodies moved out into content-addressed rows, GenAI token usage picked up, resources and scopes
deduplicated per batch. Nothing here touches a database: resources and scopes are referred to
by their index in the batch's ``resources`` / ``scopes`` lists and the writer swaps in row ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from otel_lens._genai_usage import USAGE_KEYS, genai_usage
from otel_lens._redact import Redactor
from otel_lens._session_keys import SESSION_KEYS, keys_of_text, span_keys
from otel_lens.export._model import EventData, LinkData, LogData, ResourceLike, ScopeLike, SpanData
from otel_lens.export.bodies import extract_bodies, has_bodies
from otel_lens.store.codec import dumps, truncate_text
from otel_lens.store.rows import SPAN_COLUMNS, BodyRow, EncodedBatch, GenAIUsage, LogRow, ResourceRow, ScopeRow, SpanRow

MAX_NAME = 1024
"""Characters kept of a span, event or scope name, a severity text."""
MAX_MESSAGE = 4096
"""Characters kept of a status message."""
MAX_NS = 2**63 - 1
"""The latest time a row can hold (SQLite and PostgreSQL integers are signed 64-bit)."""
_NOTHING = object()
_ATTRIBUTES = SPAN_COLUMNS.index("attributes")


class _Interner:
    """Per-batch dedup of resources and scopes, keyed by object identity (the SDK reuses them; adapters must too)."""

    def __init__(self) -> None:
        self.resources: list[ResourceRow] = []
        self.scopes: list[ScopeRow] = []
        self._resource_index: dict[int, int] = {}
        self._scope_index: dict[int, int] = {}
        self._keep: list[object] = []  # keeps ids stable for the life of the batch

    def resource(self, resource: ResourceLike | None) -> int:
        key = id(resource)
        index = self._resource_index.get(key)
        if index is None:
            index = self._resource_index[key] = len(self.resources)
            self._keep.append(resource)
            self.resources.append(encode_resource(resource))
        return index

    def scope(self, scope: ScopeLike | None) -> int:
        key = id(scope)
        index = self._scope_index.get(key)
        if index is None:
            index = self._scope_index[key] = len(self.scopes)
            self._keep.append(scope)
            self.scopes.append(encode_scope(scope))
        return index


def safe_text(text: str | None, limit: int = MAX_MESSAGE) -> str | None:
    """``text`` cut to ``limit`` characters with a marker, lone surrogates replaced (SQLite needs UTF-8)."""
    if text is None:
        return None
    return truncate_text(text if isinstance(text, str) else str(text), limit)


def _in_range(ns: int) -> int:
    """A time the store can hold: an absurd one (negative, past 2**63) is clamped, never a failed batch."""
    return ns if 0 <= ns <= MAX_NS else (0 if ns < 0 else MAX_NS)


def _extras(trace_state: str | None, dropped_attributes: int, dropped_events: int, dropped_links: int) -> str:
    """The ``extras`` column: ``[tracestate | null, dropped attributes, dropped events, dropped links]``.

    The tracestate header is W3C-validated ASCII of bounded size when the SDK made it; any other
    source's is made safe like a message.
    """
    return dumps([safe_text(trace_state) or None, dropped_attributes, dropped_events, dropped_links])


def _event_rows(events: Iterable[EventData], redactor: Redactor | None) -> list[list[Any]]:
    """``[[name, time_ns, attributes | None(, dropped_attributes)], ...]``, attributes redacted like the span's.

    The dropped-attribute count is appended only when limits dropped some, so ordinary events stay
    three items long (and rows stored before schema 3 read the same way).
    """
    rows = []
    for name, timestamp, attributes, dropped in events:
        if attributes and redactor is not None:  # inline, not _redacted(): one call less per event
            attributes = redactor.attributes(attributes) or attributes
        row = [name, timestamp, attributes or None]  # JSON holds any name and time (store/codec.py bounds them)
        if dropped:
            row.append(dropped)
        rows.append(row)
    return rows


def _link_rows(links: Iterable[LinkData], redactor: Redactor | None) -> list[list[Any]]:
    """``[[trace_id, span_id, attributes | None, flags(, trace_state | None, dropped_attributes)], ...]``.

    Ids are lower-case hex. ``flags`` are OTLP link flags (W3C trace flags + is-remote bits);
    tracestate and the dropped count follow only when there are any. Rows stored before schema 3
    have just the first three items. Attributes are redacted like the span's.
    """
    rows = []
    for trace_id, span_id, flags, trace_state, attributes, dropped in links:
        row = [trace_id.hex(), span_id.hex(), _redacted(attributes, redactor), flags]
        if trace_state or dropped:
            row += [safe_text(trace_state) or None, dropped or None]
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


def encode_resource(resource: ResourceLike | None) -> ResourceRow:
    attributes = dict(resource.attributes) if resource is not None else {}
    text = dumps(dict(sorted(attributes.items()))) if attributes else None
    schema_url = safe_text(resource.schema_url or None) if resource is not None else None
    service = attributes.get("service.name")
    return ResourceRow(
        _digest(text, schema_url), safe_text(str(service)) if service is not None else None, text, schema_url
    )


def encode_scope(scope: ScopeLike | None) -> ScopeRow:
    if scope is None:
        return ScopeRow(_digest("", None, None), "", None, None)
    attributes = dict(scope.attributes) if scope.attributes else None
    text = dumps(attributes) if attributes else None
    # No version is NULL however it is said: the SDK's tracers say "", its loggers None, and OTLP cannot tell
    # them apart, so every source stores the same scope row.
    name, version = safe_text(scope.name, MAX_NAME) or "", safe_text(scope.version or None, MAX_NAME)
    schema_url = safe_text(scope.schema_url or None)
    # The schema URL joins the digest only when there is one: scopes without it keep the digest they
    # had before schema 3 (their stored rows, and the log uids built on them, still match).
    digest = _digest(name, version, text) if schema_url is None else _digest(name, version, text, schema_url)
    return ScopeRow(digest, name, version, text, schema_url)


def build_spans(spans: Iterable[SpanData], redactor: Redactor | None = None) -> EncodedBatch:
    """Rows in :data:`~otel_lens.store.rows.SPAN_COLUMNS` order for ``spans``, with their resources, scopes,
    GenAI usage and captured bodies."""
    interner = _Interner()
    rows: list[SpanRow] = []
    genai: dict[int, GenAIUsage] = {}
    bodies: list[BodyRow] = []
    sessions: dict[int, list[tuple[str, str]]] = {}
    # Sources hand over runs of spans sharing one resource and scope: remember the last ones looked up.
    last_resource: object = _NOTHING
    last_scope: object = _NOTHING
    resource_index = scope_index = 0
    for (
        trace_id,
        span_id,
        parent_span_id,
        name,
        kind,
        flags,
        start,
        end,
        status_code,
        status_message,
        attributes,
        events,
        links,
        trace_state,
        dropped_attributes,
        dropped_events,
        dropped_links,
        resource,
        scope,
    ) in spans:
        if not (0 <= start <= end <= MAX_NS):  # absurd times are clamped: a row, never a failed batch
            start = _in_range(start)
            end = max(_in_range(end), start)
        if attributes and redactor is not None:
            attributes = redactor.attributes(attributes) or attributes  # a copy when it scrubbed anything
        if attributes and has_bodies(attributes):
            attributes, found = extract_bodies(attributes, start)  # a copy: the source's dict stays untouched
            bodies.extend(found)
        if resource is not last_resource:
            last_resource, resource_index = resource, interner.resource(resource)
        if scope is not last_scope:
            last_scope, scope_index = scope, interner.scope(scope)
        if len(name) > MAX_NAME or not name.isascii():
            name = truncate_text(name, MAX_NAME)
        rows.append(
            (
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind,
                flags,
                start,
                end - start,
                status_code,
                safe_text(_scrubbed_text(status_message, redactor)) if status_message else None,
                (_stored(attributes, redactor, attributes) if redactor else dumps(attributes)) if attributes else None,
                _stored(_event_rows(events, redactor), redactor) if events else None,
                _stored(_link_rows(links, redactor), redactor) if links else None,
                _extras(trace_state, dropped_attributes, dropped_events, dropped_links)
                if trace_state or dropped_attributes or dropped_events or dropped_links
                else None,
                resource_index,
                scope_index,
            )
        )
        # Bounded cost for spans that are not GenAI: at most min(len(attributes), len(USAGE_KEYS)) lookups, in C.
        if attributes and not attributes.keys().isdisjoint(USAGE_KEYS):
            usage = genai_usage(attributes)
            if usage is not None:
                genai[len(rows) - 1] = usage
        if attributes and not attributes.keys().isdisjoint(SESSION_KEYS):  # the same bounded C-level test
            named = span_keys(attributes, redactor is not None)
            if named is None:
                text = rows[-1][_ATTRIBUTES]  # the ids as stored, scrubbed like the text
                named = keys_of_text(text if isinstance(text, str) else None)
            if named:
                sessions[len(rows) - 1] = named
    return EncodedBatch(rows, interner.resources, interner.scopes, genai, bodies, sessions)


def build_logs(records: Iterable[LogData], redactor: Redactor | None = None) -> EncodedBatch:
    """Rows in :data:`~otel_lens.store.rows.LOG_COLUMNS` order; ``uid`` is a content digest so a re-export is
    stored once."""
    interner = _Interner()
    rows: list[LogRow] = []
    for (
        timestamp,
        observed,
        severity,
        severity_text,
        body,
        plain,
        trace_id,
        span_id,
        flags,
        event_name,
        dropped,
        resource,
        scope,
    ) in records:
        observed = _in_range(observed or timestamp or 0)
        timestamp = _in_range(timestamp) if timestamp else observed
        severity = (
            severity or None
        )  # 0 is OTLP's "unspecified", the same as none (an OTLP message cannot tell them apart)
        if redactor is not None and body.__class__ in (dict, list, tuple):
            body = redactor.value(list(body) if body.__class__ is tuple else body)  # a structured body's secret keys
        body_text = _stored(body, redactor) if body is not None else None
        if plain and redactor is not None:
            plain = redactor.log_attributes(plain) or plain
        attributes = _stored(plain, redactor) if plain else None
        scope_index = interner.scope(scope)
        resource_index = interner.resource(resource)
        uid = hashlib.blake2b(
            b"%d|%d|%d|" % (timestamp, observed, severity or 0)
            + (trace_id or b"")
            + (span_id or b"")
            + (body_text or "").encode()
            + b"\x00"
            + (attributes or "").encode()
            + interner.scopes[scope_index].digest
            + interner.resources[resource_index].digest,
            digest_size=16,
        ).digest()
        rows.append(
            (
                uid,
                timestamp,
                observed,
                severity,
                safe_text(severity_text, MAX_NAME),
                body_text,
                attributes,
                trace_id,
                span_id,
                safe_text(event_name or None, MAX_NAME),
                flags or None,
                dropped or None,
                resource_index,
                scope_index,
            )
        )
    return EncodedBatch(rows, interner.resources, interner.scopes)
