"""OTLP/gRPC into a real ``otel-lens serve``: the official gRPC exporters, raw gRPC calls, and the answers.

The client of the first tests is a separate process (tests/data/otlp_grpc_client.py) configured only by
``OTEL_EXPORTER_OTLP_ENDPOINT`` (and the headers variable for the token), with the SDK's in-memory
exporters beside the official ``opentelemetry-exporter-otlp-proto-grpc`` ones: what ``show --json`` /
``logs --json`` return must equal what they captured. The rest call the services with a real grpcio
channel to check each status the OTLP/gRPC spec asks for (and its retry trailer).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_lens._redact import Redactor
from otel_lens.receiver import Ingest, OtlpGrpcServer
from otel_lens.settings import Settings
from otel_lens.store.shared import acquire, release
from tests._receiver import assert_stored_as_captured, lens
from tests._web import Viewer, serve

CLIENT = Path(__file__).parent / "data" / "otlp_grpc_client.py"
_GRPC = re.compile(
    r"OTLP/gRPC receiver: export with OTEL_EXPORTER_OTLP_ENDPOINT=http://(\S+) OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
)
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def _grpc_address(viewer: Viewer) -> str:
    deadline = time.monotonic() + 60
    while True:
        found = [m.group(1) for line in list(viewer.stderr_lines) if (m := _GRPC.search(line))]
        if found:
            return found[0]
        assert time.monotonic() < deadline and viewer.process.poll() is None, "".join(viewer.stderr_lines)
        time.sleep(0.02)


def _run_client(address: str, out: Path, compression: str = "none", token: str | None = None) -> dict[str, Any]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{address}"}
    if token:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer%20{token}"
    done = subprocess.run([sys.executable, str(CLIENT), str(out), compression], capture_output=True, text=True,
                          timeout=120, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Failed to export" not in done.stderr and "error" not in done.stderr.lower(), done.stderr
    captured: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return captured


def _call(
    address: str, method: str, body: bytes, metadata: tuple[tuple[str, str], ...] = (), compressed: bool = False
) -> Any:
    with grpc.insecure_channel(address) as channel:
        compression = grpc.Compression.Gzip if compressed else None
        return channel.unary_unary(method)(body, timeout=30, metadata=metadata, compression=compression)  # raw bytes


def _error(
    address: str, method: str, body: bytes, metadata: tuple[tuple[str, str], ...] = (), compressed: bool = False
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        _call(address, method, body, metadata, compressed)
    return raised.value


def _request(*spans: Span) -> bytes:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    scope_spans.scope.name = "raw"
    scope_spans.spans.extend(spans)
    return request.SerializeToString()  # type: ignore[no-any-return]


def _span(span_id: int, trace_id: bytes = bytes(range(1, 17)), name: str = "raw span") -> Span:
    return Span(trace_id=trace_id, span_id=span_id.to_bytes(8, "big"), name=name, start_time_unix_nano=10**18,
                end_time_unix_nano=10**18 + 5)  # fmt: skip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Viewer, str, Path]]:
    database = tmp_path / "lens.db"
    with serve(database) as viewer:
        yield viewer, _grpc_address(viewer), database


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_official_grpc_exporters_store_what_the_sdk_captured(tmp_path: Path, compression: str) -> None:
    """Spans and logs sent by the official OTLP/gRPC exporters (plain and gzip), configured by
    OTEL_EXPORTER_OTLP_ENDPOINT alone, are stored as the SDK made them (ids, names, kinds, times, status,
    attributes, events, links, resource, scope), secrets redacted; the same spans sent twice are stored once."""
    database = tmp_path / "lens.db"
    with serve(database) as viewer:
        captured = _run_client(_grpc_address(viewer), tmp_path / "captured.json", compression)
        assert_stored_as_captured(database, captured)


def test_the_token_is_required_as_bearer_metadata(tmp_path: Path) -> None:
    """serve --token: a call without the token, or with a wrong one, is UNAUTHENTICATED and stores nothing;
    the official exporter with OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer… stores its spans."""
    database = tmp_path / "lens.db"
    with serve(database, "--token", "t0ken-123") as viewer:
        address = _grpc_address(viewer)
        assert "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20t0ken-123" in "".join(viewer.stderr_lines)
        for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", "t0ken-123"),)):
            error = _error(address, TRACES, _request(_span(1)), metadata)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "Bearer" in (error.details() or "")
        captured = _run_client(address, tmp_path / "captured.json", token="t0ken-123")
        assert len(lens(database, "show", captured["spans"][0]["trace_id"])["spans"]) == 5
        assert lens(database, "traces", "--name", "raw span") == []


def test_bad_payloads_partial_success_and_metrics_get_the_specs_answers(served: tuple[Viewer, str, Path]) -> None:
    """Bytes that are not a request: INVALID_ARGUMENT naming why (one line); spans with bad ids: OK with
    partial_success (rejected_spans and the reason), the valid span stored, likewise rejected_log_records for logs; a message past the body cap
    (also a gzip bomb): RESOURCE_EXHAUSTED from grpc itself (before any decoding); metrics: OK, every point rejected; serve keeps serving throughout."""
    viewer, address, database = served
    for garbage in (b"\xff\xff\xff", b"\x0a\x05abc"):
        error = _error(address, TRACES, garbage)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        assert (error.details() or "").startswith("not an OTLP traces request") and "\n" not in (error.details() or "")
    assert _error(address, LOGS, b"\xff\xff").code() == grpc.StatusCode.INVALID_ARGUMENT

    answer = ExportTraceServiceResponse.FromString(
        _call(address, TRACES, _request(_span(7, trace_id=b"short"), _span(8)))
    )
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == "1 spans rejected: 1 with an invalid trace id (5 bytes)"
    assert [s["name"] for s in lens(database, "show", bytes(range(1, 17)).hex())["spans"]] == ["raw span"]
    assert ExportLogsServiceResponse.FromString(_call(address, LOGS, b"")).HasField("partial_success") is False
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add(trace_id=b"short", time_unix_nano=10**18)
    answer_l = ExportLogsServiceResponse.FromString(_call(address, LOGS, logs.SerializeToString()))
    assert answer_l.partial_success.rejected_log_records == 1
    assert answer_l.partial_success.error_message == "1 log records rejected: 1 with an invalid trace id (5 bytes)"

    too_big = _request(_span(9, name="x" * (17 * 1024 * 1024)))  # past the 16 MiB body cap
    assert _error(address, TRACES, too_big).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(gzip.compress(too_big)) < 100_000  # a gzip bomb: small on the wire, refused by its decompressed size
    assert _error(address, TRACES, too_big, compressed=True).code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    metrics = ExportMetricsServiceRequest()
    gauge = metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="g").gauge
    gauge.data_points.add(as_int=1)
    gauge.data_points.add(as_int=2)
    answer_m = ExportMetricsServiceResponse.FromString(_call(address, METRICS, metrics.SerializeToString()))
    assert (
        answer_m.partial_success.rejected_data_points == 2 and "not metrics" in answer_m.partial_success.error_message
    )
    assert (
        ExportTraceServiceResponse.FromString(
            _call(address, TRACES, _request(_span(10)))
        ).partial_success.rejected_spans
        == 0
    )
    assert viewer.process.poll() is None


def test_a_full_queue_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    """While another writer holds the database, the receiver's queue fills: the next call is RESOURCE_EXHAUSTED
    with a google.rpc.RetryInfo trailer (what the official exporter waits by), and nothing of it is stored;
    the queued one is stored once the database is free, and answered OK."""
    settings = Settings.load(environ={}, database=str(tmp_path / "busy.db"), sweep_interval=0)
    store = acquire(settings)
    ingest = Ingest(lambda: store, max_rows=1)
    server = OtlpGrpcServer(ingest, Redactor(), max_concurrent=4)
    address = f"127.0.0.1:{server.listen('127.0.0.1', 0)}"
    first: list[Any] = []
    try:
        with store.locked():  # another export holding the write lock: the writer thread waits for it
            sender = threading.Thread(target=lambda: first.append(_call(address, TRACES, _request(_span(1)))))
            sender.start()
            deadline = time.monotonic() + 30
            while ingest.queued[0] == 0:
                assert time.monotonic() < deadline, "the first request was never queued"
                time.sleep(0.01)
            error = _error(address, TRACES, _request(_span(2)))
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "the write queue is full" in (error.details() or "")
            trailer = dict(error.trailing_metadata() or ())["google.rpc.retryinfo-bin"]
            delay = RetryInfo.FromString(trailer).retry_delay
            assert 1 <= delay.seconds <= 30
        sender.join(60)
        assert len(first) == 1 and ExportTraceServiceResponse.FromString(first[0]).partial_success.rejected_spans == 0
    finally:
        server.stop(5)
        ingest.close(30)
        release(store)
    stored = lens(tmp_path / "busy.db", "show", bytes(range(1, 17)).hex())["spans"]
    assert [s["span_id"] for s in stored] == [(1).to_bytes(8, "big").hex()]


def test_without_grpcio_serve_says_how_to_get_grpc_and_serves_http(tmp_path: Path) -> None:
    """With grpcio missing (a `grpc` that fails to import first on the path), serve prints one line saying to
    install otel-lens[grpc] and goes on serving the viewer and OTLP/HTTP."""
    shadow = tmp_path / "shadow" / "grpc"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'grpc' (this test hides grpcio)\")\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    with serve(tmp_path / "lens.db", env=env) as viewer:
        deadline = time.monotonic() + 60
        while not any("OTLP/gRPC" in line for line in list(viewer.stderr_lines)):
            assert time.monotonic() < deadline and viewer.process.poll() is None, "".join(viewer.stderr_lines)
            time.sleep(0.02)
        printed = "".join(viewer.stderr_lines)
        assert "otel-lens: OTLP/gRPC off: install otel-lens[grpc] for gRPC" in printed
        assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in printed and viewer.process.poll() is None


def test_sigterm_during_grpc_ingest_loses_nothing_answered_ok(tmp_path: Path) -> None:
    """SIGTERM while two clients stream requests: every request answered OK is stored whole (serve stops gRPC
    first, lets the calls in flight finish, then writes its queue), and serve exits cleanly."""
    database = tmp_path / "lens.db"
    answered: list[bytes] = []
    refused: list[grpc.StatusCode] = []
    started = threading.Event()

    def send(client: int, address: str) -> None:
        for n in range(400):
            trace_id = (client * 1000 + n + 1).to_bytes(16, "big")
            body = _request(*(_span(i + 1, trace_id=trace_id, name=f"c{client}") for i in range(50)))
            try:
                _call(address, TRACES, body)
            except grpc.RpcError as exc:
                refused.append(exc.code())
                return
            answered.append(trace_id)
            if len(answered) >= 10:
                started.set()

    with serve(database) as viewer:
        address = _grpc_address(viewer)
        senders = [threading.Thread(target=send, args=(c, address)) for c in (1, 2)]
        for sender in senders:
            sender.start()
        assert started.wait(120), "no request was answered"
        viewer.process.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM (its documented behaviour): -15 is a clean stop.
        assert viewer.process.wait(90) in (0, -signal.SIGTERM), "".join(viewer.stderr_lines)
        for sender in senders:
            sender.join(60)
    assert refused, "the clients never noticed the shutdown"
    from otel_lens.query import open_store

    with open_store(str(database)) as store:
        for trace_id in answered:
            assert len(store.trace(trace_id.hex()).spans) == 50, trace_id.hex()
