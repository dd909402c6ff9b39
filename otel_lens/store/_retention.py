"""The retention of one write store: its sweeper thread, one pass at a time, and the cross-process sweep lock.

A pass runs on the sweeper thread every ``sweep_interval`` (or now, from :meth:`Retention.prune`);
only one process sweeps a database at a time (the backend's file or advisory lock), and within a
process a mutex keeps the thread and an explicit prune from overlapping.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from otel_lens._guard import internal
from otel_lens.settings import Settings
from otel_lens.store._backends import Backend, Locked
from otel_lens.store.database import Location
from otel_lens.store.errors import StoreClosed
from otel_lens.store.sweeper import PruneSummary, Sweeper

_logger = logging.getLogger(__name__)

_FIRST_SWEEP_DELAY_S = 5.0


class Retention:
    """Runs retention passes of one store: on a thread of its own, or on demand."""

    def __init__(
        self,
        location: Location,
        settings: Settings,
        backend: Callable[[], Backend],
        locked: Locked,
        sweeper: Callable[[], Sweeper],
    ) -> None:
        self._location = location
        self._settings = settings
        self._backend = backend  # asked each time: the store replaces its backend object after fork()
        self._locked = locked
        self._sweeper = sweeper
        self._mutex = threading.Lock()  # one pass at a time in this process
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def prune(self, max_age: float | None = None, max_size: int | None = None) -> PruneSummary:
        """Run one retention pass now (settings' retention and size unless given).

        Only one process sweeps a database at a time; when another one is sweeping, the summary
        says so in ``skipped`` and nothing is deleted.
        """
        max_age = self._settings.retention if max_age is None else max_age
        max_size = self._settings.max_size if max_size is None else max_size
        with self._mutex, internal(), self.sweep_lock() as held:
            if not held:
                return PruneSummary(skipped=f"another process is sweeping {self._location}")
            return self._sweeper().prune(max_age, max_size)

    @contextlib.contextmanager
    def sweep_lock(self) -> Iterator[bool]:
        """Hold the cross-process sweep lock inside the block; yields False (holding nothing) when another has it."""
        backend = self._backend()
        if not backend.try_sweep_lock(self._location, self._locked, str(self._location)):
            yield False
            return
        try:
            yield True
        finally:
            backend.release_sweep_lock(self._locked)

    def ensure_running(self) -> None:
        """Start the sweeper thread unless it runs, sweeping is off, or nothing limits the store."""
        if self._thread is not None or self._settings.sweep_interval <= 0:
            return
        if self._settings.retention <= 0 and self._settings.max_size <= 0:
            return
        with self._start_lock:
            if self._thread is None and not self._wake.is_set():
                thread = threading.Thread(target=self._sweep_forever, name="otel-lens-sweeper", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # interpreter shutdown (3.12+ refuses new threads in atexit): no sweep
                    return
                self._thread = thread

    def stop(self, timeout: float) -> None:
        """Stop the sweeper thread (waiting up to ``timeout`` for a pass to end); it never starts again."""
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def after_fork(self) -> None:
        """In a fork child: no thread runs here, and the parent's pass holds nothing of ours."""
        self._mutex = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread = None
        self._backend().forget_sweep_lock_after_fork()

    def _sweep_forever(self) -> None:
        with internal():  # like an export: never traced, never logged back into the store
            self._sweep_until_stopped()

    def _sweep_until_stopped(self) -> None:
        delay = min(_FIRST_SWEEP_DELAY_S, self._settings.sweep_interval)
        while not self._wake.wait(delay):
            delay = self._settings.sweep_interval
            try:
                summary = self.prune()
            except StoreClosed:
                return
            except Exception as exc:  # the sweeper must never die silently nor take the app down
                _logger.warning("otel-lens: retention sweep of %s failed: %s", self._location, exc)
                continue
            if summary.spans_deleted or summary.logs_deleted:
                _logger.debug("otel-lens: retention sweep of %s: %s", self._location, summary.as_dict())
