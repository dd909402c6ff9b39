"""A request body (protobuf or OTLP/JSON) → the OTLP adapter's :class:`~otel_lens.export.OtlpBatch`.

Only the export layer's adapters decode: the receiver adds no second path into the row builder. The work
is CPU-bound, so the HTTP app runs it in a worker thread, never on the event loop.
"""

from __future__ import annotations

from otel_lens._redact import Redactor
from otel_lens.export import (
    OtlpBatch,
    OtlpPayloadError,
    encode_logs_request,
    encode_trace_request,
    parse_json_logs_request,
    parse_json_trace_request,
    parse_logs_request,
    parse_trace_request,
)
from otel_lens.receiver._answers import Encoding
from otel_lens.receiver._ingest import Kind

__all__ = ["OtlpPayloadError", "decode"]


def decode(kind: Kind, encoding: Encoding, body: bytes, redactor: Redactor) -> OtlpBatch:
    """The rows of one request; raises :class:`OtlpPayloadError` (a 400) when the body is not that request."""
    if encoding == "json":
        return _decode_json(kind, body, redactor)
    if kind == "traces":
        return encode_trace_request(parse_trace_request(body), redactor)
    return encode_logs_request(parse_logs_request(body), redactor)


def _decode_json(kind: Kind, body: bytes, redactor: Redactor) -> OtlpBatch:
    parse = parse_json_trace_request if kind == "traces" else parse_json_logs_request
    parsed = parse(body, redactor)
    if parsed.invalid:  # the JSON adapter never raises for input: it says the whole body was refused
        raise OtlpPayloadError(parsed.error or f"not an OTLP/JSON {kind} request")
    return parsed
