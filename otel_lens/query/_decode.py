"""Rows → result objects: hex ids, decoded JSON columns, resources and scopes looked up once per store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from otel_lens.query.results import SPAN_KINDS, STATUS_CODES, LogRecord, ScopeInfo, SpanEvent, SpanLink, SpanRecord
from otel_lens.store.codec import loads
from otel_lens.store.rows import LOG_COLUMNS, SPAN_COLUMNS
from otel_lens.store.schema import Models

_CHUNK = 400


def hex_id(value: Any) -> str | None:
    return None if value is None else bytes(value).hex()


def _decoded_map(text: str | None) -> dict[str, Any]:
    value = loads(text)
    return value if isinstance(value, dict) else {}


class Lookups:
    """Caches of the small resource and scope tables (rows are immutable once written)."""

    def __init__(self) -> None:
        self.resources: dict[int, dict[str, Any]] = {}
        self.scopes: dict[int, ScopeInfo] = {}

    def load(self, models: Models, resource_ids: Iterable[int], scope_ids: Iterable[int]) -> None:
        wanted_resources = sorted({int(i) for i in resource_ids} - self.resources.keys())
        for start in range(0, len(wanted_resources), _CHUNK):
            chunk = wanted_resources[start : start + _CHUNK]
            resource: Any = models.resource
            query: Any = resource.select(resource.id, resource.attributes).where(resource.id.in_(chunk))
            for row_id, attributes in query.tuples():
                self.resources[int(row_id)] = _decoded_map(attributes)
        wanted_scopes = sorted({int(i) for i in scope_ids} - self.scopes.keys())
        for start in range(0, len(wanted_scopes), _CHUNK):
            chunk = wanted_scopes[start : start + _CHUNK]
            scope: Any = models.scope
            query = scope.select(scope.id, scope.name, scope.version, scope.attributes).where(scope.id.in_(chunk))
            for row_id, name, version, attributes in query.tuples():
                self.scopes[int(row_id)] = ScopeInfo(name or "", version, _decoded_map(attributes))

    def resource(self, row_id: int) -> dict[str, Any]:
        return self.resources.get(int(row_id), {})

    def scope(self, row_id: int) -> ScopeInfo:
        return self.scopes.get(int(row_id)) or ScopeInfo("", None, {})

    def service(self, row_id: int) -> str | None:
        service = self.resource(row_id).get("service.name")
        return None if service is None else str(service)


SPAN_FIELDS = SPAN_COLUMNS
LOG_FIELDS = ("id", *LOG_COLUMNS[1:])  # the row id (for --follow) in place of the content digest


def span_record(row: tuple[Any, ...], lookups: Lookups) -> SpanRecord:
    """A :class:`SpanRecord` from a row selected in :data:`SPAN_FIELDS` order."""
    (trace_id, span_id, parent, name, kind, flags, start, duration, status, message, attributes, events, links,
     resource_id, scope_id) = row  # fmt: skip
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
        events=[SpanEvent(str(e[0]), int(e[1]), e[2] if isinstance(e[2], dict) else {}) for e in decoded_events],
        links=[SpanLink(str(k[0]), str(k[1]), k[2] if isinstance(k[2], dict) else {}) for k in decoded_links],
        resource=lookups.resource(resource_id),
        scope=lookups.scope(scope_id),
    )


def log_record(row: tuple[Any, ...], lookups: Lookups) -> LogRecord:
    """A :class:`LogRecord` from a row selected in :data:`LOG_FIELDS` order."""
    (row_id, timestamp, observed, severity_number, severity_text, body, attributes, trace_id, span_id, event_name,
     resource_id, scope_id) = row  # fmt: skip
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
    )
