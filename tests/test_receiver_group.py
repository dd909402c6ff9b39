"""Requests that wait in the ingest queue together are written in one transaction, storing exactly what
writing them one by one stores (otel_lens.receiver._group; issue 11: a transaction's fixed cost shared).

Real SDK spans and log records covering every stored field (tests/test_otlp_adapter.py's: two resources,
three scopes, GenAI usage, a captured body, secrets), encoded by the official OTLP encoder as several
requests, decoded by the OTLP adapter, then stored two ways into real SQLite files: through
``Ingest`` while the store is busy (so they queue), and request by request with ``write_spans``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as otlp_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as otlp_encode_spans

from otel_lens._redact import Redactor
from otel_lens.export import OtlpBatch, encode_logs_request, encode_trace_request
from otel_lens.receiver import Ingest, Kind, Outcome
from otel_lens.settings import Settings
from otel_lens.store.shared import acquire, release
from tests.test_otlp_adapter import _complete, _logs, _spans, _tables

WAIT_S = 60.0


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _requests(settings: Settings) -> list[tuple[Kind, OtlpBatch]]:
    """Three trace requests (the GenAI span and the second resource in later ones) and two log requests."""
    spans = _spans()
    with pytest.warns(Warning):  # LogRecordLimits dropping an attribute warns
        logs = _logs(spans)
    redactor = Redactor(settings.redact)
    out: list[tuple[Kind, OtlpBatch]] = []
    for part in (spans[:2], spans[2:4], spans[4:]):
        request = otlp_encode_spans(part)
        _complete(request, part)
        out.append(("traces", encode_trace_request(request, redactor)))
    for records in (logs[:2], logs[2:]):
        out.append(("logs", encode_logs_request(otlp_encode_logs(records), redactor)))
    return out


def test_queued_requests_share_one_transaction_and_store_the_same_rows(tmp_path: Path) -> None:
    """While one request is written, the next ones of the same signal queue and are then written in one
    transaction each signal; every request is answered stored with its own rows, and every table holds
    what request-by-request writes hold."""
    grouped = Settings.load(environ={}, database=str(tmp_path / "grouped.db"), sweep_interval=0)
    alone = Settings.load(environ={}, database=str(tmp_path / "alone.db"), sweep_interval=0)
    requests = _requests(grouped)
    assert [kind for kind, _ in requests] == ["traces", "traces", "traces", "logs", "logs"]

    store = acquire(grouped)
    writes: list[tuple[str, int]] = []
    for method in ("write_spans", "write_logs"):
        real = getattr(store, method)

        def counted(batch: Any, timeout: float, real: Any = real, method: str = method) -> int:
            writes.append((method, len(batch.rows)))
            return int(real(batch, timeout))

        setattr(store, method, counted)
    ingest = Ingest(store, write_timeout_s=WAIT_S)
    try:
        with store.locked():  # the writer thread takes the first request, then waits for the database
            first = ingest.admit(*requests[0])
            _until(lambda: first.writing)
            tickets = [first] + [ingest.admit(kind, batch) for kind, batch in requests[1:]]
            assert not any(ticket.done.is_set() for ticket in tickets)
        outcomes = [ticket.wait(WAIT_S) for ticket in tickets]
    finally:
        assert ingest.close(WAIT_S)
        release(store)
    rows = [len(batch.batch.rows) for _, batch in requests]
    assert outcomes == [Outcome("stored", stored=n) for n in rows]
    assert writes == [("write_spans", rows[0]), ("write_spans", rows[1] + rows[2]), ("write_logs", rows[3] + rows[4])]

    other = acquire(alone)
    try:
        for kind, batch in requests:
            write = other.write_spans if kind == "traces" else other.write_logs
            assert write(batch.batch) == len(batch.batch.rows)
    finally:
        release(other)
    assert _tables(grouped) == _tables(alone)


def test_a_retried_request_grouped_with_new_ones_is_stored_once(tmp_path: Path) -> None:
    """A resend queued beside new requests stores nothing twice; the group's new rows are the new requests'."""
    settings = Settings.load(environ={}, database=str(tmp_path / "retry.db"), sweep_interval=0)
    requests = [item for item in _requests(settings) if item[0] == "traces"]
    store = acquire(settings)
    ingest = Ingest(store, write_timeout_s=WAIT_S)
    try:
        assert ingest.submit(*requests[0], timeout_s=WAIT_S) == Outcome("stored", stored=len(requests[0][1].batch.rows))
        with store.locked():
            blocker = ingest.admit(*requests[1])
            _until(lambda: blocker.writing)
            resent, new = ingest.admit(*requests[0]), ingest.admit(*requests[2])
        assert blocker.wait(WAIT_S).status == "stored"
        assert resent.wait(WAIT_S).status == new.wait(WAIT_S).status == "stored"
    finally:
        assert ingest.close(WAIT_S)
        release(store)
    tables = _tables(settings)
    assert len(tables["lens_spans"]) == sum(len(batch.batch.rows) for _, batch in requests)
