"""OTLP receiver ingest: the official OTLP/HTTP exporter → a real ``otel-lens serve``, end to end until queryable.

50k realistic spans (``_spans.SpanFactory``: 5 per trace, a few attributes and an event each) are sent by
``opentelemetry-exporter-otlp-proto-http``'s ``OTLPSpanExporter`` from a separate process, in the SDK's
512-span batches, one after the other (as one BatchSpanProcessor sends them), to ``otel-lens serve`` on a
fresh database. The clock runs from the client's first send until the store's span count is 50k (so
everything is committed and readable). In the same run the in-process ``LensSpanExporter`` stores the
same spans, batch by batch, into another fresh database.

"End to end" includes the client's own work: the official exporter builds protobuf messages in Python,
which costs more CPU per 512 spans than the whole in-process export (printed as "official exporter's own
encode"); that is the exporter's cost, not the receiver's, and no server can win it back. "Requests encoded
beforehand" sends the same requests pre-encoded from two threads: the server's work alone (decode + write;
two requests in flight, so decoding one overlaps writing the other and queued ones are written together).
Both are reported; the issue's goal is end to end. On a shared machine the spans/s of a pipeline of
processes suffer far more than one in-process loop, so the server's CPU per span (the serve process, from
psutil, over the pre-encoded run) is also set against the in-process exporter's CPU per span.

Goals (issue 11): receiver ≥ 0.5× the in-process exporter; ≥ 40× Arize Phoenix's OTLP ingest measured on
this machine (265 spans/s end to end: the anchor, not re-run here). The server's peak RSS during the ingest
is reported; ``--big`` sends 500k spans (made and sent in chunks, so the client stays small) to show the
server's memory stays flat as the store grows (that run's client makes its spans while it sends, so its
rate includes making them).

    python benchmarks/bench_receiver.py [--spans 50000] [--repeats 3] [--big]
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import _grpc_ingest
import psutil
from _report import Table, median, spread
from _spans import SpanFactory, batches
from opentelemetry.sdk.trace import ReadableSpan

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings

PHOENIX_SPANS_PER_S = 265.0
_ENDPOINT = re.compile(r"OTEL_EXPORTER_OTLP_ENDPOINT=(http://\S+)")
_VIEWER = re.compile(r"viewer at http://[^:]+:(\d+)/")
_CHUNK_TRACES = 2_000  # traces the client makes at a time in --big runs (10k spans)
_PREMADE_SPANS = 100_000  # up to this many, the client makes every span before the clock starts
_PROTOBUF = {"Content-Type": "application/x-protobuf"}


def client(endpoint: str, spans: int, raw: bool) -> None:
    """The client process: make the spans (untimed), say ready, wait for go, send them all, say done.

    ``raw``: the requests are encoded by the official encoder beforehand and POSTed by two threads, so
    the clock sees the server's work alone (the exporter's own encoding takes ~0.2 s per 512 spans here).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=60)
    factory = SpanFactory()
    traces = spans // 5
    chunked = spans > _PREMADE_SPANS and not raw  # --big: made while sending, or the client would need GBs
    first = [] if chunked else batches(factory.traces(traces))
    if raw:
        _raw_client(endpoint, first)
        return
    print(f"ready {_encode_ms(first or batches(factory.traces(1000))):.1f}", flush=True)
    sys.stdin.readline()
    failed = 0
    if chunked:
        for done in range(0, traces, _CHUNK_TRACES):
            for batch in batches(factory.traces(min(_CHUNK_TRACES, traces - done))):
                failed += exporter.export(batch) != SpanExportResult.SUCCESS
    else:
        for batch in first:
            failed += exporter.export(batch) != SpanExportResult.SUCCESS
    exporter.shutdown()
    print(f"done {failed}", flush=True)


def _encode_ms(work: list[Sequence[ReadableSpan]]) -> float:
    """CPU milliseconds the official exporter's own encoding (messages + bytes) takes per 512 spans, here."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    sample = work[:10]
    started = time.process_time()
    for batch in sample:
        encode_spans(batch).SerializeToString()
    return 1000 * (time.process_time() - started) * 512 / max(sum(len(batch) for batch in sample), 1)


def _raw_client(endpoint: str, work: list[Sequence[ReadableSpan]]) -> None:
    import httpx
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    bodies = [encode_spans(batch).SerializeToString() for batch in work]
    print("ready 0", flush=True)
    sys.stdin.readline()
    failed: list[int] = []

    def send(part: list[bytes]) -> None:
        with httpx.Client(timeout=60) as http:
            for body in part:
                status = http.post(f"{endpoint}/v1/traces", content=body, headers=_PROTOBUF).status_code
                failed.extend([status] if status != 200 else [])

    threads = [threading.Thread(target=send, args=(bodies[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"done {len(failed)}", flush=True)


latencies: list[tuple[float, float, float]] = []  # the viewer's /api/traces: idle median, busy median, busy max (s)
encodes: list[float] = []  # the official exporter's own encode, CPU ms per 512 spans (client side, not ours)
server_cpu: list[float] = []  # the serve process's CPU seconds per span, requests encoded beforehand
in_process_cpu: list[float] = []  # the in-process exporter's CPU seconds per span


def _viewer_latencies(viewer: str, count: int, stop: threading.Event | None = None) -> list[float]:
    """Seconds the viewer takes for a small /api/traces page, twice a second (while ``stop`` is unset)."""
    import httpx

    out: list[float] = []
    with httpx.Client(timeout=60) as http:
        for _ in range(count):
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            http.get(f"{viewer}/api/traces?limit=20")
            out.append(time.perf_counter() - started)
            time.sleep(0.5)  # a person clicking, not a load generator competing with the ingest
    return out


def _span_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM lens_spans").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def run_receiver(spans: int, workdir: Path, raw: bool = False) -> tuple[float, int]:
    """Seconds from the first send until ``spans`` are queryable, and the server's peak RSS in bytes."""
    database = workdir / f"receiver-{time.monotonic_ns()}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_EXPORTER_LENS_RETENTION": "0", "OTEL_EXPORTER_LENS_MAX_SIZE": "0"}  # the sweeper stays out of it
    server = subprocess.Popen(
        [sys.executable, "-m", "otel_lens", "serve", "--port", "0", "--otlp-port", "0", "--database", str(database)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        endpoint = None
        viewer_port = ""
        for line in server.stderr:
            viewer_match = _VIEWER.search(line)
            viewer_port = viewer_match.group(1) if viewer_match else viewer_port
            match = _ENDPOINT.search(line)
            if match:
                endpoint = match.group(1)
                break
        assert endpoint, "serve printed no OTLP endpoint"
        viewer = endpoint.rsplit(":", 1)[0] + ":" + viewer_port
        threading.Thread(target=server.stderr.read, daemon=True).start()  # keep its stderr drained
        sender = subprocess.Popen(
            [sys.executable, __file__, "--client", endpoint, "--spans", str(spans), *(["--raw"] if raw else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert sender.stdin is not None and sender.stdout is not None
        ready = sender.stdout.readline().split()
        assert ready[:1] == ["ready"], f"the client did not start: {ready}"
        if not raw:
            encodes.append(float(ready[1]))
        process = psutil.Process(server.pid)
        peak = process.memory_info().rss
        pings: list[float] = []
        stop = threading.Event()
        pinger = threading.Thread(target=lambda: pings.extend(_viewer_latencies(viewer, 10_000, stop)), daemon=True)
        cpu_before = sum(process.cpu_times()[:2])
        started = time.perf_counter()
        pinger.start()
        sender.stdin.write("go\n")
        sender.stdin.flush()
        while _span_count(database) < spans:
            peak = max(peak, process.memory_info().rss)
            if sender.poll() is not None:  # it has sent all: what it answered must be stored by now
                assert _span_count(database) == spans, f"client ended: {sender.stdout.read()!r}"
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        if raw:
            server_cpu.append((sum(process.cpu_times()[:2]) - cpu_before) / spans)
        stop.set()
        pinger.join(30)
        idle = _viewer_latencies(viewer, 20)  # the same store, now that nothing is being sent
        latencies.append((median(idle), median(pings) if pings else float("nan"), max(pings, default=float("nan"))))
        done = sender.stdout.readline().split()
        assert done == ["done", "0"], f"the client saw failed exports: {done}"
        sender.wait(60)
        return elapsed, peak
    finally:
        server.terminate()
        server.wait(60)


def run_in_process(spans: int, workdir: Path) -> float:
    """Seconds for ``LensSpanExporter`` to store the same spans (512 a batch, committed when export returns)."""
    database = workdir / f"inprocess-{time.monotonic_ns()}.db"
    work = batches(SpanFactory().traces(spans // 5))
    settings = Settings.load(environ={}, database=str(database), sweep_interval=0, retention=0, max_size=0)
    exporter = LensSpanExporter(settings)
    try:
        cpu_before = time.process_time()
        started = time.perf_counter()
        for batch in work:
            exporter.export(batch)
        elapsed = time.perf_counter() - started
        in_process_cpu.append((time.process_time() - cpu_before) / spans)
    finally:
        exporter.shutdown()
    assert _span_count(database) == spans
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also send 500k spans once and report the server's RSS")
    parser.add_argument("--client", metavar="ENDPOINT", help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client, args.spans, args.raw)
        return
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp:
        workdir = Path(tmp)
        receiver: list[float] = []
        server: list[float] = []
        in_process: list[float] = []
        grpc: list[float] = []  # the OTLP/gRPC section (_grpc_ingest.py), when the grpc extra is installed
        peaks: list[int] = []
        for _ in range(args.repeats):  # interleaved: the machine is shared
            elapsed, peak = run_receiver(args.spans, workdir)
            receiver.append(args.spans / elapsed)
            peaks.append(peak)
            elapsed, peak = run_receiver(args.spans, workdir, raw=True)
            server.append(args.spans / elapsed)
            peaks.append(peak)
            in_process.append(args.spans / run_in_process(args.spans, workdir))
            if _grpc_ingest.available():
                elapsed, peak = _grpc_ingest.run_grpc_receiver(args.spans, workdir, _span_count)
                grpc.append(args.spans / elapsed)
                peaks.append(peak)
        big = run_receiver(500_000, workdir) if args.big else None
    table = Table(f"OTLP/HTTP receiver: {args.spans} spans, official exporter, 512 a request, until queryable")
    table.add("receiver (serve)", f"{median(receiver):,.0f} spans/s", spread(receiver, lambda v: f"{v:,.0f}"))
    table.add("receiver, requests encoded beforehand", f"{median(server):,.0f} spans/s",
              f"{spread(server, lambda v: f'{v:,.0f}')} (2 senders: the server's work alone)")  # fmt: skip
    table.add(
        "in-process LensSpanExporter", f"{median(in_process):,.0f} spans/s", spread(in_process, lambda v: f"{v:,.0f}")
    )
    if grpc:
        table.add(
            "receiver over OTLP/gRPC (serve)", f"{median(grpc):,.0f} spans/s", spread(grpc, lambda v: f"{v:,.0f}")
        )
    encode_ms = median(encodes)
    table.add("official exporter's own encode", f"{encode_ms:.0f} ms CPU / 512 spans",
              f"client side: caps end to end at ~{512_000 / encode_ms:,.0f} spans/s on one core")  # fmt: skip
    server_us, in_process_us = 1e6 * median(server_cpu), 1e6 * median(in_process_cpu)
    table.add("server CPU, requests encoded beforehand", f"{server_us:.0f} µs / span",
              "the serve process (HTTP, decode, write; the viewer's pings too): less load-bound than spans/s")  # fmt: skip
    table.add("in-process exporter CPU", f"{in_process_us:.0f} µs / span", "encode + write")
    table.add("server peak RSS", f"{max(peaks) / 2**20:.0f} MiB", f"during {args.spans} spans")
    idle_ms, busy_ms, worst_ms = (1000 * median([entry[i] for entry in latencies]) for i in range(3))
    table.add("viewer /api/traces, idle", f"{idle_ms:.0f} ms", "median")
    table.add("viewer /api/traces, during ingest", f"{busy_ms:.0f} ms", f"median; worst {worst_ms:.0f} ms")
    if big is not None:
        table.add("500k spans: receiver", f"{500_000 / big[0]:,.0f} spans/s", "")
        table.add("500k spans: server peak RSS", f"{big[1] / 2**20:.0f} MiB", "")
    table.goal(
        "receiver / in-process",
        median(receiver) / median(in_process),
        "≥ 0.5×",
        median(receiver) / median(in_process) >= 0.5,
    )
    table.goal("server alone / in-process", median(server) / median(in_process), "≥ 0.5×",
               median(server) / median(in_process) >= 0.5)  # fmt: skip
    table.goal("receiver / Phoenix (265 spans/s)", median(receiver) / PHOENIX_SPANS_PER_S, "≥ 40×",
               median(receiver) / PHOENIX_SPANS_PER_S >= 40, "{:.0f}×")  # fmt: skip
    table.goal("server alone / Phoenix (265 spans/s)", median(server) / PHOENIX_SPANS_PER_S, "≥ 40×",
               median(server) / PHOENIX_SPANS_PER_S >= 40, "{:.0f}×")  # fmt: skip
    table.goal(
        "server alone / in-process, by CPU", in_process_us / server_us, "≥ 0.5×", in_process_us / server_us >= 0.5
    )
    if grpc:
        table.goal("gRPC receiver / in-process", median(grpc) / median(in_process), "≥ 0.5×",
                   median(grpc) / median(in_process) >= 0.5)  # fmt: skip
    table.print()


if __name__ == "__main__":
    main()
