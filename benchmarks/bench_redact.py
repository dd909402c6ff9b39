"""What redaction costs the exporter: ``encode_spans`` on HTTP server spans without and with a Redactor.

The spans are what the ASGI instrumentation makes for a web request (~15 attributes: method, URL,
route, addresses, user agent, a few captured headers, status, sizes) plus a DB client span, made by
a real TracerProvider. Each variant encodes the same 512-span batches ``--repeats`` times,
interleaved; medians are reported since the machine is shared. These are the heaviest spans
redaction sees (every key judged, a URL with a query, captured headers), so the goal is a bound,
not parity: at most 2× encoding with no Redactor (before the per-key-set cache it was 2.6–3.1×, and
4.4–5.4× with configured keys). The end-to-end guard is ``bench_export``'s lens/raw and lens/otlp.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence

from _report import Table, median, spread
from _spans import batches
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from otel_lens import testing
from otel_lens._redact import Redactor
from otel_lens.export.encode import encode_spans


def make_spans(requests: int) -> list[ReadableSpan]:
    """``requests`` HTTP server spans with ~15 attributes, each with one DB client child."""
    factory = testing.SpanFactory("items-api", scope=("opentelemetry.instrumentation.asgi", "0.50b0"))
    tracer = factory.tracer
    for index in range(requests):
        item = index % 977
        with tracer.start_as_current_span(
            "GET /items/{item_id}",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "url.scheme": "http",
                "url.path": f"/items/{item}",
                "url.query": f"page={index % 7}&sort=price",
                "url.full": f"http://127.0.0.1:8000/items/{item}?page={index % 7}&sort=price",
                "http.route": "/items/{item_id}",
                "server.address": "127.0.0.1",
                "server.port": 8000,
                "network.protocol.version": "1.1",
                "client.address": "127.0.0.1",
                "client.port": 50000 + item,
                "user_agent.original": "python-httpx/0.28.1",
                "http.request.header.accept": ("application/json",),
                "http.request.header.content-length": ("0",),
                "http.response.status_code": 200,
                "http.response.body.size": 512 + item,
            },
        ) as server:
            server.add_event("request.validated", {"item.id": item})
            with tracer.start_as_current_span(
                "SELECT items",
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system.name": "sqlite",
                    "db.query.text": "SELECT id, name, price FROM items WHERE id = ?",
                    "db.response.returned_rows": 1,
                },
            ):
                pass
    spans = factory.finished()
    factory.shutdown()
    return spans


def _time(encode: Callable[[Sequence[ReadableSpan]], object], work: Sequence[Sequence[ReadableSpan]]) -> float:
    gc.collect()
    started = time.perf_counter()
    for batch in work:
        encode(batch)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    spans = make_spans(args.requests)
    work = batches(spans, 512)
    default, configured = Redactor(), Redactor(["x-tenant-key", "internal_ref"])
    variants: dict[str, Callable[[Sequence[ReadableSpan]], object]] = {
        "no redactor": lambda batch: encode_spans(batch),
        "default Redactor": lambda batch: encode_spans(batch, default),
        "Redactor with 2 configured keys": lambda batch: encode_spans(batch, configured),
    }
    for encode in variants.values():
        _time(encode, work)  # warm-up: caches filled, code paths hot
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, encode in variants.items():
            results[name].append(_time(encode, work) / len(spans) * 1e6)
    table = Table(
        f"encode_spans: {len(spans)} spans (HTTP server ~16 attributes + DB client), median of {args.repeats}"
    )
    for name, values in results.items():
        table.add(name, f"{median(values):.2f} µs/span", spread(values, lambda v: f"{v:.2f}"))
    base = median(results["no redactor"])
    for name in list(variants)[1:]:
        ratio = median(results[name]) / base
        table.goal(f"{name} / none", ratio, "≤ 2×", ratio <= 2.0)
    table.print()


if __name__ == "__main__":
    main()
