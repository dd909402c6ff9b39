"""OTLP/gRPC: ``TraceService/Export``, ``LogsService/Export`` (and ``MetricsService/Export``) over grpcio (extra ``grpc``).

The same path as OTLP/HTTP: its decoder (``_decode.py``, the export layer's protobuf adapter), the
:class:`Ingest` queue that writes, its response messages (``_answers.py``); the status follows the OTLP/gRPC spec:

- ``OK`` with ``partial_success`` (the rejected count and why) once the rows are committed;
- ``INVALID_ARGUMENT`` for a message that is not that request (not retried by exporters);
- ``UNAUTHENTICATED`` without ``authorization: Bearer <token>`` metadata when serve has a token;
- ``RESOURCE_EXHAUSTED`` when the queue is full, ``UNAVAILABLE`` when the store cannot write for now, both
  with ``google.rpc.RetryInfo`` in the ``google.rpc.retryinfo-bin`` trailer (the exporters wait that long);
- ``INTERNAL`` when storing cannot work (not an otel-lens database): exporters drop the batch;
- metrics: ``OK``, every point counted rejected (otel-lens stores none), as over HTTP.

Handlers run in a small thread pool (decoding is CPU work, waiting for the commit blocks); grpcio refuses
calls beyond ``max_concurrent`` with RESOURCE_EXHAUSTED before reading them, and messages beyond the body
cap (after decompression) with RESOURCE_EXHAUSTED too, so memory stays bounded under overload. Browsers
cannot speak gRPC (no HTTP/2 trailers), so no Host check is needed here against DNS rebinding.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from concurrent import futures
from typing import Any, NoReturn

import grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from otel_lens._redact import Redactor
from otel_lens.export import OtlpBatch
from otel_lens.receiver import _metrics
from otel_lens.receiver._answers import success
from otel_lens.receiver._body import DEFAULT_MAX_BODY
from otel_lens.receiver._decode import OtlpPayloadError, decode
from otel_lens.receiver._ingest import Ingest, Kind, Outcome

__all__ = ["DEFAULT_GRPC_PORT", "OtlpGrpcServer"]

DEFAULT_GRPC_PORT = 4317
"""The port every OTLP/gRPC exporter assumes."""
_SERVICES = "opentelemetry.proto.collector.{0}.v1.{1}Service"
_DEFAULT_WAIT_S = 8.0  # under the exporters' 10 s deadline: they hear RESOURCE_EXHAUSTED/UNAVAILABLE, not a timeout
_RETRY_TRAILER = "google.rpc.retryinfo-bin"


class OtlpGrpcServer:
    """The OTLP/gRPC receiver over ``ingest``: :meth:`listen`, then :meth:`stop` before the ingest is closed."""

    def __init__(
        self,
        ingest: Ingest,
        redactor: Redactor,
        token: str | None = None,
        max_message: int = DEFAULT_MAX_BODY,
        workers: int = 4,
        max_concurrent: int = 16,
        wait_s: float = _DEFAULT_WAIT_S,
    ) -> None:
        self.ingest = ingest
        self.redactor = redactor
        self.token = token or None
        self.wait_s = wait_s
        self.port = 0
        options = [("grpc.max_receive_message_length", max_message), ("grpc.so_reuseport", 0)]
        pool = futures.ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="otel-lens-grpc")
        self._server = grpc.server(pool, options=options, maximum_concurrent_rpcs=max(max_concurrent, 1))
        self._server.add_generic_rpc_handlers(
            [
                _service("trace", "Trace", functools.partial(self._export, "traces")),
                _service("logs", "Logs", functools.partial(self._export, "logs")),
                _service("metrics", "Metrics", self._metrics),
            ]
        )

    def listen(self, host: str, port: int) -> int:
        """Bind ``host:port`` (0: a free port) and start serving; returns the port.

        Raises:
            OSError: the address cannot be bound (in use, not local); the message says which.
        """
        address = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = self._server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio ≥ 1.5x raises where older ones returned 0
            raise OSError(f"cannot listen for OTLP/gRPC on {address}: {exc}") from None
        if not bound:
            raise OSError(f"cannot listen for OTLP/gRPC on {address}: the address is in use or not local")
        self._server.start()
        self.port = int(bound)
        return self.port

    def stop(self, grace_s: float = 10.0) -> None:
        """Refuse new calls, let those in flight finish (at most ``grace_s``), then stop the threads."""
        self._server.stop(grace_s).wait(grace_s + 1.0)

    # -- the services ---------------------------------------------------------------------------

    def _export(self, kind: Kind, body: bytes, context: grpc.ServicerContext) -> bytes:
        """``TraceService/Export`` or ``LogsService/Export``: decoded as over HTTP, committed, then answered."""
        self._admitted(context)
        try:
            parsed = decode(kind, "protobuf", body, self.redactor)
        except OtlpPayloadError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        self._store(context, kind, parsed, len(body))
        _status, _headers, response = success(kind, "protobuf", parsed.rejected, parsed.error)
        return response

    def _metrics(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        self._authorized(context)
        try:
            points = _metrics.count_proto_points(body)
        except ValueError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        response = ExportMetricsServiceResponse()
        if points:
            response.partial_success.rejected_data_points = points
            response.partial_success.error_message = _metrics.REJECTED.format(points)
        return response.SerializeToString()  # type: ignore[no-any-return]

    # -- shared steps ---------------------------------------------------------------------------

    def _authorized(self, context: grpc.ServicerContext) -> None:
        if self.token is None:
            return
        given = dict(context.invocation_metadata()).get("authorization", "")
        scheme, _, value = str(given).partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token.encode()):
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, "send authorization: Bearer <the serve token> metadata")

    def _admitted(self, context: grpc.ServicerContext) -> None:
        """Token checked, and the queue has room: a full one refuses before the message is decoded."""
        self._authorized(context)
        refusal = self.ingest.full()
        if refusal is not None:
            _refuse(context, refusal)

    def _store(self, context: grpc.ServicerContext, kind: Kind, parsed: OtlpBatch, nbytes: int) -> None:
        """Queue the rows and block this worker until committed (nothing to store: no queue trip)."""
        outcome = self.ingest.submit(kind, parsed, self.wait_s, nbytes)
        if outcome.status != "stored":
            _refuse(context, outcome)


def _service(signal: str, name: str, handler: Callable[[bytes, grpc.ServicerContext], bytes]) -> Any:
    """The generic handler of one OTLP service: its ``Export`` method on raw bytes (the adapter parses them)."""
    export = grpc.unary_unary_rpc_method_handler(handler)  # no (de)serializers: bytes in, bytes out
    return grpc.method_handlers_generic_handler(_SERVICES.format(signal, name), {"Export": export})


def _refuse(context: grpc.ServicerContext, outcome: Outcome) -> NoReturn:
    if outcome.status == "failed":
        _abort(context, grpc.StatusCode.INTERNAL, f"not stored: {outcome.message}")
    context.set_trailing_metadata(((_RETRY_TRAILER, retry_info(outcome.retry_after_s)),))
    code = grpc.StatusCode.RESOURCE_EXHAUSTED if outcome.queue_full else grpc.StatusCode.UNAVAILABLE
    _abort(context, code, f"try again later: {outcome.message}")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message.splitlines()[0] if message else code.name)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def retry_info(seconds: float) -> bytes:
    """A serialized ``google.rpc.RetryInfo`` for ``seconds``: its one field, ``retry_delay``, a Duration.

    Three protobuf fields written by hand (varints under their tags), so the extra needs no
    googleapis-common-protos; the tests read it back with that package's own ``RetryInfo``.
    """
    whole = max(int(seconds), 0)
    nanos = min(max(round((seconds - whole) * 1e9), 0), 999_999_999)
    duration = (b"\x08" + _varint(whole) if whole else b"") + (b"\x10" + _varint(nanos) if nanos else b"")
    return b"\x0a" + _varint(len(duration)) + duration  # RetryInfo.retry_delay = 1, length-delimited


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)
