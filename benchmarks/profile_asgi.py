"""Where an ASGI request's time goes, layer by layer, in µs per request: ``python benchmarks/profile_asgi.py``.

Method: differential timing (``time.perf_counter`` and per-thread CPU clocks, no profiler in the
timed runs, so no profiler overhead in the numbers). The bench_facade app (Starlette, one JSON
route, ``lens_route`` on it for otel-lens) is driven in-process, one request after another on one
event loop, with a fresh scope per request as a server makes; each variant adds one layer to the
previous one and runs in a fresh interpreter (clean OTel globals), variants rotated, ``--repeats``
times; a layer's cost is the difference of the medians. In the storing variant the CPU of the
other threads (the export thread: encode and insert) is measured too, per request: on a 2-core
machine that CPU is taken from the app (and holds the GIL while it runs Python).

``--cprofile VARIANT`` prints cProfile's top functions (by own time) of one variant instead, to see
what a layer consists of (cProfile's overhead inflates the small functions: use it to find, not to measure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from _report import Table, median, spread

# Each variant: what it adds over the one before it (the table's row label).
VARIANTS: dict[str, str] = {
    "plain": "Starlette app, no instrumentation",
    "otel_api": "+ OTel ASGI middleware (no SDK: non-recording spans)",
    "otel_sdk": "+ SDK server span created/ended (exclude_spans receive/send, no-op exporter)",
    "stock": "stock: + OTel's per-message send spans (bench_facade's baseline)",
    "lens_mw": "instrument_asgi (no lens_route), SDK, no-op exporter",
    "lens_route": "+ lens_route on the endpoint",
    "lens_drop": "configure() + instrument_asgi + lens_route, export thread dropping",
    "lens": "configure(), storing (bench_facade's lens)",
}
REQUESTS = 2000  # per timed chunk
CHUNKS = 5


def _app(with_lens_route: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Any) -> Any:
        return JSONResponse({"hello": "world"})

    if with_lens_route:
        from otel_lens import lens_route

        hello = lens_route("GET /")(hello)
    return Starlette(routes=[Route("/", hello)])


def _sdk_noop() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoOp(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoOp()))
    trace.set_tracer_provider(provider)


def build(variant: str, database: str) -> tuple[Any, Callable[[], object]]:
    """The ASGI app of ``variant`` and its flush (what ends the measured work of the export thread)."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    def flush() -> object:
        return getattr(trace.get_tracer_provider(), "force_flush", lambda: True)()

    if variant == "plain":
        return _app(False), flush
    if variant == "otel_api":
        return OpenTelemetryMiddleware(_app(False), exclude_spans=["receive", "send"]), flush
    if variant in ("otel_sdk", "stock"):
        _sdk_noop()
        exclude = ["receive", "send"] if variant == "otel_sdk" else None
        return OpenTelemetryMiddleware(_app(False), exclude_spans=exclude), flush  # type: ignore[arg-type]
    from otel_lens import configure, instrument_asgi

    if variant in ("lens_mw", "lens_route"):
        _sdk_noop()
        return instrument_asgi(_app(variant == "lens_route")), flush
    lens = configure(database=database, sweep_interval=0)
    if variant == "lens_drop":
        assert lens.span_processor is not None
        lens.span_processor._batcher._export_batch = lambda spans: None  # type: ignore[attr-defined]
    return instrument_asgi(_app(True)), lens.force_flush


async def _drive(app: Any, count: int) -> None:
    """``count`` GET / requests, one after the other, as uvicorn hands them to the app."""
    request = {"type": "http.request", "body": b"", "more_body": False}
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for _ in range(count):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 51234),
            "scheme": "http",
            "method": "GET",
            "root_path": "",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
            "state": {},
        }
        await app(scope, receive, send)
        sent.clear()


def child(variant: str) -> None:
    """Run one variant; print wall µs/request, main-thread CPU µs/request, other threads' CPU µs/request."""
    database = os.path.join(tempfile.mkdtemp(), "profile.db")
    app, flush = build(variant, database)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_drive(app, 2000))  # warm-up: imports, caches, the first batches
    flush()
    walls, mains, others = [], [], []
    for _ in range(CHUNKS):
        wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
        loop.run_until_complete(_drive(app, REQUESTS))
        wall_done, main_done = time.perf_counter(), time.thread_time()
        flush()  # the export thread's work for these requests is done when this returns
        cpu_done, main_flushed = time.process_time(), time.thread_time()
        walls.append((wall_done - wall) / REQUESTS * 1e6)
        mains.append((main_done - main) / REQUESTS * 1e6)
        # Everything but the main thread's CPU (its flush wait is excluded): the export thread's.
        others.append(((cpu_done - cpu) - (main_flushed - main)) / REQUESTS * 1e6)
    print(statistics.median(walls), statistics.median(mains), statistics.median(others))


def profiled(variant: str, top: int) -> None:
    import cProfile
    import pstats

    database = os.path.join(tempfile.mkdtemp(), "profile.db")
    app, flush = build(variant, database)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_drive(app, 2000))
    flush()
    profile = cProfile.Profile()
    profile.enable()
    loop.run_until_complete(_drive(app, REQUESTS))
    profile.disable()
    flush()
    print(f"cProfile of {variant!r}, {REQUESTS} requests, main thread only (the export thread is not profiled):")
    pstats.Stats(profile).sort_stats("tottime").print_stats(top)


def run_variant(variant: str) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | {"OTEL_METRICS_EXPORTER": "none"}
    result = subprocess.run(
        [sys.executable, __file__, "--child", variant], env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode:
        raise RuntimeError(f"{variant}: {result.stderr}")
    return [float(x) for x in result.stdout.split()]


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", choices=VARIANTS, help="print cProfile's top functions of one variant")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--only", choices=VARIANTS, action="append", help="time these variants only (no layer table)")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    if args.cprofile:
        profiled(args.cprofile, args.top)
        return
    names = args.only or list(VARIANTS)
    results: dict[str, list[list[float]]] = {name: [] for name in names}
    for round_ in range(args.repeats):
        shift = round_ * 3 % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(run_variant(name))

    def us(x: float) -> str:
        return f"{x:.1f} µs"

    if args.only:
        for name in names:
            cpu = [r[1] for r in results[name]]
            print(
                f"{name}: main-thread CPU {us(median(cpu))} ({spread(cpu, us)}), other threads {us(median([r[2] for r in results[name]]))}"
            )
        return

    def med(name: str, index: int) -> float:
        return median([r[index] for r in results[name]])

    # Main-thread CPU is the measure: on a shared machine wall time mostly says how busy the neighbours
    # were, while CPU time is what the request path itself costs (wall is shown beside it).
    table = Table(
        f"ASGI request path, in-process, {CHUNKS}×{REQUESTS} sequential requests per run, median of "
        f"{args.repeats} rotated runs: main-thread CPU µs per request (wall µs beside it)"
    )
    for name, label in VARIANTS.items():
        cpu = [r[1] for r in results[name]]
        table.add(f"{name}: {label}", us(med(name, 1)), f"{spread(cpu, us)}  wall {us(med(name, 0))}")
    layers = (
        ("OTel ASGI middleware itself", "otel_api", "plain"),
        ("SDK span creation/ending (server span)", "otel_sdk", "otel_api"),
        ("OTel's send spans (stock default, off in lens)", "stock", "otel_sdk"),
        ("otel-lens middleware (route naming, one-span check, extras)", "lens_mw", "otel_sdk"),
        ("lens_route span", "lens_route", "lens_mw"),
        ("configure()'s processor and setup vs. the SDK's", "lens_drop", "lens_route"),
        ("storing vs. dropping, main thread (GIL and cache contention)", "lens", "lens_drop"),
    )
    table.add("-- layer costs: difference of medians, main-thread CPU --", "")
    for label, upper, lower in layers:
        table.add(label, us(med(upper, 1) - med(lower, 1)))
    export = [r[2] for r in results["lens"]]
    table.add("export thread CPU per request (encode + insert, 2 spans)", us(med("lens", 2)), spread(export, us))
    total = med("lens", 1) + med("lens", 2)
    table.add("lens: main + export thread CPU per request", us(total))
    table.add("stock: main + export thread CPU per request", us(med("stock", 1) + med("stock", 2)))
    table.add("lens/stock CPU per request", f"{total / (med('stock', 1) + med('stock', 2)):.2f}×")
    table.print()


if __name__ == "__main__":
    main(sys.argv[1:])
