"""``/api/live``: server-sent events as records are stored (``event: trace`` / ``event: log``).

Each client gets its own :class:`~otel_lens.query.LiveFeed`, polled every :data:`POLL_S`; a poll returns
at most a page of new rows, so a burst of 100k spans streams out in pages and the viewer's memory stays
bounded. A comment line every :data:`KEEPALIVE_S` keeps proxies and the browser from timing out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from otel_lens.query import LiveFeed, Store, log_dict
from otel_lens.store.errors import StoreError
from otel_lens.web._api import BadParameter, error, failure, flag, text
from otel_lens.web._reads import Reads

POLL_S = 0.5
KEEPALIVE_S = 15.0


def _event(kind: str, data: object) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def _stream(request: Request, reads: Reads, feed: LiveFeed) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"  # also tells the client the stream is open
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        try:
            batch = await reads(lambda _store: feed.poll())
        except StoreError:  # locked for a moment by a writer: the next poll finds what this one missed
            await asyncio.sleep(POLL_S)
            continue
        chunks = [_event("trace", t.as_dict()) for t in batch.traces]
        chunks += [_event("log", log_dict(r)) for r in batch.logs]
        if chunks:
            yield b"".join(chunks)
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= KEEPALIVE_S:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()
        if len(batch.traces) + len(batch.logs) == 0:
            await asyncio.sleep(POLL_S)  # a full page polls again straight away: a burst drains fast


def live_route(reads: Reads) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            traces = flag(request, "traces") if "traces" in request.query_params else True
            logs = flag(request, "logs") if "logs" in request.query_params else True
            filters = {
                "trace_id": text(request, "trace"),
                "level": text(request, "level"),
                "search": text(request, "q"),
            }
        except BadParameter as exc:
            return error(400, str(exc))

        def start(store: Store) -> LiveFeed:
            return store.live(traces=traces, logs=logs, **filters)

        try:
            feed = await reads(start)
        except Exception as exc:  # the same answers as the other endpoints
            return failure(request, exc, reads.label)
        return StreamingResponse(
            _stream(request, reads, feed),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return Route("/api/live", endpoint, methods=["GET"])
