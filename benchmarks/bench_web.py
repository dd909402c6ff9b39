"""The web viewer's cost: each API endpoint on a 1M-span store vs a 10k-span store, a 10,000-span trace
(API time, first waterfall rows in Chromium, long tasks while scrolling and expanding, vs ``show --json``),
and the viewer's RSS while a client follows ``/api/live`` during 100k new spans.

The stores are bench_query's (cached under /tmp), served by a real ``otel-lens serve`` subprocess and
called over HTTP with httpx; the browser is Debian's Chromium driven by Playwright.

Run: ``python benchmarks/bench_web.py [--rounds 7] [--live-spans 100000] [--skip-browser] [--only sizes|trace|live]``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import orjson
import psutil
from _report import CACHE_ROOT, Table
from bench_query import ensure_store
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens import open_store
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings

CACHE = CACHE_ROOT / "otel-lens-bench-web-v1"
BIG_SPANS = 10_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_URL = re.compile(r"viewer at (http://\S+)")


# Registered before the page's own scripts: long tasks (> 50 ms on the main thread) are kept for the report.
def _mark(name: str) -> str:
    return f"(performance.getEntriesByName('{name}')[0] || {{ startTime: 0 }}).startTime"


# Where the page's time goes, each from navigation start (marks set by web/static/trace.js).
_PHASES = f"""() => {{
  const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/traces/'));
  const outline = api.find((e) => e.name.includes('view=outline')) || {{ responseEnd: 0 }};
  return {{ 'outline received': outline.responseEnd, 'outline parsed': {_mark("otel-lens:trace-loaded")},
    'tree built': {_mark("otel-lens:trace-indexed")}, 'whole trace in': {_mark("otel-lens:trace-complete")} }};
}}"""
_PHASE_NOTES = {
    "outline received": "/api/traces/{id}?view=outline, last byte",
    "outline parsed": "JSON.parse done",
    "tree built": "spans indexed by parent",
    "whole trace in": "full JSON fetched, parsed, indexed (detail + attribute search ready)",
}
_LONG_TASKS = "window.__longTasks = []; new PerformanceObserver((l) => window.__longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: true });"


@contextlib.contextmanager
def serve(database: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_lens", "serve", "--port", "0", "--no-otlp", "--database", str(database)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    line = process.stderr.readline()
    match = _URL.search(line)
    if match is None:
        raise SystemExit(f"serve did not start: {line}{process.stderr.read()}")
    url = match.group(1).rstrip("/")
    threading.Thread(target=process.stderr.read, daemon=True).start()
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/static/app.css", timeout=5)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(30)


def median_ms(fn: Callable[[], Any], rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def endpoints(facts: dict[str, Any], client: httpx.Client) -> dict[str, Callable[[], Any]]:
    cursor = client.get("/api/traces", params={"limit": 1000}).json()["next"]
    sessions_cursor = client.get("/api/sessions", params={"limit": 100}).json()["next"]

    def get(path: str, **params: Any) -> Callable[[], Any]:
        def call() -> Any:
            response = client.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.content

        return call

    return {
        "/api/traces?limit=50": get("/api/traces", limit=50),
        "/api/traces?service=billing": get("/api/traces", service="billing", limit=50),
        "/api/traces?errors=1": get("/api/traces", errors=1, limit=50),
        "/api/traces?min_duration=200ms": get("/api/traces", min_duration="200ms", limit=50),
        "/api/traces?before=<page 2 of 1000>": get("/api/traces", before=cursor, limit=50),
        "/api/traces/<500-span trace>": get(f"/api/traces/{facts['big_trace']}"),
        "/api/logs?limit=200": get("/api/logs", limit=200),
        "/api/logs?trace=<that trace>": get("/api/logs", trace=facts["big_trace"]),
        "/api/stats?since=24h": get("/api/stats", since="24h"),
        "/api/usage?since=24h": get("/api/usage", since="24h"),
        "/api/sessions?limit=50": get("/api/sessions", limit=50),
        "/api/sessions?kind=conversation": get("/api/sessions", kind="conversation", limit=50),
        "/api/sessions?before=<page 2 of 100>": get("/api/sessions", before=sessions_cursor, limit=50),
        "/api/sessions/<10-trace session>": get(f"/api/sessions/{facts['session']}"),
    }


def size_ratios(rounds: int, table: Table) -> None:
    small_path, small_facts = ensure_store(10_000, False)
    large_path, large_facts = ensure_store(1_000_000, False)
    with contextlib.ExitStack() as stack:
        small_url, _ = stack.enter_context(serve(small_path))
        large_url, _ = stack.enter_context(serve(large_path))
        small = stack.enter_context(httpx.Client(base_url=small_url, timeout=120))
        large = stack.enter_context(httpx.Client(base_url=large_url, timeout=120))
        a_calls, b_calls = endpoints(small_facts, small), endpoints(large_facts, large)
        for label in a_calls:
            a, b = median_ms(a_calls[label], rounds), median_ms(b_calls[label], rounds)
            table.add(label, f"{b:.1f} ms", f"10k {a:.1f} ms, 1M {b:.1f} ms")
            table.goal(f"{label} 1M/10k", b / a, "≤ 1.5×", b / a <= 1.5)


def big_trace_store() -> tuple[Path, str]:
    """A store holding one 10,000-span trace (a tree 10 wide), cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"trace-{BIG_SPANS}.db"
    marker = path.with_suffix(".id")
    if marker.exists() and path.exists():
        return path, marker.read_text().strip()
    path.unlink(missing_ok=True)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "batch"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    start = time.time_ns() - 60 * 10**9
    root = tracer.start_span("nightly batch", start_time=start)
    made, queue = [root], [root]
    while len(made) < BIG_SPANS:
        parent = queue.pop(0)
        for lane in range(10):
            if len(made) >= BIG_SPANS:
                break
            n = len(made)
            child = tracer.start_span(f"step {n}", context=trace.set_span_in_context(parent), start_time=start + n * 1000,
                                      attributes={"item": n, "lane": lane, "payload": f"value-{n}"})  # fmt: skip
            made.append(child)
            queue.append(child)
    for span in reversed(made):
        span.end(end_time=start + BIG_SPANS * 1000 + 5 * 10**6)
    exporter = LensSpanExporter(Settings.load(environ={}, database=str(path), sweep_interval=0))
    spans = list(memory.get_finished_spans())
    for i in range(0, len(spans), 2000):
        exporter.export(spans[i : i + 2000])
    exporter.shutdown()
    trace_id = f"{root.get_span_context().trace_id:032x}"
    marker.write_text(trace_id)
    return path, trace_id


def big_trace(rounds: int, table: Table, browser: bool) -> None:
    path, trace_id = big_trace_store()
    with serve(path) as (url, _), httpx.Client(base_url=url, timeout=120) as client:
        api_ms = median_ms(lambda: client.get(f"/api/traces/{trace_id}").content, rounds)
        size = len(client.get(f"/api/traces/{trace_id}").content)
        table.add(f"/api/traces/<{BIG_SPANS}-span trace>", f"{api_ms:.0f} ms", f"{size / 1e6:.1f} MB of JSON")
        table.goal(f"/api/traces/<{BIG_SPANS} spans> ms", api_ms, "≤ 300 ms", api_ms <= 300, "{:.0f} ms")
        outline_ms = median_ms(
            lambda: client.get(f"/api/traces/{trace_id}", params={"view": "outline"}).content, rounds
        )
        outline_size = len(client.get(f"/api/traces/{trace_id}", params={"view": "outline"}).content)
        table.add(
            "  ?view=outline (what the page fetches first)", f"{outline_ms:.0f} ms", f"{outline_size / 1e6:.1f} MB"
        )
        with open_store(path) as store:
            record_ms = median_ms(lambda: orjson.dumps(store.trace(trace_id).as_dict()), rounds)
            rows_ms = median_ms(lambda: orjson.dumps(store.trace_dict(trace_id)), rounds)
        table.add(
            "  Store.trace().as_dict() in process", f"{record_ms:.0f} ms", "the record path (SpanRecord per span)"
        )
        table.add("  Store.trace_dict() in process", f"{rows_ms:.0f} ms", "what the API and show --json use")
        show = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "otel_lens", "show", trace_id, "--json", "--database", str(path)],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            show.append((time.perf_counter() - started) * 1000)
        table.add(
            "  otel-lens show --json (whole process)", f"{statistics.median(show):.0f} ms", "same trace, for comparison"
        )
        if browser:
            chromium(url, trace_id, table)


def chromium(url: str, trace_id: str, table: Table) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = launched.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(_LONG_TASKS)
        page = context.new_page()
        drawn, phases = [], []
        for _ in range(3):
            page.goto(f"{url}/traces/{trace_id}")
            # Until the whole trace is in: the next navigation must not wait behind this one's full read.
            page.wait_for_function(f"() => {_mark('otel-lens:trace-complete')} > 0", timeout=120000)
            drawn.append(page.evaluate(f"() => {_mark('otel-lens:waterfall-drawn')}"))
            phases.append(page.evaluate(_PHASES))
        first = statistics.median(drawn)
        table.add(
            "Chromium: first waterfall rows drawn",
            f"{first:.0f} ms",
            f"from navigation start; runs {', '.join(f'{d:.0f}' for d in drawn)}",
        )
        for name in phases[0]:
            table.add(f"  {name}", f"{statistics.median(p[name] for p in phases):.0f} ms", _PHASE_NOTES[name])
        table.goal("page interactive (first rows drawn)", first, "≤ 1000 ms", first <= 1000, "{:.0f} ms")
        page.evaluate("() => { window.__longTasks = []; }")
        for _ in range(40):
            page.evaluate("() => { const s = document.querySelector('.wf-scroll'); s.scrollTop += 2000; }")
            page.wait_for_timeout(16)
        page.evaluate("() => { document.querySelector('.wf-scroll').scrollTop = 0; }")
        for _ in range(4):  # collapse and expand the root: the whole tree is flattened again
            page.locator(".wf-row").first.locator("[data-toggle]").click()
            page.wait_for_timeout(30)
        tasks = page.evaluate("() => window.__longTasks")
        worst = max(tasks, default=0)
        table.add(
            "  long tasks while scrolling 40× and collapsing/expanding 4×", f"{len(tasks)}", f"longest {worst:.0f} ms"
        )
        launched.close()


def live_rss(spans: int, table: Table) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "live.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    settings = Settings.load(environ={}, database=str(path), sweep_interval=0)
    exporter = LensSpanExporter(settings)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "live"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")

    def batch(n: int) -> list[Any]:
        memory.clear()
        for _ in range(n // 20):
            with tracer.start_as_current_span("request"):
                for i in range(19):
                    with tracer.start_as_current_span(f"step {i}"):
                        pass
        return list(memory.get_finished_spans())

    exporter.export(batch(20))
    events = [0]
    with serve(path) as (url, process):
        info = psutil.Process(process.pid)
        stop = threading.Event()

        def follow() -> None:
            with (
                httpx.Client(timeout=httpx.Timeout(30, read=None)) as client,
                client.stream("GET", f"{url}/api/live") as response,
            ):
                for line in response.iter_lines():
                    if line.startswith("event: trace"):
                        events[0] += 1
                    if stop.is_set():
                        return

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        time.sleep(1.0)
        rss = [info.memory_info().rss]
        started = time.perf_counter()
        written = 0
        while written < spans:
            exporter.export(batch(1000))
            written += 1000
            rss.append(info.memory_info().rss)
        deadline = time.monotonic() + 120
        while events[0] < spans // 20 and time.monotonic() < deadline:
            time.sleep(0.2)
            rss.append(info.memory_info().rss)
        elapsed = time.perf_counter() - started
        stop.set()
    exporter.shutdown()
    start_mb, peak_mb, end_mb = rss[0] / 2**20, max(rss) / 2**20, rss[-1] / 2**20
    table.add(f"viewer RSS following /api/live for {spans:,} new spans", f"{peak_mb:.0f} MB peak",
              f"start {start_mb:.0f} MB, end {end_mb:.0f} MB; {events[0]:,} trace events in {elapsed:.0f} s")  # fmt: skip
    table.goal("RSS growth while following", peak_mb - start_mb, "≤ 64 MB", peak_mb - start_mb <= 64, "{:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--live-spans", type=int, default=100_000)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--only", choices=("sizes", "trace", "live"), action="append", help="run only these parts")
    args = parser.parse_args()
    parts = set(args.only or ("sizes", "trace", "live"))
    if "sizes" in parts:
        sizes = Table("API endpoints: 1M-span store vs 10k-span store (median over HTTP)")
        size_ratios(args.rounds, sizes)
        sizes.print()
    if "trace" in parts:
        big = Table(f"one {BIG_SPANS:,}-span trace")
        big_trace(args.rounds, big, browser=not args.skip_browser and Path(CHROMIUM).exists())
        big.print()
    if "live" in parts:
        live = Table("live feed memory")
        live_rss(args.live_spans, live)
        live.print()


if __name__ == "__main__":
    main()
