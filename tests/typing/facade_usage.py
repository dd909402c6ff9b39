"""Facade usages that must type-check under ``mypy --strict`` (signatures survive the decorators)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from otel_lens import Lens, Logger, configure, instrument_asgi, lens_fn, lens_route


@lens_fn
def add(a: int, b: int = 1) -> int:
    return a + b


@lens_fn("engine.grep")
def grep(pattern: str, *, limit: int) -> list[str]:
    return [pattern] * limit


@lens_fn(name="engine.fetch", capture=True)
async def fetch(url: str) -> bytes:
    return url.encode()


@lens_fn
def lines(n: int) -> Iterator[str]:
    yield from (str(i) for i in range(n))


@lens_fn
async def ticks(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


class Engine:
    @lens_fn
    def method(self, x: int) -> int:
        return x

    @classmethod
    @lens_fn
    def build(cls, size: int) -> Engine:
        return cls()

    @staticmethod
    @lens_fn
    def helper(x: str) -> str:
        return x


@lens_route("GET /hello")
async def hello(request: Request) -> Response:
    return PlainTextResponse("hi")


async def main() -> None:
    total: int = add(1) + add(1, b=2)
    found: list[str] = grep("x", limit=2)
    data: bytes = await fetch("u")
    first: list[str] = list(lines(2))
    counted: list[int] = [i async for i in ticks(2)]
    engine: Engine = Engine.build(3)
    value: int = engine.method(total) + len(Engine.helper("y"))
    log = Logger("typing")
    log.info("%s %s %s %s %s %s", found, data, first, counted, value, engine)


lens: Lens = configure(database="/tmp/typing.db", service_name="typing", retention="7d", capture_logging=True)
app: Starlette = instrument_asgi(Starlette(), capture_bodies=True, max_body_size="64KiB")  # the same app, typed
asyncio.run(main())
lens.force_flush()
lens.shutdown()
