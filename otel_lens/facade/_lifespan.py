"""Flushing the global tracer and logger providers when an ASGI server shuts the app's lifespan down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from otel_lens.facade._exit import flush_providers

# The plain-ASGI shapes (shared with asgi.py).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SHUTDOWN_FLUSH_S = 10.0  # bounded: a stalled store must not hold the server's exit for long
_SHUTDOWN_REPLIES = ("lifespan.shutdown.complete", "lifespan.shutdown.failed")


async def lifespan_flushing(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the app's lifespan; flush telemetry once shutdown is done (the messages pass unchanged)."""
    asked = flushed = False

    async def watched_receive() -> Message:
        nonlocal asked
        message = await receive()
        if message.get("type") == "lifespan.shutdown":
            asked = True
        return message

    async def flushing_send(message: Message) -> None:
        nonlocal flushed
        if not flushed and message.get("type") in _SHUTDOWN_REPLIES:
            flushed = True
            await flush_telemetry()  # before the reply: the server may exit as soon as it has it
        await send(message)

    try:
        await app(scope, watched_receive, flushing_send)
    finally:
        if asked and not flushed:  # the app's lifespan ended (or failed) without answering
            flushed = True
            await flush_telemetry()


async def flush_telemetry() -> None:
    """Force-flush the global tracer and logger providers within ``_SHUTDOWN_FLUSH_S``; never raises."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (e.g. trio): flushing in place is fine at shutdown
        flush_providers(_SHUTDOWN_FLUSH_S)
        return
    with contextlib.suppress(Exception):  # e.g. the default executor already shut down
        # In a worker thread, so the loop keeps serving whatever else is still shutting down.
        await loop.run_in_executor(None, flush_providers, _SHUTDOWN_FLUSH_S)
