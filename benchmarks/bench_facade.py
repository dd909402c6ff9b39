"""Facade benchmarks: lens_fn overhead, a 50k-span burst through configure(), an ASGI app under load.

Prints ratios against baselines measured in the same run; never fails on time. ~1-2 minutes.
Run: ``python benchmarks/bench_facade.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

QUICK = "--quick" in sys.argv
BURST = 50_000


def run_child(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter (clean OTel globals, own peak RSS); returns its stdout."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | (env or {})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True, timeout=300
    )
    if result.returncode:
        raise RuntimeError(result.stderr.decode())
    return result.stdout.decode()


OVERHEAD = """
import time, tempfile, os
from opentelemetry import trace
from otel_lens import configure, lens_fn
lens = configure(database=os.path.join(tempfile.mkdtemp(), "o.db"), sweep_interval=0, capture_logging=False)
tracer = trace.get_tracer("bench")
def work(x):
    return x + 1
@lens_fn
def decorated(x):
    return x + 1
def manual(x):
    with tracer.start_as_current_span("manual"):
        return x + 1
N = {n}
best = {{}}
for _ in range(5):
    for name, fn in (("manual", manual), ("lens_fn", decorated)):
        start = time.perf_counter()
        for i in range(N):
            fn(i)
        best[name] = min(best.get(name, 1e9), time.perf_counter() - start)
        lens.force_flush()
print(best["manual"] / N * 1e6, best["lens_fn"] / N * 1e6)
"""

BURST_CODE = """
import os, resource, sqlite3, tempfile, time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry import trace
db = os.path.join(tempfile.mkdtemp(), "b.db")
mode = {mode!r}
if mode == "lens":
    from otel_lens import configure
    lens = configure(database=db, sweep_interval=0, capture_logging=False)
    flush = lens.force_flush
    count = lambda: sqlite3.connect(db).execute("select count(*) from lens_spans").fetchone()[0]
else:
    from otel_lens.facade._batch import BatchOptions, LensSpanProcessor
    class RawSqlite(SpanExporter):
        def __init__(self):
            self.db = sqlite3.connect(db, check_same_thread=False)
            self.db.execute("pragma journal_mode=wal"); self.db.execute("pragma synchronous=normal")
            self.db.execute("create table s (trace_id blob, span_id blob, parent blob, name text, start int, dur int, attrs text)")
        def export(self, spans):
            import json
            with self.db:
                self.db.executemany("insert into s values (?,?,?,?,?,?,?)", [
                    (s.context.trace_id.to_bytes(16, "big"), s.context.span_id.to_bytes(8, "big"), None, s.name,
                     s.start_time, s.end_time - s.start_time, json.dumps(dict(s.attributes))) for s in spans])
            return SpanExportResult.SUCCESS
    provider = TracerProvider()
    processor = LensSpanProcessor(RawSqlite(), BatchOptions("OTEL_BSP"))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    flush = processor.force_flush
    count = lambda: sqlite3.connect(db).execute("select count(*) from s").fetchone()[0]
tracer = trace.get_tracer("burst")
start = time.perf_counter()
for i in range({n}):
    tracer.start_span("span", attributes={{"i": i, "kind": "burst"}}).end()
flush(300000)
elapsed = time.perf_counter() - start
print({n} / elapsed, {n} - count(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

ASGI_APP = """
import os
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
mode = os.environ["BENCH_MODE"]
if mode == "lens":
    from otel_lens import configure, instrument_asgi, lens_route
    configure(database=os.environ["BENCH_DB"], sweep_interval=0)
else:
    def lens_route(name):
        return lambda f: f
async def hello(request):
    return JSONResponse({"hello": "world"})
app = Starlette(routes=[Route("/", lens_route("GET /")(hello))])
if mode == "lens":
    app = instrument_asgi(app)
elif mode == "stock":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    class NoOp(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoOp()))
    trace.set_tracer_provider(provider)
    app = OpenTelemetryMiddleware(app)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(url: str, seconds: float, concurrency: int = 16) -> int:
    import httpx

    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                (await client.get(url)).raise_for_status()
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def asgi_rps(mode: str, workdir: Path, seconds: float) -> float:
    app_file = workdir / f"bench_app_{mode}.py"
    app_file.write_text(ASGI_APP)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"BENCH_MODE": mode, "BENCH_DB": str(workdir / "asgi.db"), "OTEL_METRICS_EXPORTER": "none"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"{app_file.stem}:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                asyncio.run(load(url, 0.05, 1))
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"uvicorn ({mode}) did not start: {server.stderr.read().decode() if server.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        asyncio.run(load(url, 1.0))  # warm-up
        if wrk := _which("wrk"):
            out = subprocess.run([wrk, "-t2", "-c16", f"-d{int(seconds)}s", url], capture_output=True, text=True).stdout
            return float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
        return asyncio.run(load(url, seconds)) / seconds
    finally:
        server.terminate()
        server.wait(30)


def _which(name: str) -> str | None:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def main(argv: Sequence[str] = ()) -> None:
    print("== otel-lens facade benchmarks ==")
    manual, decorated = map(float, run_child(OVERHEAD.format(n=5_000 if QUICK else 20_000)).split())
    print(
        f"lens_fn overhead: manual span {manual:.2f} µs/call, lens_fn {decorated:.2f} µs/call, "
        f"ratio {decorated / manual:.2f}x (goal <= 1.10)"
    )

    n = 10_000 if QUICK else BURST
    lens_rate, lens_lost, lens_rss = map(float, run_child(BURST_CODE.format(mode="lens", n=n)).split())
    raw_rate, raw_lost, raw_rss = map(float, run_child(BURST_CODE.format(mode="raw", n=n)).split())
    print(
        f"{n} span burst via configure(): {lens_rate:,.0f} spans/s, {int(lens_lost)} lost, peak RSS {lens_rss / 1024:.0f} MiB"
    )
    print(
        f"  raw-sqlite pipeline, same queue: {raw_rate:,.0f} spans/s, {int(raw_lost)} lost, peak RSS {raw_rss / 1024:.0f} MiB"
    )
    print(
        f"  throughput ratio {lens_rate / raw_rate:.2f}x (goal >= 0.8), peak RSS ratio {lens_rss / raw_rss:.2f}x (goal <= 1.2)"
    )

    seconds = 3.0 if QUICK else 8.0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rps = {mode: asgi_rps(mode, workdir, seconds) for mode in ("none", "stock", "lens")}
        stored = sqlite3.connect(workdir / "asgi.db").execute("select count(*) from lens_spans").fetchone()[0]
    tool = "wrk" if _which("wrk") else "httpx async loop"
    print(
        f"ASGI under load ({tool}, 16 connections, {seconds:.0f}s): none {rps['none']:,.0f} req/s, "
        f"stock OTel + no-op exporter {rps['stock']:,.0f} req/s, configure()+instrument_asgi {rps['lens']:,.0f} req/s "
        f"({stored} spans stored)"
    )
    print(
        f"  lens vs stock {rps['lens'] / rps['stock']:.2f}x (goal >= 1.0), lens vs none {rps['lens'] / rps['none']:.2f}x"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
