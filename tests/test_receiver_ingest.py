"""The ingest core (otel_lens.receiver.Ingest): bounded by rows and bytes, stored means committed, drains on close.

A real SQLite store; "a slow disk" is the store's own write lock held by the test, which is exactly what
the writer thread waits on when another export (or another process) is writing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_lens.export import OtlpBatch, encode_trace_request
from otel_lens.query import open_store
from otel_lens.receiver import Ingest, Outcome
from otel_lens.settings import Settings
from otel_lens.store.shared import WriteStore, acquire, release
from otel_lens.testing import SpanFactory

WAIT_S = 60.0


@pytest.fixture
def store(sqlite_settings: Settings) -> Iterator[WriteStore]:
    write_store = acquire(sqlite_settings)
    yield write_store
    release(write_store)


@pytest.fixture
def factory() -> Iterator[SpanFactory]:
    spans = SpanFactory()
    yield spans
    spans.shutdown()


def _batch(factory: SpanFactory, traces: int, label: str) -> OtlpBatch:
    """What the receiver hands the queue: an OTLP request, as the official exporter encodes it, decoded."""
    return encode_trace_request(sdk_encode_spans(factory.traces(traces, 2, label=label)))


def _span_count(sqlite_settings: Settings) -> int:
    with open_store(sqlite_settings.database) as reader:
        return sum(t.span_count for t in reader.traces(limit=1000))


def test_stored_means_committed(store: WriteStore, factory: SpanFactory, sqlite_settings: Settings) -> None:
    """submit() answers stored only once the rows are readable by another connection; a resend stores 0 new."""
    ingest = Ingest(store)
    batch = _batch(factory, 5, "a")
    outcome = ingest.submit("traces", batch, timeout_s=WAIT_S)
    assert outcome == Outcome("stored", stored=10)
    assert _span_count(sqlite_settings) == 10
    assert ingest.submit("traces", batch, timeout_s=WAIT_S) == Outcome("stored", stored=0)
    assert ingest.close(WAIT_S)


def test_a_full_queue_refuses_at_once(store: WriteStore, factory: SpanFactory, sqlite_settings: Settings) -> None:
    """Past max_rows a request is refused at once (busy, queue_full, a Retry-After), and what was admitted is stored."""
    ingest = Ingest(store, max_rows=10, write_timeout_s=WAIT_S)
    first, second = _batch(factory, 5, "first"), _batch(factory, 1, "second")
    with ThreadPoolExecutor(2) as pool:
        with store.locked():  # the writer thread now waits for the database, as on a slow disk
            admitted: Future[Outcome] = pool.submit(ingest.submit, "traces", first, WAIT_S)
            _until(lambda: ingest.queued[0] == 10)
            refused = ingest.submit("traces", second, timeout_s=WAIT_S)
        assert refused.status == "busy" and refused.queue_full
        assert 1 <= refused.retry_after_s <= 30
        assert refused.message is not None and "queue is full" in refused.message
        assert admitted.result(WAIT_S) == Outcome("stored", stored=10)
    assert _span_count(sqlite_settings) == 10
    assert ingest.close(WAIT_S)


def test_bounded_by_bytes_too(store: WriteStore, factory: SpanFactory) -> None:
    """max_bytes bounds the queue as max_rows does: a second request past it is refused while the first waits."""
    ingest = Ingest(store, max_bytes=1000, write_timeout_s=WAIT_S)
    with ThreadPoolExecutor(1) as pool:
        with store.locked():
            admitted = pool.submit(ingest.submit, "traces", _batch(factory, 1, "a"), WAIT_S, 900)
            _until(lambda: ingest.queued == (2, 900))
            refused = ingest.submit("traces", _batch(factory, 1, "b"), WAIT_S, 200)
        assert refused.queue_full
        assert admitted.result(WAIT_S).status == "stored"
    assert ingest.close(WAIT_S)


def test_timed_out_while_queued_is_withdrawn(
    store: WriteStore, factory: SpanFactory, sqlite_settings: Settings
) -> None:
    """A request still queued at its timeout is answered busy and never written (its retry stores it once)."""
    ingest = Ingest(store, write_timeout_s=WAIT_S)
    first, late = _batch(factory, 1, "first"), _batch(factory, 3, "late")
    with ThreadPoolExecutor(1) as pool:
        with store.locked():
            admitted = pool.submit(ingest.submit, "traces", first, WAIT_S)
            _until(lambda: ingest.queued[0] == 2)
            withdrawn = ingest.submit("traces", late, timeout_s=0.2)
            assert ingest.queued[0] == 2  # withdrawn from the queue, not left behind
        assert withdrawn.status == "busy" and not withdrawn.queue_full
        assert admitted.result(WAIT_S) == Outcome("stored", stored=2)
    assert ingest.close(WAIT_S)
    assert _span_count(sqlite_settings) == 2


def test_busy_store_is_busy_not_failed(store: WriteStore, factory: SpanFactory, sqlite_settings: Settings) -> None:
    """A write that cannot get the lock within its deadline is busy (retry later), and the thread carries on."""
    ingest = Ingest(store, write_timeout_s=0.3)
    with store.locked():
        outcome = ingest.submit("traces", _batch(factory, 1, "a"), timeout_s=WAIT_S)
    assert outcome.status == "busy" and outcome.message is not None and "busy" in outcome.message
    assert ingest.submit("traces", _batch(factory, 1, "b"), timeout_s=WAIT_S).status == "stored"
    assert ingest.close(WAIT_S)


def test_close_drains_what_was_queued(store: WriteStore, factory: SpanFactory, sqlite_settings: Settings) -> None:
    """close() writes everything already admitted before it returns, then refuses new requests."""
    ingest = Ingest(store, write_timeout_s=WAIT_S)
    with ThreadPoolExecutor(4) as pool:
        with store.locked():
            waiting = [pool.submit(ingest.submit, "traces", _batch(factory, 2, f"t{n}"), WAIT_S) for n in range(4)]
            _until(lambda: ingest.queued[0] == 16)
            closer = threading.Thread(target=ingest.close, args=(WAIT_S,))
            closer.start()
        closer.join(WAIT_S)
        assert [f.result(WAIT_S).status for f in waiting] == ["stored"] * 4
    assert _span_count(sqlite_settings) == 16
    late = ingest.submit("traces", _batch(factory, 1, "late"), timeout_s=WAIT_S)
    assert late.status == "busy" and late.message == "the receiver is shutting down"


def test_nothing_to_store_is_stored(store: WriteStore) -> None:
    """A request whose spans were all rejected (or an empty one) is answered at once without a queue trip."""
    ingest = Ingest(store)
    assert ingest.submit("traces", encode_trace_request(ExportTraceServiceRequest()), WAIT_S) == Outcome("stored")
    assert ingest.close(WAIT_S)


def _until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
