"""Stored spans and logs → OTLP/JSON ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest`` objects.

This is the OTLP/HTTP JSON encoding: as the OTLP specification requires, trace and span ids are hex
strings (not base64 as in the generic protobuf JSON mapping), 64-bit integers are decimal strings and
enums are integers. Every field the store keeps is written (tracestate, schema URLs, dropped counts,
link and log flags), so an export carries what the SDK's own OTLP exporter would have sent; fields at
their default (empty, 0) are left out, as protobuf's JSON mapping does.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from otel_lens.query.results import LogRecord, ScopeInfo, SpanEvent, SpanLink, SpanRecord

_KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue`` for a decoded attribute value."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)} if _INT64_MIN <= value <= _INT64_MAX else {"stringValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {"doubleValue": "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytesValue": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    return {"stringValue": str(value)}


def key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OTLP ``KeyValue`` list for an attribute map."""
    return [{"key": str(key), "value": any_value(value)} for key, value in attributes.items()]


def _span(span: SpanRecord) -> dict[str, Any]:
    data: dict[str, Any] = {"traceId": span.trace_id, "spanId": span.span_id}
    if span.trace_state:
        data["traceState"] = span.trace_state
    if span.parent_span_id:
        data["parentSpanId"] = span.parent_span_id
    data.update(
        {
            "flags": span.flags,
            "name": span.name,
            "kind": _KINDS.get(span.kind, 0),
            "startTimeUnixNano": str(span.start_ns),
            "endTimeUnixNano": str(span.end_ns),
            "attributes": key_values(span.attributes),
            "events": [_event(e) for e in span.events],
            "links": [_link(k) for k in span.links],
            "status": {"code": _STATUS.get(span.status_code, 0)},
        }
    )
    _dropped(data, "droppedAttributesCount", span.dropped_attributes_count)
    _dropped(data, "droppedEventsCount", span.dropped_events_count)
    _dropped(data, "droppedLinksCount", span.dropped_links_count)
    if span.status_message:
        data["status"]["message"] = span.status_message
    return data


def _event(event: SpanEvent) -> dict[str, Any]:
    data = {"timeUnixNano": str(event.time_ns), "name": event.name, "attributes": key_values(event.attributes)}
    _dropped(data, "droppedAttributesCount", event.dropped_attributes_count)
    return data


def _link(link: SpanLink) -> dict[str, Any]:
    data: dict[str, Any] = {"traceId": link.trace_id, "spanId": link.span_id}
    if link.trace_state:
        data["traceState"] = link.trace_state
    data["attributes"] = key_values(link.attributes)
    _dropped(data, "droppedAttributesCount", link.dropped_attributes_count)
    if link.flags is not None:  # None: stored before schema 3 kept link flags
        data["flags"] = link.flags
    return data


def _log(record: LogRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "timeUnixNano": str(record.timestamp_ns),
        "observedTimeUnixNano": str(record.observed_ns),
    }
    if record.severity_number is not None:
        data["severityNumber"] = record.severity_number
    if record.severity_text:
        data["severityText"] = record.severity_text
    if record.body is not None:
        data["body"] = any_value(record.body)
    data["attributes"] = key_values(record.attributes)
    _dropped(data, "droppedAttributesCount", record.dropped_attributes_count)
    if record.flags:
        data["flags"] = record.flags
    if record.trace_id:
        data["traceId"] = record.trace_id
    if record.span_id:
        data["spanId"] = record.span_id
    if record.event_name:
        data["eventName"] = record.event_name
    return data


def _dropped(data: dict[str, Any], key: str, count: int) -> None:
    if count:
        data[key] = count


_Groups = dict[bytes, tuple[dict[str, Any], str | None, dict[bytes, tuple[ScopeInfo, list[dict[str, Any]]]]]]


def _group(groups: _Groups, resource: dict[str, Any], schema_url: str | None, scope: ScopeInfo) -> list[dict[str, Any]]:
    """The list the items of ``resource`` + ``scope`` go in (resources and scopes keep first-seen order)."""
    _, _, scopes = groups.setdefault(_key([resource, schema_url]), (resource, schema_url, {}))
    key = _key([scope.name, scope.version, scope.attributes, scope.schema_url])
    return scopes.setdefault(key, (scope, []))[1]


def _scope(scope: ScopeInfo) -> dict[str, Any]:
    data: dict[str, Any] = {"name": scope.name}
    if scope.version:
        data["version"] = scope.version
    if scope.attributes:
        data["attributes"] = key_values(scope.attributes)
    return data


def _request(groups: _Groups, signal: str, items: str) -> dict[str, Any]:
    resource_groups = []
    for resource, schema_url, scopes in groups.values():
        scope_groups = []
        for scope, encoded in scopes.values():
            scope_group: dict[str, Any] = {"scope": _scope(scope), items: encoded}
            if scope.schema_url:
                scope_group["schemaUrl"] = scope.schema_url
            scope_groups.append(scope_group)
        resource_group: dict[str, Any] = {
            "resource": {"attributes": key_values(resource)},
            f"scope{signal}": scope_groups,
        }
        if schema_url:
            resource_group["schemaUrl"] = schema_url
        resource_groups.append(resource_group)
    return {f"resource{signal}": resource_groups}


def export_request(spans: Sequence[SpanRecord]) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` for ``spans``, grouped by resource, then by scope."""
    groups: _Groups = {}
    for span in spans:
        _group(groups, span.resource, span.resource_schema_url, span.scope).append(_span(span))
    return _request(groups, "Spans", "spans")


def export_logs_request(records: Sequence[LogRecord]) -> dict[str, Any]:
    """One ``ExportLogsServiceRequest`` for ``records``, grouped by resource, then by scope."""
    groups: _Groups = {}
    for record in records:
        scope = record.scope or ScopeInfo(record.logger or "", None, {})
        _group(groups, record.resource, record.resource_schema_url, scope).append(_log(record))
    return _request(groups, "Logs", "logRecords")


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
