"""The OTLP/HTTP routes as a plain ASGI app: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Each request goes: method, token and content type checked from the headers alone → the body read and
decompressed within the cap (at most ``concurrency`` bodies in memory at once: others wait *before*
reading, their bytes left in the socket) → decoded by the OTLP adapter in a worker thread → admitted to
the :class:`~otel_lens.receiver.Ingest` queue or refused at once when it is full → answered once
committed. The event loop itself never decodes or writes, so the viewer on the same port stays responsive.

The Host check (DNS rebinding) is the viewer's guard, in front of this app on both ports.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import anyio.to_thread

from otel_lens._redact import Redactor
from otel_lens.export import OtlpBatch
from otel_lens.receiver import _metrics
from otel_lens.receiver._answers import Answer, Encoding, Signal, failure, success
from otel_lens.receiver._body import DEFAULT_MAX_BODY, BodyError, decompress, read_body
from otel_lens.receiver._decode import OtlpPayloadError, decode
from otel_lens.receiver._ingest import Ingest, Kind, Outcome

__all__ = ["OTLP_PATHS", "OtlpHttpApp"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

OTLP_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}
_MEDIA_TYPES: dict[str, Encoding] = {"application/x-protobuf": "protobuf", "application/json": "json"}
_DEFAULT_WAIT_S = 8.0  # under the official exporters' 10 s request timeout: they hear "busy", not a timeout


class OtlpHttpApp:
    """The OTLP/HTTP receiver over ``ingest``; every request needs ``Authorization: Bearer <token>`` when given."""

    def __init__(
        self,
        ingest: Ingest,
        redactor: Redactor,
        token: str | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        concurrency: int = 2,
        wait_s: float = _DEFAULT_WAIT_S,
    ) -> None:
        self.ingest = ingest
        self.redactor = redactor
        self.token = token or None
        self.max_body = max_body
        self.wait_s = wait_s
        self._bodies = anyio.CapacityLimiter(max(concurrency, 1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status, headers, body = await self._answer(scope, receive)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> Answer:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        encoding: Encoding = _MEDIA_TYPES.get(media, "protobuf")  # failures answer in the request's encoding
        signal = OTLP_PATHS.get(scope.get("path", ""))
        if signal is None:
            return failure(404, f"no such OTLP route; POST to {', '.join(OTLP_PATHS)}", encoding)
        if scope.get("method") != "POST":
            return failure(405, f"{scope.get('path')} takes POST (an OTLP export request)", encoding)
        if self.token is not None and not _bearer_matches(headers.get("authorization", ""), self.token):
            return failure(401, "unauthorized: send Authorization: Bearer <the serve token>", encoding)
        if media not in _MEDIA_TYPES:
            shown = media or "none"
            return failure(415, f"Content-Type {shown} is not OTLP; send application/x-protobuf or application/json")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return failure(413, f"the request body is larger than {self.max_body} bytes", encoding)
        refusal = None if signal == "metrics" else self.ingest.full()
        if refusal is not None:
            # Refused before the body is read: an overloaded receiver spends nothing on what it cannot keep.
            return _busy(refusal, encoding)
        try:
            async with self._bodies:  # bodies in memory at once are bounded; waiting here costs no memory
                raw = await read_body(receive, self.max_body)
                decoded = await anyio.to_thread.run_sync(self._decode, signal, encoding, raw, headers)
        except BodyError as exc:
            return failure(exc.status, str(exc), encoding)
        if isinstance(decoded, tuple):
            return decoded
        assert signal != "metrics"  # metrics always came back as an answer
        return await self._store(signal, encoding, decoded, len(raw))

    def _decode(self, signal: Signal, encoding: Encoding, raw: bytes, headers: dict[str, str]) -> Answer | OtlpBatch:
        """In a worker thread: decompress and decode (an answer when that fails, and for metrics)."""
        payload = decompress(raw, headers.get("content-encoding", ""), self.max_body)
        if signal == "metrics":
            try:
                points = (_metrics.count_json_points if encoding == "json" else _metrics.count_proto_points)(payload)
            except ValueError as exc:
                return failure(400, str(exc), encoding)
            return success("metrics", encoding, points, _metrics.REJECTED.format(points))
        try:
            return decode(signal, encoding, payload, self.redactor)
        except OtlpPayloadError as exc:
            return failure(400, str(exc), encoding)

    async def _store(self, signal: Kind, encoding: Encoding, parsed: OtlpBatch, nbytes: int) -> Answer:
        """Queue the rows and wait for the commit on the event loop (no thread is held while waiting)."""
        loop = asyncio.get_running_loop()
        settled = asyncio.Event()
        ticket = self.ingest.admit(signal, parsed, nbytes, lambda: loop.call_soon_threadsafe(settled.set))
        try:
            await asyncio.wait_for(settled.wait(), self.wait_s)
        except asyncio.TimeoutError:
            outcome = ticket.withdraw(f"not written within {self.wait_s:g}s")
            if outcome is None:  # being written: its end is bounded by the store's write deadline
                await settled.wait()
        outcome = ticket.outcome
        assert outcome is not None
        return _answer_for(outcome, signal, encoding, parsed.rejected, parsed.error)


def _answer_for(outcome: Outcome, signal: Signal, encoding: Encoding, rejected: int, error: str | None) -> Answer:
    if outcome.status == "stored":
        return success(signal, encoding, rejected, error)
    if outcome.status == "busy":
        return _busy(outcome, encoding)
    return failure(500, f"not stored: {outcome.message}", encoding)


def _busy(outcome: Outcome, encoding: Encoding) -> Answer:
    status = 429 if outcome.queue_full else 503
    return failure(status, f"try again later: {outcome.message}", encoding, outcome.retry_after_s)


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
