"""The OTLP/HTTP routes as a plain ASGI app: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Each request goes: method, token and content type checked from the headers alone → the body read and
decompressed within the cap (at most ``concurrency`` bodies in memory at once: others wait *before*
reading, their bytes left in the socket, at most ``slot_wait_s``, then 503 + Retry-After; a body not
received within ``read_s`` is 408 and its connection closed, so clients that send slowly or stall
cannot hold the slots and starve everyone else) → decoded by the OTLP adapter in a worker thread → admitted to
the :class:`~otel_lens.receiver.Ingest` queue or refused at once when it is full → answered once
committed. The event loop itself never decodes or writes, so the viewer on the same port stays responsive.

The Host check (DNS rebinding) is the viewer's guard, in front of this app on both ports.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
# An exporter gives a request 10 s in all: a body still arriving after that is one its sender gave up on.
_DEFAULT_READ_S = 10.0
# Waiting for a body slot: short, as the slot holders may be stalled; then "busy", which the exporter retries.
_DEFAULT_SLOT_WAIT_S = 5.0


@dataclasses.dataclass(frozen=True)
class _Decoded:
    batch: OtlpBatch
    nbytes: int
    """The decompressed payload's size."""


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
        read_s: float = _DEFAULT_READ_S,
        slot_wait_s: float = _DEFAULT_SLOT_WAIT_S,
    ) -> None:
        self.ingest = ingest
        self.redactor = redactor
        self.token = token or None
        self.max_body = max_body
        self.wait_s = wait_s
        self.read_s = read_s
        self.slot_wait_s = slot_wait_s
        self._bodies = anyio.CapacityLimiter(max(concurrency, 1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await _send(send, await self._answer(scope, receive))

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
            with anyio.fail_after(self.slot_wait_s):  # bodies in memory at once are bounded; waiting costs none
                await self._bodies.acquire()
        except TimeoutError:
            busy = f"try again later: {self._bodies.borrowed_tokens} request bodies are being received already"
            return failure(503, busy, encoding, retry_after_s=1.0)
        try:
            try:
                with anyio.fail_after(self.read_s):
                    raw = await read_body(receive, self.max_body)
            except TimeoutError:
                # The rest of the body may still come: closing is the only way to not read it as the next request.
                status, answer_headers, body = failure(
                    408, f"the body was not received within {self.read_s:g}s", encoding
                )
                return status, [*answer_headers, (b"connection", b"close")], body
            decoded = await anyio.to_thread.run_sync(self._decode, signal, encoding, raw, headers)
        except BodyError as exc:
            return failure(exc.status, str(exc), encoding)
        finally:
            self._bodies.release()
        if not isinstance(decoded, _Decoded):
            return decoded
        assert signal != "metrics"  # metrics always came back as an answer
        return await self._store(signal, encoding, decoded.batch, decoded.nbytes)

    async def refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        """Answer a request refused in front of this app (the Host guard) in OTLP's error form and its encoding."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        await _send(send, failure(status, message, _MEDIA_TYPES.get(media, "protobuf")))

    def _decode(self, signal: Signal, encoding: Encoding, raw: bytes, headers: dict[str, str]) -> Answer | _Decoded:
        """In a worker thread: decompress and decode (an answer when that fails, and for metrics).

        With the batch comes its decompressed size: what the queue's byte bound counts (a gzip body is a
        fraction of what it holds in memory once decoded).
        """
        payload = decompress(raw, headers.get("content-encoding", ""), self.max_body)
        if signal == "metrics":
            try:
                points = (_metrics.count_json_points if encoding == "json" else _metrics.count_proto_points)(payload)
            except ValueError as exc:
                return failure(400, str(exc), encoding)
            return success("metrics", encoding, points, _metrics.REJECTED.format(points))
        try:
            return _Decoded(decode(signal, encoding, payload, self.redactor), len(payload))
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


async def _send(send: Send, answer: Answer) -> None:
    status, headers, body = answer
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
