"""Stored spans → OTLP/JSON ``ExportTraceServiceRequest`` objects (the OTLP/HTTP JSON encoding).

As the OTLP specification requires, trace and span ids are hex strings (not base64 as in the
generic protobuf JSON mapping), 64-bit integers are decimal strings and enums are integers.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from otel_lens.query.results import ScopeInfo, SpanRecord

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
    data: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": _KINDS.get(span.kind, 0),
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes),
        "events": [
            {"timeUnixNano": str(e.time_ns), "name": e.name, "attributes": key_values(e.attributes)}
            for e in span.events
        ],
        "links": [
            {"traceId": k.trace_id, "spanId": k.span_id, "attributes": key_values(k.attributes)} for k in span.links
        ],
        "status": {"code": _STATUS.get(span.status_code, 0)},
        "flags": span.flags,
    }
    if span.parent_span_id:
        data["parentSpanId"] = span.parent_span_id
    if span.status_message:
        data["status"]["message"] = span.status_message
    return data


def export_request(spans: Sequence[SpanRecord]) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` for ``spans``, grouped by resource, then by scope."""
    resources: dict[bytes, tuple[dict[str, Any], dict[bytes, tuple[ScopeInfo, list[dict[str, Any]]]]]] = {}
    for span in spans:
        _, scopes = resources.setdefault(_key(span.resource), (span.resource, {}))
        scope = span.scope
        _, encoded = scopes.setdefault(_key([scope.name, scope.version, scope.attributes]), (scope, []))
        encoded.append(_span(span))
    resource_spans = []
    for resource, scopes in resources.values():
        scope_spans = []
        for scope, encoded in scopes.values():
            scope_data: dict[str, Any] = {"name": scope.name}
            if scope.version:
                scope_data["version"] = scope.version
            if scope.attributes:
                scope_data["attributes"] = key_values(scope.attributes)
            scope_spans.append({"scope": scope_data, "spans": encoded})
        resource_spans.append({"resource": {"attributes": key_values(resource)}, "scopeSpans": scope_spans})
    return {"resourceSpans": resource_spans}


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
