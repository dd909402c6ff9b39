"""Batch span and log processors that apply back-pressure instead of dropping when their queue is full.

The SDK's batch processors drop the oldest item once their queue (2048) is full, so a fast burst
loses most of its spans. These keep the same bounded queue but make the producer wait, briefly,
for the export thread to make room. If the exporter stalls (a database locked by another process
for longer than ``_MAX_BLOCK_S``), producers stop waiting and items are dropped, counted and
reported once per interval until the exporter catches up: the application is never held up for
longer than one bounded wait per stall.
"""

from __future__ import annotations

import collections
import copy
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from otel_lens._ratelimit import RateLimitedLog
from otel_lens.settings import SettingsError

_logger = logging.getLogger(__name__)

# Freshness: a developer tailing the store sees data within ~1 s (the distro's value too). 500 ms rather
# than 200: under load each batch is ~2.5× bigger, and a commit's fixed cost (its WAL pages, the
# rollups' statements) is shared by more spans (export CPU per span 50 → 45 µs, bench_facade's ASGI app).
_DEFAULT_SCHEDULE_DELAY_MS = 500
_DEFAULT_MAX_QUEUE_SIZE = 2048  # the SDK's, so memory stays what users expect
_DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
_DEFAULT_EXPORT_TIMEOUT_MS = 30000
_MAX_BLOCK_S = 2.0
_SHUTDOWN_WAIT_S = 5.0  # at exit, how long a processor waits for its last exports

_T = TypeVar("_T")


class BatchOptions:
    """Queue and timing options of one processor, from keywords, else ``<prefix>_*`` variables, else defaults."""

    def __init__(
        self,
        prefix: str,
        environ: Mapping[str, str] | None = None,
        *,
        schedule_delay_millis: float | None = None,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_millis: float | None = None,
    ) -> None:
        env = os.environ if environ is None else environ

        def pick(given: float | None, name: str, default: float, example: str) -> float:
            if given is not None:
                return given
            raw = env.get(f"{prefix}_{name}", "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if value < 0 or (name != "SCHEDULE_DELAY" and value == 0):
                raise SettingsError(f"{prefix}_{name}={raw!r} is not valid; use a positive number, e.g. {example}")
            return value

        self.schedule_delay_s = pick(schedule_delay_millis, "SCHEDULE_DELAY", _DEFAULT_SCHEDULE_DELAY_MS, "500") / 1e3
        self.max_queue_size = int(pick(max_queue_size, "MAX_QUEUE_SIZE", _DEFAULT_MAX_QUEUE_SIZE, "2048"))
        batch = int(pick(max_export_batch_size, "MAX_EXPORT_BATCH_SIZE", _DEFAULT_MAX_EXPORT_BATCH_SIZE, "512"))
        self.max_export_batch_size = min(batch, self.max_queue_size)
        self.export_timeout_s = pick(export_timeout_millis, "EXPORT_TIMEOUT", _DEFAULT_EXPORT_TIMEOUT_MS, "30000") / 1e3


class _Batcher(Generic[_T]):
    """A bounded queue drained in batches by a named daemon thread (the SDK's BatchProcessor shape)."""

    def __init__(self, export: Callable[[list[_T]], object], options: BatchOptions, what: str) -> None:
        self._export_batch = export
        self._options = options
        self._what = what
        self._warnings = RateLimitedLog(_logger)
        self._shutdown = False
        self.dropped = 0
        self._init_state()
        weak_reinit = weakref.WeakMethod(self._init_state)

        def after_fork_in_child() -> None:
            reinit = weak_reinit()
            if reinit is not None:
                reinit()  # the parent exports what it queued; the child starts empty with its own thread

        os.register_at_fork(after_in_child=after_fork_in_child)

    def _init_state(self) -> None:
        self._queue: collections.deque[_T] = collections.deque()
        self._space = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._flush_requests: list[threading.Event] = []
        self._stalled = False
        self._thread = threading.Thread(target=self._work, name=f"otel-lens-{self._what}-batch", daemon=True)
        self._thread.start()

    @property
    def is_shutdown(self) -> bool:
        return self._shutdown

    def put(self, item: _T) -> None:
        """Queue ``item``; when the queue is full, wait (bounded) for room instead of dropping."""
        if self._shutdown:
            return
        queue = self._queue
        if len(queue) >= self._options.max_queue_size and not self._wait_for_room():
            self.dropped += 1
            self._warnings.warning(
                "dropped",
                "otel-lens: %s queue (%d) stayed full for %.1fs: dropping %s (%d so far); the store is not keeping up",
                self._what,
                self._options.max_queue_size,
                _MAX_BLOCK_S,
                self._what,
                self.dropped,
            )
            return
        queue.append(item)
        if (len(queue) >= self._options.max_export_batch_size or not self._options.schedule_delay_s) and (
            not self._wake.is_set()
        ):
            self._wake.set()

    def _wait_for_room(self) -> bool:
        if self._stalled or threading.current_thread() is self._thread or not self._thread.is_alive():
            return False  # never wait on ourselves, on a dead worker, or twice during one stall
        self._wake.set()
        deadline = time.monotonic() + _MAX_BLOCK_S
        with self._space:
            while len(self._queue) >= self._options.max_queue_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._shutdown:
                    self._stalled = True
                    return False
                self._space.wait(remaining)
        return True

    def _work(self) -> None:
        # A delay of 0 means "export as soon as something is queued": wait to be woken, never spin.
        delay = self._options.schedule_delay_s or None
        while not self._shutdown:
            self._wake.wait(delay)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        with self._export_lock:
            requests, self._flush_requests = self._flush_requests, []
            queue, size = self._queue, self._options.max_export_batch_size
            while queue:
                batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                with self._space:
                    self._space.notify_all()
                # Like the SDK's processors: whatever the exporter does must not be traced itself.
                token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
                try:
                    self._export_batch(batch)
                except Exception as exc:  # an exporter must not kill the worker thread
                    self._warnings.warning("export", "otel-lens: exporting %s failed: %s", self._what, exc)
                finally:
                    context.detach(token)
            self._stalled = False
            for request in requests:
                request.set()

    def force_flush(self, timeout_s: float) -> bool:
        """Export everything queued so far; False if that did not finish within ``timeout_s``."""
        if self._shutdown or threading.current_thread() is self._thread:
            return False  # the worker cannot wait on itself (e.g. a flush from inside an export)
        if not self._thread.is_alive():
            self._drain()
            return True
        done = threading.Event()
        with self._export_lock:  # the worker swaps the request list under this lock
            self._flush_requests.append(done)
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while not done.wait(min(0.1, max(deadline - time.monotonic(), 0))):
            if time.monotonic() >= deadline:
                return False
            if self._shutdown or not self._thread.is_alive():
                # Shut down meanwhile: its last drain may have run before our request was seen.
                self._drain()
                return True
        return True

    def shutdown(self, timeout_s: float) -> None:
        """Export what is queued (bounded by ``timeout_s``) and stop the thread; idempotent."""
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        with self._space:
            self._space.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)


class _Batching:
    """What both processors share: a :class:`_Batcher` and its counters, flush and bounded shutdown."""

    _batcher: _Batcher[Any]
    _options: BatchOptions

    @property
    def dropped(self) -> int:
        return self._batcher.dropped

    @property
    def is_shutdown(self) -> bool:
        return self._batcher.is_shutdown

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batcher.force_flush(timeout_millis / 1e3)

    def _stop(self) -> None:
        # Bounded well under common termination grace periods (Kubernetes gives 30 s for everything).
        self._batcher.shutdown(min(self._options.export_timeout_s, _SHUTDOWN_WAIT_S))


class LensSpanProcessor(_Batching, SpanProcessor):
    """Batches finished spans to a span exporter, waiting briefly for room rather than dropping.

    Options come from keywords, else ``OTEL_BSP_*`` variables, else otel-lens defaults
    (500 ms delay, queue 2048, batches of 512).
    """

    def __init__(self, exporter: SpanExporter, options: BatchOptions | None = None) -> None:
        self.span_exporter = exporter
        self._options = options or BatchOptions("OTEL_BSP")
        self._batcher = _Batcher(exporter.export, self._options, "spans")

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            self._batcher.put(span)

    def shutdown(self) -> None:
        self._stop()
        self.span_exporter.shutdown()


class LensLogProcessor(_Batching, LogRecordProcessor):
    """Batches log records to a log exporter like :class:`LensSpanProcessor` (``OTEL_BLRP_*`` variables)."""

    def __init__(self, exporter: LogRecordExporter, options: BatchOptions | None = None) -> None:
        self.exporter = exporter
        self._options = options or BatchOptions("OTEL_BLRP")
        self._batcher = _Batcher(exporter.export, self._options, "log records")

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        # A shallow copy without the context: the queue must not keep whole contexts alive.
        copied = copy.copy(record)
        copied.context = Context()
        self._batcher.put(
            ReadableLogRecord(
                log_record=copied,
                resource=log_record.resource if log_record.resource is not None else Resource.create({}),
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def shutdown(self) -> None:
        self._stop()
        self.exporter.shutdown()  # type: ignore[no-untyped-call]
