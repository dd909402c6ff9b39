"""The OTLP/HTTP answers: the ``Export*ServiceResponse`` on success and a ``google.rpc.Status`` on failure.

Per the OTLP/HTTP specification a response is encoded like its request (protobuf or JSON); a success
carries ``partial_success`` only when something was rejected, and every 4xx/5xx body is a ``Status``
whose message is one readable line. Retryable refusals (429, 503) carry ``Retry-After``.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

__all__ = ["Answer", "Encoding", "Signal", "failure", "success"]

Encoding = Literal["protobuf", "json"]
Signal = Literal["traces", "logs", "metrics"]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
"""An HTTP status, its headers and its body."""
CONTENT_TYPES: dict[Encoding, bytes] = {"protobuf": b"application/x-protobuf", "json": b"application/json"}
# HTTP status → the gRPC code the Status carries (the mapping OTLP/gRPC and the collector use).
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 408: 4, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def success(signal: Signal, encoding: Encoding, rejected: int = 0, error: str | None = None) -> Answer:
    """200 with the signal's response message; ``partial_success`` set when ``rejected`` or ``error`` says so."""
    if encoding == "json":
        # proto3 JSON as OTLP/JSON has it: camelCase names, int64 as a string, unset fields left out.
        partial: dict[str, Any] = {}
        if rejected:
            partial[_camel(_REJECTED_FIELD[signal])] = str(rejected)
        if error:
            partial["errorMessage"] = error
        return 200, _headers(encoding), orjson.dumps({"partialSuccess": partial} if partial else {})
    response = _response(signal)
    if rejected or error:
        message = response.partial_success
        setattr(message, _REJECTED_FIELD[signal], rejected)
        message.error_message = error or ""
    return 200, _headers(encoding), bytes(response.SerializeToString())


def failure(status: int, message: str, encoding: Encoding = "protobuf", retry_after_s: float | None = None) -> Answer:
    """A 4xx/5xx with a ``Status`` body (and ``Retry-After`` when given)."""
    headers = _headers(encoding)
    if retry_after_s is not None:
        headers.append((b"retry-after", str(max(int(retry_after_s), 1)).encode()))
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="otel-lens"'))
    if status == 405:
        headers.append((b"allow", b"POST"))
    code = _GRPC_CODES.get(status, 2)  # 2: UNKNOWN
    if encoding == "json":
        return status, headers, orjson.dumps({"code": code, "message": message})
    return status, headers, _status_protobuf(code, message)


_REJECTED_FIELD: dict[Signal, str] = {
    "traces": "rejected_spans",
    "logs": "rejected_log_records",
    "metrics": "rejected_data_points",
}


def _response(signal: Signal) -> Any:
    if signal == "traces":
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        return ExportTraceServiceResponse()
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

        return ExportLogsServiceResponse()
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    return ExportMetricsServiceResponse()


def _headers(encoding: Encoding) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", CONTENT_TYPES[encoding])]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _status_protobuf(code: int, message: str) -> bytes:
    """``google.rpc.Status{code, message}`` on the wire: field 1 varint, field 2 bytes (no details).

    Written out rather than imported: the two fields are all a receiver sends, and it spares the
    ``googleapis-common-protos`` dependency (the tests decode it with that package's message).
    """
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
