"""Realistic spans for the benchmarks, made by a real TracerProvider: 5 per trace, a few attributes, an event each."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_lens import testing

SPANS_PER_TRACE = 5
_MS = 1_000_000


class SpanFactory:
    """A web service's traces: an HTTP request, a DB query, a cache lookup, an outgoing call, a render.

    The spans come from :class:`otel_lens.testing.SpanFactory` (the SDK's own provider, kept in memory),
    so the benchmarks export the very objects the SDK makes.
    """

    def __init__(self, seed: int = 1) -> None:
        self._factory = testing.SpanFactory(
            "orders-api",
            resource={
                "service.version": "1.8.3",
                "deployment.environment.name": "production",
                "host.name": "web-3.eu-west-1.internal",
            },
            scope=("orders_api.handlers", "1.8.3"),
        )
        self._tracer = self._factory.tracer
        self._random = random.Random(seed)

    def traces(self, count: int, start_ns: int | None = None, spread_ns: int = 3600 * 10**9) -> list[ReadableSpan]:
        """``count`` traces (5 spans each) spread evenly over ``spread_ns`` from ``start_ns`` (default: an hour ago)."""
        first = time.time_ns() - spread_ns if start_ns is None else start_ns
        step = spread_ns // max(count, 1)
        for index in range(count):
            self._trace(first + index * step, index)
        return self._factory.finished()

    def _trace(self, t0: int, index: int) -> None:
        rnd = self._random
        tracer = self._tracer
        order_id = rnd.randrange(10**6)
        status = 500 if index % 50 == 0 else 200
        total = rnd.randrange(5, 120) * _MS
        root = tracer.start_span(
            "GET /api/orders/{order_id}",
            kind=SpanKind.SERVER,
            start_time=t0,
            attributes={
                "http.request.method": "GET",
                "url.path": f"/api/orders/{order_id}",
                "http.route": "/api/orders/{order_id}",
                "http.response.status_code": status,
                "client.address": f"10.0.{rnd.randrange(256)}.{rnd.randrange(256)}",
            },
        )
        ctx = trace.set_span_in_context(root)
        root.add_event("request.validated", {"order.id": order_id}, timestamp=t0 + _MS // 2)

        db = tracer.start_span(
            "SELECT orders",
            context=ctx,
            kind=SpanKind.CLIENT,
            start_time=t0 + _MS,
            attributes={
                "db.system.name": "postgresql",
                "db.namespace": "shop",
                "db.query.text": "SELECT id, status, total FROM orders WHERE id = $1",
                "db.response.returned_rows": 1,
            },
        )
        db.add_event("db.connection.acquired", {"db.pool.wait_ms": rnd.random() * 3}, timestamp=t0 + _MS + 20_000)
        db.end(end_time=t0 + _MS + rnd.randrange(1, 8) * _MS)

        cache = tracer.start_span(
            "cache.get",
            context=ctx,
            kind=SpanKind.CLIENT,
            start_time=t0 + 9 * _MS,
            attributes={"cache.key": f"order:{order_id}:items", "cache.hit": rnd.random() < 0.8},
        )
        cache.add_event("cache.lookup", {"cache.ttl_s": 300}, timestamp=t0 + 9 * _MS + 5_000)
        cache.end(end_time=t0 + 9 * _MS + rnd.randrange(50_000, 900_000))

        call = tracer.start_span(
            "POST",
            context=ctx,
            kind=SpanKind.CLIENT,
            start_time=t0 + 11 * _MS,
            attributes={
                "http.request.method": "POST",
                "url.full": "https://pricing.internal/v2/quote",
                "server.address": "pricing.internal",
                "http.response.status_code": status,
            },
        )
        call.add_event(
            "http.request.sent", {"http.request.body.size": rnd.randrange(200, 2000)}, timestamp=t0 + 11 * _MS
        )
        if status >= 500:
            call.set_status(Status(StatusCode.ERROR, "upstream pricing service returned 500"))
            root.set_status(Status(StatusCode.ERROR))
        call.end(end_time=t0 + 11 * _MS + total // 2)

        render = tracer.start_span(
            "render order",
            context=ctx,
            start_time=t0 + 12 * _MS + total // 2,
            attributes={"template.name": "order_detail.json", "order.items": rnd.randrange(1, 20)},
        )
        render.add_event("render.done", {"bytes": rnd.randrange(500, 20000)}, timestamp=t0 + 13 * _MS + total // 2)
        render.end(end_time=t0 + 14 * _MS + total // 2)
        root.end(end_time=t0 + 15 * _MS + total)

    def shutdown(self) -> None:
        self._factory.shutdown()


def batches(spans: Sequence[ReadableSpan], size: int = 512) -> list[Sequence[ReadableSpan]]:
    """``spans`` cut into SDK-sized export batches (BatchSpanProcessor's default max_export_batch_size)."""
    return [spans[i : i + size] for i in range(0, len(spans), size)]
