"""``RunningSpanProcessor``: spans still open are stored as running, so a long run is visible before it ends.

OTLP carries a span only once it ends. This processor keeps the open spans (a dict insert when one
starts, a pop when it ends: nothing else on the application's threads) and, from its own thread at
each interval, writes the spans open for longer than that interval as running rows through the same
row builder as ended spans (:mod:`otel_lens.store._running` keeps them out of every rollup count and
replaces them by the finished span). Short spans end before anyone looks and cost the two dict
operations only. While this process has running rows stored it beats a heartbeat at the interval;
when the heartbeat stops (kill -9, OOM, a host gone) readers see its running spans as abandoned.

A clean shutdown (``lens.shutdown()``, atexit, SIGTERM through ``configure()``) writes the spans still
open and marks them abandoned at once, so a clean exit leaves nothing running. Add it to a provider
after the batch processor that exports to the same database, so finished spans are flushed first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from typing import Any

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_lens._guard import internal
from otel_lens._ratelimit import RateLimitedLog
from otel_lens.export.encode import encode_spans
from otel_lens.export.spans import LensSpanExporter
from otel_lens.store.errors import StoreClosed, StoreError
from otel_lens.store.shared import WriteStore, acquire, release

_logger = logging.getLogger("otel_lens.export")

MIN_INTERVAL_S = 1.0
"""The shortest interval: a heartbeat and a running-span check at most once a second."""
_DEFAULT_SCHEDULE_S = 0.2  # facade/_batch.py's default export interval (OTEL_BSP_SCHEDULE_DELAY)


def default_interval_s() -> float:
    """The interval when none is given: the span export interval (``OTEL_BSP_SCHEDULE_DELAY``), at least 1 s."""
    raw = os.environ.get("OTEL_BSP_SCHEDULE_DELAY", "").strip()
    try:
        schedule = float(raw) / 1e3 if raw else _DEFAULT_SCHEDULE_S
    except ValueError:
        schedule = _DEFAULT_SCHEDULE_S  # the batch processor reports a bad value; here the default does
    return max(schedule, MIN_INTERVAL_S)


class RunningSpanProcessor(SpanProcessor):
    """Stores spans open longer than ``interval_s`` as running rows, and marks them abandoned when this process dies.

    Args:
        exporter: the :class:`~otel_lens.LensSpanExporter` whose database gets the running rows (the
            processor takes its own hold on that database; shutting the exporter down first is fine).
        interval_s: how often open spans are checked and the heartbeat beats; spans open longer than this
            are written. Default: the span export interval (``OTEL_BSP_SCHEDULE_DELAY``), at least 1 s.

    Raises:
        StoreError: the exporter was already shut down.
    """

    def __init__(self, exporter: LensSpanExporter, interval_s: float | None = None) -> None:
        if exporter.write_store is None:
            raise StoreError("otel-lens: RunningSpanProcessor needs a LensSpanExporter that is not shut down")
        core = exporter._core
        with internal():
            self._store: WriteStore | None = acquire(core.settings)  # its own reference, released at shutdown
        self._redactor = core.redactor
        self.interval_s = max(float(interval_s if interval_s is not None else default_interval_s()), 0.01)
        self._interval_ns = int(self.interval_s * 1e9)
        self._warnings = RateLimitedLog(_logger)
        self._shutdown = False
        self._init_state()
        weak_reinit = weakref.WeakMethod(self._init_state)

        def after_fork_in_child() -> None:
            reinit = weak_reinit()
            if reinit is not None:
                reinit()  # the parent's open spans are the parent's; the child starts empty with its own thread

        os.register_at_fork(after_in_child=after_fork_in_child)

    def _init_state(self) -> None:
        # Keyed by the id of the span's SpanContext object, which the Span and the ReadableSpan given to on_end
        # share. CPython reuses the id of a freed object, so _written keeps the span itself: an entry counts only
        # while the span open under that key is the very one written (else a new span would never be written).
        self._open: dict[int, Span] = {}
        self._written: dict[int, Span] = {}  # open spans already stored as running, by key
        self._wake = threading.Event()
        self._work_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="otel-lens-running", daemon=True)
        self._thread.start()

    # -- the application's threads: a dict insert and a pop ------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._open[id(span._context)] = span

    def on_end(self, span: ReadableSpan) -> None:
        self._open.pop(id(span._context), None)

    # -- the processor's thread -----------------------------------------------------------------

    def _work(self) -> None:
        while not self._shutdown:
            self._wake.wait(self.interval_s)
            if self._shutdown:
                return
            self.check()

    def check(self, everything: bool = False) -> int:
        """Store the spans open longer than the interval (all open spans with ``everything``) that are not
        stored yet, and beat the heartbeat; returns how many running rows were written."""
        with self._work_lock:
            store = self._store
            if store is None:
                return 0
            token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                with internal():
                    return self._check(store, everything)
            except StoreClosed:
                return 0
            except Exception as exc:  # never kill the thread, never raise into the application
                self._warnings.warning("running", "otel-lens: storing running spans failed: %s", exc)
                return 0
            finally:
                context.detach(token)

    def _check(self, store: WriteStore, everything: bool) -> int:
        open_spans = self._snapshot_open()
        # Ended since (or a new span under a reused key): forget them.
        written = self._written = {key: span for key, span in self._written.items() if open_spans.get(key) is span}
        threshold = time.time_ns() - (0 if everything else self._interval_ns)
        due = [
            (key, span)
            for key, span in open_spans.items()
            if written.get(key) is not span
            and (span._start_time or 0) <= threshold
            and span.get_span_context().trace_flags.sampled
        ]
        if not due:
            store.beat(self._interval_ns)
            return 0
        snapshots = [snapshot for snapshot in (_snapshot(span) for _, span in due) if snapshot is not None]
        count = store.write_running(encode_spans(snapshots, self._redactor), self._interval_ns) if snapshots else 0
        written.update(due)
        return count

    def _snapshot_open(self) -> dict[int, Span]:
        for _ in range(10):  # a copy is atomic under the GIL; a free-threaded build may need another go
            with contextlib.suppress(RuntimeError):
                return self._open.copy()
        return {}

    # -- the SpanProcessor contract -------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        del timeout_millis
        self.check()
        return True

    def shutdown(self) -> None:
        """Store the spans still open, mark them abandoned (this process no longer runs them), let go of the
        database; idempotent."""
        if self._shutdown:
            return
        self._shutdown = True
        self.on_start = _ignore_start  # type: ignore[method-assign]  # a provider keeps calling it: store nothing
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)
        store = self._store
        if store is None:
            return
        try:
            self.check(everything=True)
            with internal():
                store.beat(self._interval_ns, stop=True)
        except Exception as exc:  # exit goes on whatever the store does
            self._warnings.warning("running", "otel-lens: marking open spans abandoned at exit failed: %s", exc)
        finally:
            with self._work_lock:
                self._store = None
            with internal():
                release(store)


def _ignore_start(span: Span, parent_context: Context | None = None) -> None:
    del span, parent_context


def _snapshot(span: Span) -> ReadableSpan | None:
    """A ReadableSpan of an open span as it is now, its mutable parts copied under the span's own lock."""
    try:
        with span._lock:
            attributes: Any = dict(span._attributes) if span._attributes else {}
            events = tuple(span._events)
            links = tuple(span._links)
            status = span._status
            name = span._name
        return ReadableSpan(
            name=name,
            context=span._context,
            parent=span._parent,
            resource=span._resource,
            attributes=attributes,
            events=events,
            links=links,
            kind=span.kind,
            status=status,
            start_time=span._start_time,
            end_time=None,
            instrumentation_scope=span._instrumentation_scope,
        )
    except Exception:  # a span class this does not know: skipped, never a failed batch
        return None
