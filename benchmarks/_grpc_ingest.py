"""bench_receiver's OTLP/gRPC section: the official OTLP/gRPC exporter → a real ``otel-lens serve`` (extra ``grpc``).

The same measurement as the OTLP/HTTP one beside it: a separate client process makes the spans (untimed),
then sends them in the SDK's 512-span batches, one after the other, with ``opentelemetry-exporter-otlp-proto-grpc``'s
``OTLPSpanExporter`` (as ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` would); the clock runs from the first send until
the store's span count says everything is committed. ``python benchmarks/_grpc_ingest.py --client ADDRESS --spans N``
is that client.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from _spans import SpanFactory, batches

_GRPC = re.compile(r"OTLP/gRPC receiver: export with OTEL_EXPORTER_OTLP_ENDPOINT=(http://\S+)")


def available() -> bool:
    """True when grpcio and the official gRPC exporter are installed (``pip install -e '.[dev]'``)."""
    try:
        import grpc  # noqa: F401
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: F401
    except ImportError:
        return False
    return True


def client(endpoint: str, spans: int) -> None:
    """Make the spans, say ready, wait for go, export them all through the official gRPC exporter, say done."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=60)
    work = batches(SpanFactory().traces(spans // 5))
    print("ready", flush=True)
    sys.stdin.readline()
    failed = sum(exporter.export(batch) != SpanExportResult.SUCCESS for batch in work)
    exporter.shutdown()
    print(f"done {failed}", flush=True)


def run_grpc_receiver(spans: int, workdir: Path, span_count: Callable[[Path], int]) -> tuple[float, int]:
    """Seconds from the first gRPC export until ``spans`` are queryable, and the server's peak RSS in bytes."""
    database = workdir / f"receiver-grpc-{time.monotonic_ns()}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_EXPORTER_LENS_RETENTION": "0", "OTEL_EXPORTER_LENS_MAX_SIZE": "0"}
    command = [sys.executable, "-m", "otel_lens", "serve", "--port", "0", "--otlp-port", "0", "--grpc-port", "0",
               "--database", str(database)]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert server.stderr is not None
        endpoint = next((m.group(1) for line in server.stderr if (m := _GRPC.search(line))), None)
        assert endpoint, "serve printed no OTLP/gRPC endpoint (is the grpc extra installed?)"
        threading.Thread(target=server.stderr.read, daemon=True).start()  # keep its stderr drained
        sender = subprocess.Popen([sys.executable, __file__, "--client", endpoint, "--spans", str(spans)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
        assert sender.stdin is not None and sender.stdout is not None
        assert sender.stdout.readline().strip() == "ready"
        process = psutil.Process(server.pid)
        peak = process.memory_info().rss
        started = time.perf_counter()
        sender.stdin.write("go\n")
        sender.stdin.flush()
        while span_count(database) < spans:
            peak = max(peak, process.memory_info().rss)
            assert sender.poll() is None or sender.returncode == 0, "the gRPC client failed"
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        done = sender.stdout.readline().split()
        assert done == ["done", "0"], f"the gRPC client saw failed exports: {done}"
        sender.wait(60)
        return elapsed, peak
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", metavar="ENDPOINT", required=True)
    parser.add_argument("--spans", type=int, default=50_000)
    arguments = parser.parse_args()
    client(arguments.client, arguments.spans)
