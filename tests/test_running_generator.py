"""Abandonment is not an error: an async generator left with ``break`` and finalised by asyncio's shutdown.

asyncio finalises such a generator by running its ``aclose()`` in a task that its own shutdown then cancels,
so a ``CancelledError`` arrives at the ``yield`` where the generator waits for its consumer. That is the
consumer leaving (like ``close()``), recorded as ``lens.generator.closed`` with no error status. A
cancellation while the generator itself awaits something stays an error, as for any coroutine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otel_lens import lens_fn
from otel_lens.testing import otel_globals_restored


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    with otel_globals_restored():
        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        yield exporter
        provider.shutdown()


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_an_async_generator_left_with_break_is_closed_not_failed(exported: InMemorySpanExporter) -> None:
    """``async for … break`` under ``asyncio.run``: the span ends once, closed, UNSET, no exception event."""

    @lens_fn
    async def ticks() -> AsyncIterator[int]:
        for i in range(100):
            await asyncio.sleep(0)
            yield i

    async def main() -> None:
        async for i in ticks():
            if i == 2:
                break

    asyncio.run(main())
    span = only(exported)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes is not None and span.attributes["lens.generator.closed"] is True
    assert span.attributes["lens.output.items"] == 3
    assert [event.name for event in span.events] == []


def test_cancelling_an_async_generator_while_it_awaits_is_still_an_error(exported: InMemorySpanExporter) -> None:
    """The task consuming it is cancelled while the generator's own ``await`` runs: CancelledError, ERROR."""

    @lens_fn
    async def slow() -> AsyncIterator[int]:
        yield 0
        await asyncio.sleep(10)
        yield 1

    async def consume() -> None:
        async for _ in slow():
            pass

    async def main() -> None:
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = only(exported)
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes is not None
    assert str(span.events[0].attributes["exception.type"]).endswith("CancelledError")
