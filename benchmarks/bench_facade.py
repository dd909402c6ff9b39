"""Facade benchmarks: lens_fn overhead, a 50k-span burst through configure(), an ASGI app under load.

Every measurement runs in a fresh interpreter on a fresh database (clean OTel globals, its own
peak RSS, no variant inheriting a bigger file from another), the variants interleaved, repeated
``--repeats`` times; medians are reported since the machine is shared. Never fails on time.
Run: ``python benchmarks/bench_facade.py`` (``--quick`` for a smaller run, ``--repeats N``).

- lens_fn overhead vs. a hand-written ``with tracer.start_as_current_span()`` around the same
  function (goal ≤ 1.10×): without a processor, with configure()'s processor per call (chunks of
  500 calls below the export batch size, flushed between chunks: the caller's cost), and
  saturated (20k calls back to back: the store's throughput decides, shown for reference).
- Burst: 50k spans through configure() vs. a raw-sqlite pipeline behind the same processor and
  queue, storing the same spans the way bench_export's raw baseline does (the ids, times, status,
  attributes and events as one row; a unique id index and a time index, as any queryable store
  needs; the index-free variant this benchmark used before is shown too). Goals: 0 lost, throughput ≥ 0.8×, peak RSS growth during the burst ≤ 1.2× (growth over
  the RSS just before the burst: what not dropping spans holds, apart from the code imported).
- ASGI under load (wrk, else an httpx loop): configure()+instrument_asgi storing every request vs.
  the stock OTel ASGI middleware with a no-op exporter (goal ≥ 1.0×) and vs. no instrumentation; beside
  them lens' request path with its export thread dropping each batch (what the request path costs) and
  storing each batch with the raw-sqlite3 baseline of ``_raw_sqlite.py`` (what storing in SQLite at all
  costs: lens/raw near 1.0× means otel-lens' own additions to the export are not what is left), and
  lens storing with the endpoint not decorated by ``lens_route`` (what that one extra span a request costs),
  and stock OTel with that span written by hand (the same spans a request as lens, none stored).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from _report import Table, median, spread

BURST = 50_000
BENCH_DIR = Path(__file__).resolve().parent


def run_child(code: str, env: dict[str, str] | None = None) -> list[float]:
    """Run ``code`` in a fresh interpreter; returns the numbers it prints."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | (env or {})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True, timeout=300
    )
    if result.returncode:
        raise RuntimeError(result.stderr.decode())
    return [float(x) for x in result.stdout.split()]


OVERHEAD = """
import os, statistics, tempfile, time
from opentelemetry import trace
from otel_lens import lens_fn
processor, variant, calls = {processor!r}, {variant!r}, {calls}
if processor == "lens":
    from otel_lens import configure
    lens = configure(database=os.path.join(tempfile.mkdtemp(), "o.db"), sweep_interval=0, capture_logging=False)
    flush = lens.force_flush
else:
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())
    flush = lambda timeout_millis=0: True
tracer = trace.get_tracer("bench")
@lens_fn
def decorated(x):
    return x + 1
def manual(x):
    with tracer.start_as_current_span("manual"):
        return x + 1
fn = decorated if variant == "lens_fn" else manual
for i in range(2000):  # warm-up
    fn(i)
flush()
chunks = []
for _ in range(calls // 500):  # below the export batch size: the export thread stays idle while timed
    start = time.perf_counter()
    for i in range(500):
        fn(i)
    chunks.append(time.perf_counter() - start)
    flush()
per_call = statistics.median(chunks) / 500 * 1e6
start = time.perf_counter()
for i in range(calls):
    fn(i)
flush(300000)
saturated = (time.perf_counter() - start) / calls * 1e6
print(per_call, saturated if processor == "lens" else 0)
"""

BURST_CODE = """
import os, resource, sqlite3, tempfile, time
from opentelemetry import trace
db = os.path.join(tempfile.mkdtemp(), "b.db")
mode = {mode!r}

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

if mode == "lens":
    from otel_lens import configure
    lens = configure(database=db, sweep_interval=0, capture_logging=False)
    flush = lens.force_flush
    count = lambda: sqlite3.connect(db).execute("select count(*) from lens_spans").fetchone()[0]
else:
    import sys
    sys.path.insert(0, {bench_dir!r})
    from _raw_sqlite import RawSqliteSpans
    from opentelemetry.sdk.trace import TracerProvider
    from otel_lens.facade._batch import BatchOptions, LensSpanProcessor

    raw = RawSqliteSpans(db, indexed=mode == "raw")
    provider = TracerProvider()
    processor = LensSpanProcessor(raw, BatchOptions("OTEL_BSP"))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    flush = processor.force_flush
    count = raw.count
tracer = trace.get_tracer("burst")
tracer.start_span("warm-up").end()
flush()
before = rss_kib()
start = time.perf_counter()
for i in range({n}):
    tracer.start_span("span", attributes={{"i": i, "kind": "burst"}}).end()
flush(300000)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print({n} / elapsed, {n} + 1 - count(), peak, max(peak - before, 0))
"""

ASGI_APP = """
import os
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
mode = os.environ["BENCH_MODE"]
token = os.environ["BENCH_TOKEN"]
if mode in ("lens", "drop", "raw", "mw"):
    from otel_lens import configure, instrument_asgi, lens_route
    lens = configure(database=os.environ["BENCH_DB"], sweep_interval=0)
    if mode == "mw":
        # Storing like lens, the endpoint without lens_route: what lens_route's span adds to a request.
        def lens_route(name):
            return lambda f: f
    if mode == "drop":
        # lens' request path and queue, but the export thread drops each batch instead of encoding and
        # inserting it: lens minus drop is what the export thread's CPU costs the app on a shared machine.
        lens.span_processor._batcher._export_batch = lambda spans: None
    elif mode == "raw":
        # lens' request path and queue, each batch stored by the raw-sqlite3 baseline instead (one row a
        # span, two indexes, nothing else): what storing in SQLite at all costs the app, its floor.
        import sys
        sys.path.insert(0, os.environ["BENCH_DIR"])
        from _raw_sqlite import RawSqliteSpans
        lens.span_processor._batcher._export_batch = RawSqliteSpans(os.environ["BENCH_DB"] + ".raw").export
elif mode == "stock_span":
    # Stock OTel with the span lens_route makes written by hand (a child span named like the route around the
    # endpoint): the same spans a request as lens, none stored.
    import functools
    from opentelemetry import trace
    tracers = []  # the SDK's tracer, got once the provider below is set (as an app gets it at import)
    def lens_route(name):
        def decorator(endpoint):
            @functools.wraps(endpoint)
            async def wrapper(*args, **kwargs):
                if not tracers:
                    tracers.append(trace.get_tracer("bench"))
                with tracers[0].start_as_current_span(name):
                    return await endpoint(*args, **kwargs)
            return wrapper
        return decorator
else:
    def lens_route(name):
        return lambda f: f
async def hello(request):
    return JSONResponse({"hello": token})
app = Starlette(routes=[Route("/", lens_route("GET /")(hello))])
if mode in ("lens", "drop", "raw", "mw"):
    app = instrument_asgi(app)
elif mode in ("stock", "stock_span"):
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


async def load(url: str, seconds: float, concurrency: int = 16, token: str | None = None) -> int:
    import httpx

    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(url)
                response.raise_for_status()
                if token is not None and response.json().get("hello") != token:
                    raise RuntimeError(f"another server answers on {url}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def start_server(mode: str, workdir: Path, database: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start uvicorn for ``mode`` on a free port; a port taken meanwhile by another process means another try."""
    app_file = workdir / f"bench_app_{mode}.py"
    app_file.write_text(ASGI_APP)
    for _ in range(5):
        token = uuid.uuid4().hex
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env |= {"BENCH_MODE": mode, "BENCH_DB": str(database), "BENCH_TOKEN": token, "OTEL_METRICS_EXPORTER": "none"}
        env["BENCH_DIR"] = str(BENCH_DIR)
        command = [sys.executable, "-m", "uvicorn", f"{app_file.stem}:app", "--port", str(port)]
        server = subprocess.Popen(
            [*command, "--log-level", "warning", "--no-access-log"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            try:
                asyncio.run(load(url, 0.05, 1, token))  # our token: not another process on a reused port
                return server, url
            except Exception:
                time.sleep(0.1)
        stop(server)
    err = server.stderr.read().decode() if server.stderr else ""
    raise RuntimeError(f"uvicorn ({mode}) did not start: {err}")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far, from /proc (NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def asgi_rps(mode: str, workdir: Path, database: Path, seconds: float) -> tuple[float, float]:
    """(requests/s, server CPU µs per request) of ``mode`` under load. The CPU per request barely moves
    with the neighbours' load, where requests/s does: it is what each request costs the server process."""
    # A fresh server on another port when the warm-up cannot connect: on this machine a loopback port
    # just picked sometimes refuses new connections for a moment although our server listens on it.
    attempts = 5
    for attempt in range(attempts):
        server, url = start_server(mode, workdir, database)
        try:
            if wrk := shutil.which("wrk"):
                # The port sometimes refuses connections for a few seconds after the first request was
                # answered: warm up until wrk connects (bounded) before trying another server.
                for _ in range(10):
                    warm = subprocess.run([wrk, "-t2", "-c16", "-d1s", url], capture_output=True, text=True)
                    if not warm.returncode:
                        break
                    time.sleep(0.5)
                if warm.returncode:
                    if attempt < attempts - 1:
                        continue
                    # Say whether the server was still there (a refused port) or had exited, and why.
                    state = "running" if server.poll() is None else f"exited with {server.returncode}"
                    raise RuntimeError(f"wrk could not load {url} ({mode} server {state}): {warm.stdout + warm.stderr}")
                command = [wrk, "-t2", "-c16", f"-d{int(seconds)}s", url]
                cpu = cpu_seconds(server.pid)
                out = subprocess.run(command, capture_output=True, text=True).stdout
                cpu = cpu_seconds(server.pid) - cpu
                lines = out.splitlines()
                rps = float(next(line.split()[1] for line in lines if line.startswith("Requests/sec")))
                done = int(next(line.split()[0] for line in lines if " requests in " in line))
                return rps, cpu / max(done, 1) * 1e6
            asyncio.run(load(url, 1.0))  # warm-up
            cpu = cpu_seconds(server.pid)
            done = asyncio.run(load(url, seconds))
            return done / seconds, (cpu_seconds(server.pid) - cpu) / max(done, 1) * 1e6
        finally:
            stop(server)
    raise AssertionError("unreachable")


def bench_overhead(repeats: int, calls: int) -> None:
    results: dict[tuple[str, str], list[list[float]]] = {}
    for round_ in range(repeats):
        for processor in ("none", "lens"):
            variants = ("manual", "lens_fn") if round_ % 2 == 0 else ("lens_fn", "manual")
            for variant in variants:
                code = OVERHEAD.format(processor=processor, variant=variant, calls=calls)
                results.setdefault((processor, variant), []).append(run_child(code))
    table = Table(f"lens_fn overhead: {calls} calls per process, median of {repeats} interleaved repeats")

    def us(x: float) -> str:
        return f"{x:.2f} µs"

    ratios = {}
    for processor, index, label in (
        ("none", 0, "no processor, per call"),
        ("lens", 0, "configure()'s processor, per call"),
        ("lens", 1, "configure()'s processor, saturated"),
    ):
        manual = [r[index] for r in results[(processor, "manual")]]
        decorated = [r[index] for r in results[(processor, "lens_fn")]]
        table.add(f"{label}: manual span", us(median(manual)), spread(manual, us))
        table.add(f"{label}: lens_fn", us(median(decorated)), spread(decorated, us))
        ratios[label] = median(decorated) / median(manual)
    for label, ratio in ratios.items():
        table.goal(f"lens_fn/manual, {label}", ratio, "≤ 1.10×", ratio <= 1.10)
    table.print()


def bench_burst(repeats: int, n: int) -> None:
    results: dict[str, list[list[float]]] = {"lens": [], "raw": [], "bare": []}
    for round_ in range(repeats):
        for mode in ("lens", "raw", "bare") if round_ % 2 == 0 else ("bare", "raw", "lens"):
            results[mode].append(run_child(BURST_CODE.format(mode=mode, n=n, bench_dir=str(BENCH_DIR))))
    table = Table(f"burst: {n} spans as fast as possible, median of {repeats} interleaved repeats")

    def rate(x: float) -> str:
        return f"{x:,.0f}/s"

    def mib(x: float) -> str:
        return f"{x / 1024:.0f} MiB"

    med: dict[str, list[float]] = {}
    for mode, label in (("lens", "configure()"), ("raw", "raw-sqlite, same processor"), ("bare", "raw, no index")):
        rows = results[mode]
        med[mode] = [median([r[i] for r in rows]) for i in range(4)]
        table.add(f"{label}: spans/s", rate(med[mode][0]), spread([r[0] for r in rows], rate))
        table.add(f"{label}: lost (worst)", f"{max(r[1] for r in rows):.0f}")
        table.add(f"{label}: peak RSS", mib(med[mode][2]), spread([r[2] for r in rows], mib))
        table.add(f"{label}: peak RSS growth", mib(med[mode][3]), spread([r[3] for r in rows], mib))
    lost = max(r[1] for r in results["lens"])
    table.goal("configure() spans lost", lost, "0", lost == 0, "{:.0f}")
    throughput = med["lens"][0] / med["raw"][0]
    table.goal("throughput configure()/raw", throughput, "≥ 0.8×", throughput >= 0.8)
    growth = med["lens"][3] / max(med["raw"][3], 1)
    table.goal("peak RSS growth configure()/raw", growth, "≤ 1.2×", growth <= 1.2)
    table.add("peak RSS configure()/raw (incl. imports)", f"{med['lens'][2] / med['raw'][2]:.2f}×")
    # The baseline before the indexes were added, for comparison with earlier runs; not a goal.
    table.add("throughput configure()/raw without indexes", f"{med['lens'][0] / med['bare'][0]:.2f}×")
    table.print()


def bench_asgi(repeats: int, seconds: float) -> None:
    modes = ["none", "stock", "lens", "drop", "raw", "mw", "stock_span"]
    rps: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database = workdir / "asgi.db"
        for round_ in range(repeats):
            # Rotated order: each mode runs first, second, ... in turn, so a noisy neighbour on the
            # shared machine does not always hit the same one.
            shift = round_ % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                rate, per_request = asgi_rps(mode, workdir, database, seconds)
                rps[mode].append(rate)
                cpu[mode].append(per_request)
        stored = sqlite3.connect(database).execute("select count(*) from lens_spans").fetchone()[0]
    tool = "wrk" if shutil.which("wrk") else "httpx async loop"
    table = Table(f"ASGI under load: {tool}, 16 connections, {seconds:.0f}s, median of {repeats} rotated repeats")

    def reqs(x: float) -> str:
        return f"{x:,.0f} req/s"

    labels = (
        ("none", "no instrumentation"),
        ("stock", "stock OTel, no-op exporter"),
        ("lens", "lens (configure() + instrument_asgi, storing)"),
        ("drop", "lens, export thread dropping batches"),
        ("raw", "lens' request path, batches into raw sqlite3"),
        ("mw", "lens storing, endpoint without lens_route"),
        ("stock_span", "stock OTel + a hand-written span like lens_route's"),
    )

    def us(x: float) -> str:
        return f"{x:,.0f} µs"

    for mode, label in labels:
        table.add(label, reqs(median(rps[mode])), spread(rps[mode], reqs))
    for mode, label in labels:
        table.add(f"{label}: server CPU per request", us(median(cpu[mode])), spread(cpu[mode], us))
    table.add("spans stored by lens", f"{stored}")
    # Each repeat's ratio from that repeat's own measurements (the same minute of machine load).
    for round_ in range(repeats):
        ratio = rps["lens"][round_] / rps["stock"][round_]
        table.goal(f"lens/stock, repeat {round_ + 1}", ratio, "≥ 1.0×", ratio >= 1.0)
    for round_ in range(repeats):
        table.add(f"drop/stock, repeat {round_ + 1}", f"{rps['drop'][round_] / rps['stock'][round_]:.2f}×")
    for round_ in range(repeats):
        table.add(f"raw/stock, repeat {round_ + 1}", f"{rps['raw'][round_] / rps['stock'][round_]:.2f}×")
    for round_ in range(repeats):
        table.add(f"lens/raw, repeat {round_ + 1}", f"{rps['lens'][round_] / rps['raw'][round_]:.2f}×")
    for round_ in range(repeats):
        ratio = rps["mw"][round_] / rps["stock"][round_]
        table.add(f"lens without lens_route/stock, repeat {round_ + 1}", f"{ratio:.2f}×")
    for round_ in range(repeats):
        ratio = rps["lens"][round_] / rps["stock_span"][round_]
        table.add(f"lens/stock with the same spans, repeat {round_ + 1}", f"{ratio:.2f}×")
    for round_ in range(repeats):
        # stock's CPU per request over lens': the throughput ratio a CPU-bound server would get alone.
        ratio = cpu["stock"][round_] / cpu["lens"][round_]
        table.add(f"lens/stock by server CPU per request, repeat {round_ + 1}", f"{ratio:.2f}×")
    vs_stock = median(rps["lens"]) / median(rps["stock"])
    table.goal("lens/stock, medians", vs_stock, "≥ 1.0×", vs_stock >= 1.0)
    table.add("lens/none (plain), medians", f"{median(rps['lens']) / median(rps['none']):.2f}×")
    table.add(
        "export thread's share of lens' cost",
        f"{1 - median(rps['lens']) / median(rps['drop']):.0%} of drop's throughput",
    )
    table.print()


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("overhead", "burst", "asgi"), action="append")
    args = parser.parse_args(argv)
    chosen = args.only or ["overhead", "burst", "asgi"]
    if "overhead" in chosen:
        bench_overhead(args.repeats, 5_000 if args.quick else 20_000)
    if "burst" in chosen:
        bench_burst(args.repeats, 10_000 if args.quick else BURST)
    if "asgi" in chosen:
        bench_asgi(args.repeats, 3.0 if args.quick else 5.0)


if __name__ == "__main__":
    main(sys.argv[1:])
