"""The receiver under overload (RELIABILITY 27), SIGTERM during ingest, the token, and ``--no-otlp``.

Real ``otel-lens serve`` subprocesses; the "slow disk" is another process holding the database's write
lock (a plain sqlite3 connection in ``BEGIN IMMEDIATE``), which is what the writer waits on in life.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_lens.query import open_store
from otel_lens.testing import SpanFactory
from tests._receiver import serving
from tests._web import serve

PROTOBUF = {"Content-Type": "application/x-protobuf"}
MiB = 1024 * 1024


def _requests(count: int, traces: int, spans: int = 2) -> list[tuple[set[str], bytes]]:
    """``count`` protobuf requests as the official encoder makes them, each with the span ids it holds."""
    factory = SpanFactory(service="load")
    try:
        out = []
        for n in range(count):
            finished = factory.traces(traces, spans, label=f"r{n}")
            out.append(({f"{s.context.span_id:016x}" for s in finished}, encode_spans(finished).SerializeToString()))
        return out
    finally:
        factory.shutdown()


def _stored_span_ids(database: Path) -> set[str]:
    with open_store(str(database)) as store:
        return {span.span_id for spans in store.iter_trace_spans(since=None) for span in spans}


def _until(condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_overload_answers_429_with_retry_after_and_keeps_every_200(tmp_path: Path) -> None:
    """A tiny queue and a locked database: requests past the queue get 429 + Retry-After at once, memory stays
    bounded, and every request answered 200 is in the store once the lock is gone."""
    database = tmp_path / "lens.db"
    warm, *load = _requests(17, traces=256)  # 512 spans a request, the SDK's batch size
    with serving(database, "--otlp-queue", "600") as served:
        assert httpx.post(served.otlp + "/v1/traces", content=warm[1], headers=PROTOBUF, timeout=60).status_code == 200
        answers: list[httpx.Response] = []
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process's long write: the receiver's writer now waits
        try:
            with ThreadPoolExecutor(len(load)) as pool:
                futures = [
                    pool.submit(httpx.post, served.otlp + "/v1/traces", content=body, headers=PROTOBUF, timeout=120)
                    for _, body in load
                ]
                _until(lambda: sum(f.done() for f in futures) >= len(load) - 1)
                rss = psutil.Process(served.viewer.process.pid).memory_info().rss
                blocker.execute("ROLLBACK")
                answers = [f.result() for f in futures]
        finally:
            blocker.close()
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 429, 503}
        assert statuses.count(429) >= len(load) - 2  # the queue holds one 512-span request at a time
        for refused in (a for a in answers if a.status_code in (429, 503)):
            assert 1 <= int(refused.headers["retry-after"]) <= 30
            status = Status()
            status.ParseFromString(refused.content)
            assert "try again later" in status.message
        accepted = {span for (spans, _), a in zip(load, answers, strict=True) if a.status_code == 200 for span in spans}
        stored = _stored_span_ids(database)
        assert accepted <= stored and warm[0] <= stored
        assert rss < 500 * MiB
        assert served.viewer.process.poll() is None


def test_sigterm_during_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """SIGTERM while four clients send: serve stops cleanly (the receiver's queue written and its store closed),
    and every span of every request answered 200 is stored."""
    database = tmp_path / "lens.db"
    bodies = _requests(160, traces=32)
    acknowledged: list[set[str]] = []
    lock = threading.Lock()
    with serving(database) as served:
        process = served.viewer.process

        def client(part: list[tuple[set[str], bytes]]) -> None:
            with httpx.Client(timeout=60) as http:
                for spans, body in part:
                    try:
                        response = http.post(served.otlp + "/v1/traces", content=body, headers=PROTOBUF)
                    except httpx.TransportError:
                        return  # the server has gone: what it did not answer 200 for is not promised
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(spans)

        threads = [threading.Thread(target=client, args=(bodies[n::4],)) for n in range(4)]
        for thread in threads:
            thread.start()
        _until(lambda: len(acknowledged) >= 10)
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM (its documented behaviour): -15 is a clean stop.
        assert process.wait(90) in (0, -signal.SIGTERM)
        assert "Traceback" not in "".join(served.viewer.stderr_lines)
        for thread in threads:
            thread.join(90)
    assert 10 <= len(acknowledged) < len(bodies)
    # The receiver closed its store before the process ended (SQLite removes the WAL at the last clean close):
    # uvicorn re-raises SIGTERM after its shutdown, so a close placed after the server's run() never ran.
    assert not database.with_name(database.name + "-wal").exists()
    stored = _stored_span_ids(database)
    missing = [spans - stored for spans in acknowledged if spans - stored]
    assert missing == []


def test_a_token_guards_the_otlp_routes_on_both_ports(tmp_path: Path) -> None:
    """serve --token: an OTLP request without the Bearer token, or with a wrong one, is 401 on either port; with it, 200."""
    (spans, body), = _requests(1, traces=1)  # fmt: skip
    database = tmp_path / "lens.db"
    with serving(database, "--token", "s3cret-token") as served:
        for base in (served.otlp, served.viewer.url):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
                response = httpx.post(base + "/v1/traces", content=body, headers={**PROTOBUF, **headers}, timeout=60)
                assert response.status_code == 401
                assert response.headers["www-authenticate"].startswith("Bearer")
        assert not database.exists()  # nothing unauthorized reached the store, not even its creation
        good = {**PROTOBUF, "Authorization": "Bearer s3cret-token"}
        assert httpx.post(served.otlp + "/v1/traces", content=body, headers=good, timeout=60).status_code == 200
    assert spans <= _stored_span_ids(database)


def test_no_otlp_leaves_the_viewer_read_only(tmp_path: Path) -> None:
    """--no-otlp: no OTLP line, POST /v1/traces on the viewer is 405, and the database is never created."""
    (_, body), = _requests(1, traces=1)  # fmt: skip
    database = tmp_path / "lens.db"
    with serve(database, "--no-otlp") as viewer:
        response = httpx.post(viewer.url + "/v1/traces", content=body, headers=PROTOBUF, timeout=60)
        assert response.status_code == 405
        _until(lambda: any("OTLP receiver off" in line for line in viewer.stderr_lines))
        assert not any("OTEL_EXPORTER_OTLP_ENDPOINT" in line for line in viewer.stderr_lines)
    assert not database.exists()


def test_serve_prints_the_two_lines_a_user_needs(tmp_path: Path) -> None:
    """serve prints the viewer URL and the OTEL_EXPORTER_OTLP_ENDPOINT/PROTOCOL to set, on stderr, and creates no
    database until something is sent."""
    database = tmp_path / "lens.db"
    with serving(database) as served:
        printed = "".join(served.viewer.stderr_lines)
        assert "viewer at http://127.0.0.1:" in printed
        assert f"OTEL_EXPORTER_OTLP_ENDPOINT={served.otlp} OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in printed
        assert httpx.get(served.viewer.url + "/api/traces", timeout=60).status_code in (200, 503)
    assert not database.exists()
