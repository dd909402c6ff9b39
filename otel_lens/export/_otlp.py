"""The OTLP protobuf adapter: ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest`` → the neutral model → rows.

The only write-side code a receiver needs (issue 11): parse the payload with :func:`parse_trace_request`
(or build the message from OTLP/JSON), call :func:`encode_trace_request`, hand ``result.batch`` to the
store, and answer ``partial_success`` with ``result.rejected`` and ``result.error``. Every policy
(redaction, caps, text safety, GenAI usage, bodies, interning) is the row builder's, the same as for
spans from the in-process SDK exporter, so the same span stores the same row whichever way it came.

Input is untrusted: a span or record that cannot be stored (an id of the wrong length, say) is
counted as rejected with a reason, never an exception; absurd values that can be stored (times past
2**63, unknown kinds, empty names) are kept in range by the builder or mapped to a default here.
``opentelemetry-proto`` is imported only to parse bytes (the ``otlp`` extra); reading a message
needs nothing but the message.

Cost (issue 11, CPU per span of ``benchmarks/_spans.py``'s realistic spans, 512 a request): parsing ~1 µs,
this adapter ~26 µs, the row builder ~10 µs; the SDK adapter needs ~5 µs for the same spans. Nearly all of
the adapter's time is upb building a Python object per field read (iterating a span's five attributes and
reading only their keys and values already costs ~5.5 µs), so reordering the reads here gains little
(~0.4 µs). A reader of the wire format in pure Python, tried instead, cost ~29 µs: not faster than upb.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from otel_lens._redact import Redactor
from otel_lens.export._builder import build_logs, build_spans
from otel_lens.export._model import LinkData, LogData, Resource, Scope, SpanData
from otel_lens.store.rows import EncodedBatch

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource

__all__ = [
    "OtlpBatch",
    "OtlpPayloadError",
    "encode_logs_request",
    "encode_trace_request",
    "parse_logs_request",
    "parse_trace_request",
]

MAX_DEPTH = 64
"""Nesting of AnyValue arrays and maps followed; deeper values become a marker (the store keeps 16 levels anyway)."""
_DEEP = "…[nesting truncated]"  # the store codec's own marker for values nested too deep
_SCALARS = frozenset(("string_value", "bool_value", "int_value", "double_value", "bytes_value"))
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


class OtlpPayloadError(ValueError):
    """The payload is not an OTLP request of that signal (a receiver answers 400 with this one-line message)."""


@dataclasses.dataclass(frozen=True)
class OtlpBatch:
    """The rows of one OTLP request, and what was rejected (OTLP's ``partial_success``)."""

    batch: EncodedBatch
    rejected: int = 0
    """Spans or log records that could not be stored (``rejected_spans`` / ``rejected_log_records``)."""
    error: str | None = None
    """Why, in one line (``partial_success.error_message``); None when nothing was rejected."""
    invalid: bool = False
    """The whole payload was refused, ``error`` says why (OTLP/JSON that is not a request): a receiver answers 400."""


class _Rejections:
    """Counts rejected items by reason, for one readable line."""

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.reasons: collections.Counter[str] = collections.Counter()

    def add(self, reason: str) -> None:
        self.reasons[reason] += 1

    def result(self, batch: EncodedBatch) -> OtlpBatch:
        count = sum(self.reasons.values())
        if not count:
            return OtlpBatch(batch)
        why = "; ".join(f"{n} {reason}" for reason, n in self.reasons.most_common())
        return OtlpBatch(batch, count, f"{count} {self.noun} rejected: {why}")


# -- parsing ------------------------------------------------------------------------------------------


def parse_trace_request(data: bytes) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from protobuf bytes.

    Raises:
        OtlpPayloadError: the bytes do not parse (truncated, not protobuf, a string that is not UTF-8).
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    _parse_into(request, data, "traces")
    return request


def parse_logs_request(data: bytes) -> ExportLogsServiceRequest:
    """An ``ExportLogsServiceRequest`` from protobuf bytes (raises :class:`OtlpPayloadError` like the traces one)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    _parse_into(request, data, "logs")
    return request


def _parse_into(message: Any, data: bytes, signal: str) -> None:
    try:
        message.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError (bad wire format, a string that is not UTF-8), RecursionError…
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OtlpPayloadError(f"not an OTLP {signal} request ({len(data)} bytes of protobuf): {reason}") from None


# -- values -------------------------------------------------------------------------------------------


def any_value(value: AnyValue, depth: int = 0) -> Any:
    """The Python value of an OTLP ``AnyValue``: str, bool, int, float, bytes, list, dict, or None when unset."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        if depth >= MAX_DEPTH:
            return _DEEP
        return [any_value(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        if depth >= MAX_DEPTH:
            return _DEEP
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return getattr(value, kind)  # string_value, bool_value, int_value, double_value, bytes_value


def attributes(key_values: Sequence[KeyValue]) -> dict[str, Any] | None:
    """An attribute map from OTLP ``KeyValue``s (a repeated key: the last one wins); None when empty."""
    if not key_values:
        return None
    out: dict[str, Any] = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        # Scalars, nearly every attribute, read here: a call less per attribute than any_value().
        out[kv.key] = getattr(value, kind) if kind in _SCALARS else any_value(value)
    return out


def _resource(resource: ProtoResource, schema_url: str) -> Resource:
    return Resource(attributes(resource.attributes) or {}, schema_url)


def _scope(scope: InstrumentationScope, schema_url: str) -> Scope | None:
    if not (scope.name or scope.version or scope.attributes or schema_url):
        return None  # what the SDK's encoder sends for a span without a scope
    return Scope(scope.name, scope.version or None, schema_url or None, attributes(scope.attributes))


def _kind(kind: int) -> int:
    """OTLP's SpanKind (0 unspecified, 1 internal … 5 consumer) as the store's (the SDK's: 0 internal … 4 consumer)."""
    return kind - 1 if 1 <= kind <= 5 else 0  # unspecified or unknown: internal, as the spec says to assume


# -- spans --------------------------------------------------------------------------------------------


def otlp_spans(request: ExportTraceServiceRequest, rejections: _Rejections) -> Iterator[SpanData]:
    """The neutral spans of ``request``; a span that cannot be stored is counted in ``rejections`` instead."""
    for resource_spans in request.resource_spans:
        resource = _resource(resource_spans.resource, resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope, scope_spans.schema_url)
            for span in scope_spans.spans:
                try:
                    yield _span(span, resource, scope)
                except ValueError as exc:
                    rejections.add(f"with an invalid {exc}")


def _span(span: Any, resource: Resource, scope: Scope | None) -> SpanData:
    trace_id = span.trace_id
    span_id = span.span_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        raise ValueError(f"trace id ({len(trace_id)} bytes{', all zero' if trace_id == _ZERO_TRACE else ''})")
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        raise ValueError(f"span id ({len(span_id)} bytes{', all zero' if span_id == _ZERO_SPAN else ''})")
    parent = span.parent_span_id
    if parent and len(parent) != 8:
        raise ValueError(f"parent span id ({len(parent)} bytes)")
    links, bad_links = _links(span.links) if span.links else ((), 0)
    status = span.status
    events = span.events
    return (
        trace_id,
        span_id,
        parent if parent and parent != _ZERO_SPAN else None,
        span.name,
        _kind(span.kind),
        span.flags,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        status.code if 0 <= status.code <= 2 else 0,  # an unknown status code: unset
        status.message or None,
        attributes(span.attributes),
        [
            (event.name, event.time_unix_nano, attributes(event.attributes), event.dropped_attributes_count)
            for event in events
        ]
        if events
        else (),
        links,
        span.trace_state or None,
        span.dropped_attributes_count,
        span.dropped_events_count,
        span.dropped_links_count + bad_links,  # a link to an invalid id is dropped, and counted as such
        resource,
        scope,
    )


def _links(links: Iterable[Any]) -> tuple[Sequence[LinkData], int]:
    """The valid links, and how many were not (their ids have the wrong length or are zero)."""
    out: list[LinkData] = []
    bad = 0
    for link in links:
        trace_id, span_id = link.trace_id, link.span_id
        if len(trace_id) != 16 or len(span_id) != 8 or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
            bad += 1
            continue
        out.append(
            (
                trace_id,
                span_id,
                link.flags,
                link.trace_state or None,
                attributes(link.attributes),
                link.dropped_attributes_count,
            )
        )
    return out, bad


def encode_trace_request(request: ExportTraceServiceRequest, redactor: Redactor | None = None) -> OtlpBatch:
    """Store rows for every span of ``request``, and the count of those rejected (never raises for bad content)."""
    rejections = _Rejections("spans")
    batch = build_spans(otlp_spans(request, rejections), redactor)
    return rejections.result(batch)


# -- logs ---------------------------------------------------------------------------------------------


def otlp_logs(request: ExportLogsServiceRequest, rejections: _Rejections) -> Iterator[LogData]:
    """The neutral log records of ``request``; one that cannot be stored is counted in ``rejections`` instead."""
    for resource_logs in request.resource_logs:
        resource = _resource(resource_logs.resource, resource_logs.schema_url)
        for scope_logs in resource_logs.scope_logs:
            scope = _scope(scope_logs.scope, scope_logs.schema_url)
            for record in scope_logs.log_records:
                try:
                    yield _log(record, resource, scope)
                except ValueError as exc:
                    rejections.add(f"with an invalid {exc}")


def _log(record: Any, resource: Resource, scope: Scope | None) -> LogData:
    trace_id, span_id = record.trace_id, record.span_id
    if trace_id and len(trace_id) != 16:
        raise ValueError(f"trace id ({len(trace_id)} bytes)")
    if span_id and len(span_id) != 8:
        raise ValueError(f"span id ({len(span_id)} bytes)")
    return (
        record.time_unix_nano,
        record.observed_time_unix_nano,
        record.severity_number,
        record.severity_text or None,
        any_value(record.body),
        attributes(record.attributes),
        trace_id if trace_id and trace_id != _ZERO_TRACE else None,
        span_id if span_id and span_id != _ZERO_SPAN else None,
        record.flags,
        record.event_name or None,
        record.dropped_attributes_count,
        resource,
        scope,
    )


def encode_logs_request(request: ExportLogsServiceRequest, redactor: Redactor | None = None) -> OtlpBatch:
    """Store rows for every log record of ``request``, and the count of those rejected (never raises for bad content)."""
    rejections = _Rejections("log records")
    batch = build_logs(otlp_logs(request, rejections), redactor)
    return rejections.result(batch)
