"""Deterministic ids for tests: trace and span ids 1, 2, 3, … (so a test can name and compare them)."""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace.id_generator import IdGenerator


class IncrementalIdGenerator(IdGenerator):
    """Trace ids and span ids counting up from 1, each on its own counter; safe to share between threads.

    Pass it to a ``TracerProvider(id_generator=…)``: the first trace is ``000…01``, its first span ``000…01``.
    """

    def __init__(self) -> None:
        self._trace = 0
        self._span = 0
        self._lock = threading.Lock()

    def generate_span_id(self) -> int:
        with self._lock:
            self._span += 1
            return self._span

    def generate_trace_id(self) -> int:
        with self._lock:
            self._trace += 1
            return self._trace
