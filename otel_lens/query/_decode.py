"""Rows → result objects: hex ids, decoded JSON columns, resources and scopes looked up once per store."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import peewee as pw

from otel_lens.query.results import SPAN_KINDS, STATUS_CODES, LogRecord, ScopeInfo, SpanEvent, SpanLink, SpanRecord
from otel_lens.store.codec import loads
from otel_lens.store.migrations import table_columns
from otel_lens.store.rows import COLUMNS_ADDED_AFTER_V1, ID_CHUNK, LOG_COLUMNS, SPAN_COLUMNS
from otel_lens.store.schema import Models

_CHUNK = ID_CHUNK


def hex_id(value: Any) -> str | None:
    return None if value is None else bytes(value).hex()


def _decoded_map(text: str | None) -> dict[str, Any]:
    value = loads(text)
    return value if isinstance(value, dict) else {}


_missing: weakref.WeakKeyDictionary[pw.Database, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()
_missing_lock = threading.Lock()


def _missing_columns(model: Any) -> frozenset[str]:
    """The later-schema columns ``model``'s table lacks: an older store read before any writer migrated it."""
    db = model._meta.database
    table = model._meta.table_name
    with _missing_lock:
        known = _missing.setdefault(db, {})
        if table not in known:
            wanted = COLUMNS_ADDED_AFTER_V1.get(table, ())
            known[table] = frozenset(wanted) - table_columns(db, table) if wanted else frozenset()
        return known[table]


def columns(model: Any, names: Sequence[str]) -> list[Any]:
    """``model``'s fields ``names`` for a select, NULL in place of a later-schema column the table lacks
    (readers never change the store, so they read an older store as it is)."""
    missing = _missing_columns(model)
    return [pw.SQL("NULL").alias(name) if name in missing else getattr(model, name) for name in names]


def column(model: Any, name: str) -> Any:
    """``model``'s field ``name`` for an expression, or NULL when the (older) store's table lacks it."""
    return pw.SQL("NULL") if name in _missing_columns(model) else getattr(model, name)


class Lookups:
    """Caches of the small resource and scope tables (rows are immutable once written)."""

    def __init__(self) -> None:
        self.resources: dict[int, dict[str, Any]] = {}
        self.resource_schema_urls: dict[int, str | None] = {}
        self.scopes: dict[int, ScopeInfo] = {}

    def load(self, models: Models, resource_ids: Iterable[int], scope_ids: Iterable[int]) -> None:
        wanted_resources = sorted({int(i) for i in resource_ids} - self.resources.keys())
        for start in range(0, len(wanted_resources), _CHUNK):
            chunk = wanted_resources[start : start + _CHUNK]
            resource: Any = models.resource
            query: Any = resource.select(resource.id, resource.attributes, resource.schema_url)
            for row_id, attributes, schema_url in query.where(resource.id.in_(chunk)).tuples():
                self.resources[int(row_id)] = _decoded_map(attributes)
                self.resource_schema_urls[int(row_id)] = schema_url
        wanted_scopes = sorted({int(i) for i in scope_ids} - self.scopes.keys())
        for start in range(0, len(wanted_scopes), _CHUNK):
            chunk = wanted_scopes[start : start + _CHUNK]
            scope: Any = models.scope
            fields = columns(scope, ("id", "name", "version", "attributes", "schema_url"))
            query = scope.select(*fields).where(scope.id.in_(chunk))
            for row_id, name, version, attributes, schema_url in query.tuples():
                self.scopes[int(row_id)] = ScopeInfo(name or "", version, _decoded_map(attributes), schema_url)

    def resource(self, row_id: int) -> dict[str, Any]:
        return self.resources.get(int(row_id), {})

    def scope(self, row_id: int) -> ScopeInfo:
        return self.scopes.get(int(row_id)) or ScopeInfo("", None, {})

    def resource_schema_url(self, row_id: int) -> str | None:
        return self.resource_schema_urls.get(int(row_id))

    def service(self, row_id: int) -> str | None:
        service = self.resource(row_id).get("service.name")
        return None if service is None else str(service)


SPAN_FIELDS = SPAN_COLUMNS
LOG_FIELDS = ("id", *LOG_COLUMNS[1:])  # the row id (for --follow) in place of the content digest


def span_record(row: tuple[Any, ...], lookups: Lookups) -> SpanRecord:
    """A :class:`SpanRecord` from a row selected in :data:`SPAN_FIELDS` order."""
    (trace_id, span_id, parent, name, kind, flags, start, duration, status, message, attributes, events, links,
     extras, resource_id, scope_id) = row  # fmt: skip
    trace_state, dropped_attributes, dropped_events, dropped_links = _extras(extras)
    decoded_events = loads(events) or []
    decoded_links = loads(links) or []
    return SpanRecord(
        trace_id=bytes(trace_id).hex(),
        span_id=bytes(span_id).hex(),
        parent_span_id=hex_id(parent),
        name=name,
        kind=SPAN_KINDS.get(int(kind), str(kind)),
        flags=int(flags),
        start_ns=int(start),
        end_ns=int(start) + int(duration),
        status_code=STATUS_CODES.get(int(status), "UNSET"),
        status_message=message,
        attributes=_decoded_map(attributes),
        events=[_event(e) for e in decoded_events],
        links=[_link(k) for k in decoded_links],
        resource=lookups.resource(resource_id),
        scope=lookups.scope(scope_id),
        trace_state=trace_state,
        dropped_attributes_count=dropped_attributes,
        dropped_events_count=dropped_events,
        dropped_links_count=dropped_links,
        resource_schema_url=lookups.resource_schema_url(resource_id),
    )


def _extras(text: str | None) -> tuple[str | None, int, int, int]:
    """The ``extras`` column (see export/_builder.py): tracestate and dropped counts; empty when NULL."""
    value = loads(text) if text else None
    if not isinstance(value, list) or len(value) < 4:
        return None, 0, 0, 0
    trace_state = value[0] if isinstance(value[0], str) else None
    return trace_state, int(value[1] or 0), int(value[2] or 0), int(value[3] or 0)


def _event(item: list[Any]) -> SpanEvent:
    """An event from ``[name, time_ns, attributes(, dropped_attributes)]`` (see export/encode.py)."""
    attributes = item[2] if isinstance(item[2], dict) else {}
    return SpanEvent(str(item[0]), int(item[1]), attributes, int(item[3] or 0) if len(item) > 3 else 0)


def _link(item: list[Any]) -> SpanLink:
    """A link from ``[trace_id, span_id, attributes(, flags(, trace_state, dropped_attributes))]``."""
    attributes = item[2] if isinstance(item[2], dict) else {}
    flags = int(item[3]) if len(item) > 3 and item[3] is not None else None
    trace_state = item[4] if len(item) > 4 else None
    dropped = int(item[5] or 0) if len(item) > 5 else 0
    return SpanLink(str(item[0]), str(item[1]), attributes, flags, trace_state, dropped)


def log_record(row: tuple[Any, ...], lookups: Lookups) -> LogRecord:
    """A :class:`LogRecord` from a row selected in :data:`LOG_FIELDS` order."""
    (row_id, timestamp, observed, severity_number, severity_text, body, attributes, trace_id, span_id, event_name,
     flags, dropped_attributes, resource_id, scope_id) = row  # fmt: skip
    scope = lookups.scope(scope_id)
    return LogRecord(
        id=int(row_id),
        timestamp_ns=int(timestamp),
        observed_ns=int(observed),
        severity_text=severity_text,
        severity_number=None if severity_number is None else int(severity_number),
        body=loads(body),
        attributes=_decoded_map(attributes),
        trace_id=hex_id(trace_id),
        span_id=hex_id(span_id),
        service=lookups.service(resource_id),
        logger=scope.name or None,
        event_name=event_name,
        flags=int(flags or 0),
        dropped_attributes_count=int(dropped_attributes or 0),
        resource=lookups.resource(resource_id),
        resource_schema_url=lookups.resource_schema_url(resource_id),
        scope=scope,
    )
