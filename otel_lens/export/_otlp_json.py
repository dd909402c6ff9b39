"""The OTLP/JSON adapter: an OTLP/HTTP JSON request body → the neutral model → rows, as ``_otlp.py`` is for protobuf.

A receiver serving ``Content-Type: application/json`` calls :func:`parse_json_trace_request` (or the logs
one) on the decompressed body and gets what the protobuf path gives, an :class:`~otel_lens.export.OtlpBatch`:
``batch`` for the store, ``rejected`` / ``error`` for ``partial_success``. A body that is not an OTLP/JSON
request at all (not JSON, an object where an array belongs, a name that is a number) gives an empty batch
with ``invalid`` set and ``error`` naming the field: answer 400 with that line. It never raises for input.

The encoding is the OTLP specification's (hex ids, lowerCamelCase names, int64 as decimal strings, enums as
integers), read as tolerantly as protobuf's JSON mapping reads (``_otlp_json_values.py``). It goes straight
from ``orjson.loads`` into the neutral model instead of through ``json_format.ParseDict`` and the protobuf
adapter: the same rows 6–14× faster, at 1.6–2.2× the protobuf path's cost (``benchmarks/bench_otlp_json.py``).
Every check and default below is the protobuf adapter's (``_otlp.py``), with its reason texts, so a request
stores the same rows whichever encoding it came in (``tests/test_otlp_json.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from otel_lens._redact import Redactor
from otel_lens.export._builder import build_logs, build_spans
from otel_lens.export._model import LinkData, LogData, Resource, Scope, SpanData
from otel_lens.export._otlp import OtlpBatch, _kind, _Rejections
from otel_lens.export._otlp_json_values import (
    U64,
    Shape,
    any_value,
    array,
    attributes,
    enum,
    field,
    hex_id,
    integer,
    kind_of,
    obj,
    text,
)

__all__ = ["json_logs", "json_spans", "parse_json_logs_request", "parse_json_trace_request", "reason"]

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_KINDS = {f"SPAN_KIND_{k}": n for n, k in enumerate(("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"))}  # fmt: skip
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SEVERITIES = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{level}{n if n > 1 else ''}": first + n - 1
    for first, level in ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))
    for n in range(1, 5)
}

_Group = tuple[str, dict[str, Any], Resource, Scope | None]


def _groups(request: Any, outer: tuple[str, str], inner: tuple[str, str]) -> Iterator[_Group]:
    """``(path, scope group, resource, scope)`` per scope group; one Resource / Scope object each (the builder
    interns them by identity)."""
    if request.__class__ is not dict:
        raise Shape(f"expected a JSON object, got {kind_of(request)}")
    for i, group in enumerate(array(field(request, *outer), outer[0])):
        path = f"{outer[0]}[{i}]"
        group = obj(group, path)
        resource = obj(group.get("resource"), f"{path}.resource")
        resource_attributes = attributes(resource.get("attributes"), f"{path}.resource.attributes") or {}
        schema_url = text(field(group, "schemaUrl", "schema_url"), f"{path}.schemaUrl")
        shared = Resource(resource_attributes, schema_url)
        for j, scope_group in enumerate(array(field(group, *inner), f"{path}.{inner[0]}")):
            where = f"{path}.{inner[0]}[{j}]"
            scope_group = obj(scope_group, where)
            yield where, scope_group, shared, _scope(scope_group, where)


def _scope(group: dict[str, Any], where: str) -> Scope | None:
    scope = obj(group.get("scope"), f"{where}.scope")
    name = text(scope.get("name"), f"{where}.scope.name")
    version = text(scope.get("version"), f"{where}.scope.version")
    scope_attributes = attributes(scope.get("attributes"), f"{where}.scope.attributes")
    schema_url = text(field(group, "schemaUrl", "schema_url"), f"{where}.schemaUrl")
    if not (name or version or scope_attributes or schema_url):
        return None  # what the SDK's encoder sends for a span without a scope
    return Scope(name, version or None, schema_url or None, scope_attributes)


# -- spans --------------------------------------------------------------------------------------------


def _spans(groups: Iterator[_Group], rejections: _Rejections) -> Iterator[SpanData]:
    for where, group, resource, scope in groups:
        for k, span in enumerate(array(group.get("spans"), f"{where}.spans")):
            if span.__class__ is not dict:
                obj(span, f"{where}.spans[{k}]")  # raises unless None
            try:
                yield _span(span or {}, resource, scope)
            except ValueError as exc:
                rejections.add(f"with an invalid {exc}")
            except Shape as exc:  # its path built only now: the happy path formats no strings
                raise Shape(f"{where}.spans[{k}].{exc}") from None


def _span(span: dict[str, Any], resource: Resource, scope: Scope | None) -> SpanData:
    trace_id = hex_id(field(span, "traceId", "trace_id"), "traceId", 16, "trace id")
    span_id = hex_id(field(span, "spanId", "span_id"), "spanId", 8, "span id")
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        raise ValueError(f"trace id ({len(trace_id)} bytes{', all zero' if trace_id == _ZERO_TRACE else ''})")
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        raise ValueError(f"span id ({len(span_id)} bytes{', all zero' if span_id == _ZERO_SPAN else ''})")
    parent = hex_id(field(span, "parentSpanId", "parent_span_id"), "parentSpanId", 8, "parent span id")
    links, bad_links = _links(span.get("links"))
    status = obj(span.get("status"), "status")
    code = enum(status.get("code"), "status.code", _STATUS)
    events = array(span.get("events"), "events")
    return (
        trace_id,
        span_id,
        parent if parent and parent != _ZERO_SPAN else None,
        text(span.get("name"), "name"),
        _kind(enum(span.get("kind"), "kind", _KINDS)),
        integer(span.get("flags"), "flags"),
        integer(field(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano", 0, U64),
        integer(field(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano", 0, U64),
        code if 0 <= code <= 2 else 0,  # an unknown status code: unset
        text(status.get("message"), "status.message") or None,
        attributes(span.get("attributes"), "attributes"),
        _events(events) if events else (),
        links,
        text(field(span, "traceState", "trace_state"), "traceState") or None,
        integer(field(span, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount"),
        integer(field(span, "droppedEventsCount", "dropped_events_count"), "droppedEventsCount"),
        # a link to an invalid id is dropped, and counted as such
        integer(field(span, "droppedLinksCount", "dropped_links_count"), "droppedLinksCount") + bad_links,
        resource,
        scope,
    )


def _events(events: list[Any]) -> list[tuple[str, int, dict[str, Any] | None, int]]:
    out = []
    for i, event in enumerate(events):
        try:
            event = obj(event, "")
            out.append(
                (
                    text(event.get("name"), ".name"),
                    integer(field(event, "timeUnixNano", "time_unix_nano"), ".timeUnixNano", 0, U64),
                    attributes(event.get("attributes"), ".attributes"),
                    integer(
                        field(event, "droppedAttributesCount", "dropped_attributes_count"), ".droppedAttributesCount"
                    ),
                )
            )
        except Shape as exc:
            raise Shape(f"events[{i}]{exc}") from None
    return out


def _links(links: Any) -> tuple[list[LinkData], int]:
    """The valid links, and how many were not (ids not hex, of the wrong length, or zero)."""
    out: list[LinkData] = []
    bad = 0
    for i, link in enumerate(array(links, "links")):
        try:
            link = obj(link, "")
            try:
                trace_id = hex_id(field(link, "traceId", "trace_id"), ".traceId", 16, "trace id")
                span_id = hex_id(field(link, "spanId", "span_id"), ".spanId", 8, "span id")
            except ValueError:
                trace_id = span_id = b""
            if len(trace_id) != 16 or len(span_id) != 8 or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
                bad += 1
                continue
            out.append(
                (
                    trace_id,
                    span_id,
                    integer(link.get("flags"), ".flags"),
                    text(field(link, "traceState", "trace_state"), ".traceState") or None,
                    attributes(link.get("attributes"), ".attributes"),
                    integer(
                        field(link, "droppedAttributesCount", "dropped_attributes_count"), ".droppedAttributesCount"
                    ),
                )
            )
        except Shape as exc:
            raise Shape(f"links[{i}]{exc}") from None
    return out, bad


# -- logs ---------------------------------------------------------------------------------------------


def _logs(groups: Iterator[_Group], rejections: _Rejections) -> Iterator[LogData]:
    for where, group, resource, scope in groups:
        for k, record in enumerate(array(field(group, "logRecords", "log_records"), f"{where}.logRecords")):
            if record.__class__ is not dict:
                obj(record, f"{where}.logRecords[{k}]")  # raises unless None
            try:
                yield _log(record or {}, resource, scope)
            except ValueError as exc:
                rejections.add(f"with an invalid {exc}")
            except Shape as exc:
                raise Shape(f"{where}.logRecords[{k}].{exc}") from None


def _log(record: dict[str, Any], resource: Resource, scope: Scope | None) -> LogData:
    trace_id = hex_id(field(record, "traceId", "trace_id"), "traceId", 16, "trace id")
    span_id = hex_id(field(record, "spanId", "span_id"), "spanId", 8, "span id")
    return (
        integer(field(record, "timeUnixNano", "time_unix_nano"), "timeUnixNano", 0, U64),
        integer(field(record, "observedTimeUnixNano", "observed_time_unix_nano"), "observedTimeUnixNano", 0, U64),
        enum(field(record, "severityNumber", "severity_number"), "severityNumber", _SEVERITIES),
        text(field(record, "severityText", "severity_text"), "severityText") or None,
        any_value(record.get("body"), "body"),
        attributes(record.get("attributes"), "attributes"),
        trace_id if trace_id and trace_id != _ZERO_TRACE else None,
        span_id if span_id and span_id != _ZERO_SPAN else None,
        integer(record.get("flags"), "flags"),
        text(field(record, "eventName", "event_name"), "eventName") or None,
        integer(field(record, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount"),
        resource,
        scope,
    )


# -- entry points -------------------------------------------------------------------------------------


def json_spans(request: Any, rejections: _Rejections) -> list[SpanData]:
    """The neutral spans of a parsed (``orjson.loads``) trace request; one that cannot be stored is counted in
    ``rejections``. Raises :class:`Shape` (its path in the message) when ``request`` is not such a request."""
    return list(
        _spans(_groups(request, ("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans")), rejections)
    )


def json_logs(request: Any, rejections: _Rejections) -> list[LogData]:
    """The neutral log records of a parsed logs request (as :func:`json_spans`)."""
    return list(_logs(_groups(request, ("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs")), rejections))


def parse_json_trace_request(body: bytes, redactor: Redactor | None = None) -> OtlpBatch:
    """Store rows for every span of an OTLP/JSON ``ExportTraceServiceRequest`` body, the rejected counted;
    ``invalid`` (and the reason in ``error``) when the body is not such a request. Never raises for input."""
    rejections = _Rejections("spans")
    try:
        spans = json_spans(orjson.loads(body), rejections)
    except (orjson.JSONDecodeError, Shape) as exc:
        return OtlpBatch(build_spans(()), 0, f"not an OTLP/JSON traces request: {reason(exc)}", invalid=True)
    return rejections.result(build_spans(spans, redactor))


def parse_json_logs_request(body: bytes, redactor: Redactor | None = None) -> OtlpBatch:
    """Store rows for every log record of an OTLP/JSON ``ExportLogsServiceRequest`` body (as the traces one)."""
    rejections = _Rejections("log records")
    try:
        records = json_logs(orjson.loads(body), rejections)
    except (orjson.JSONDecodeError, Shape) as exc:
        return OtlpBatch(build_logs(()), 0, f"not an OTLP/JSON logs request: {reason(exc)}", invalid=True)
    return rejections.result(build_logs(records, redactor))


def reason(exc: orjson.JSONDecodeError | Shape) -> str:
    """Why a body is not a request, in one line."""
    return (f"invalid JSON ({exc})" if isinstance(exc, orjson.JSONDecodeError) else str(exc)).splitlines()[0]
