"""What the span and log exporters share: settings, the shared store, the OTel exporter contract.

``export()`` never raises into the application: a failure is logged (rate-limited) and reported as
FAILURE. After ``shutdown()`` every export is FAILURE and nothing is reopened; shutdown is idempotent
and safe to call from any thread.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from otel_lens._guard import internal, is_internal
from otel_lens._ratelimit import RateLimitedLog
from otel_lens._redact import Redactor
from otel_lens.settings import Settings
from otel_lens.store.errors import StoreClosed, StoreError, StoreFull
from otel_lens.store.rows import EncodedBatch
from otel_lens.store.shared import WriteStore, acquire, release

_logger = logging.getLogger("otel_lens.export")
_SHUTDOWN_WAIT_S = 2.0
_T = TypeVar("_T")
# One rate limit per store, not per exporter: a full disk is one condition however many exporters hit it.
_warnings_by_store: weakref.WeakKeyDictionary[WriteStore, RateLimitedLog] = weakref.WeakKeyDictionary()
_warnings_lock = threading.Lock()


def _warnings_for(store: WriteStore) -> RateLimitedLog:
    with _warnings_lock:
        warnings = _warnings_by_store.get(store)
        if warnings is None:
            warnings = _warnings_by_store[store] = RateLimitedLog(_logger)
        return warnings


class LensExporterCore:
    """The store-facing half of an exporter; the OTel-facing classes wrap one of these."""

    def __init__(self, signal: str, settings: Settings | None, overrides: Mapping[str, Any]) -> None:
        self.signal = signal
        self.settings = settings if settings is not None else Settings.load(**overrides)
        with internal():  # opening and migrating the database: never logged through the app's handlers, nor traced
            self._store: WriteStore | None = acquire(self.settings)
        self._shutdown_lock = threading.Lock()
        self._export_lock = threading.Lock()  # the spec: export calls are serialized
        self._warnings = _warnings_for(self._store)
        self.redactor = Redactor(self.settings.redact)  # secrets scrubbed from every stored attribute map

    @property
    def store(self) -> WriteStore | None:
        """The shared store, or None after shutdown."""
        return self._store

    def export(self, items: Sequence[_T], encode: Callable[[Sequence[_T], Redactor], EncodedBatch], write: str) -> bool:
        """Encode and store ``items``; True on success, False (logged, rate-limited) on any failure."""
        store = self._store
        if store is None:
            return False
        if is_internal():
            # Re-entered from otel-lens' own work on this thread (a synchronous log processor on the
            # root logger): storing now would recurse into the store lock. Drop, don't deadlock.
            return False
        with self._export_lock, internal():
            try:
                batch = encode(items, self.redactor)
                getattr(store, write)(batch)
                return True
            except StoreClosed:
                return False
            except StoreFull as exc:
                self._warnings.warning("full", "otel-lens: %s; %d %s dropped", exc, len(items), self.signal)
            except StoreError as exc:
                self._warnings.warning("store", "otel-lens: %d %s not stored: %s", len(items), self.signal, exc)
            except Exception as exc:  # the SDK must never see an exception from an exporter
                self._warnings.warning(
                    "bug",
                    "otel-lens: %d %s not stored: unexpected %s: %s",
                    len(items),
                    self.signal,
                    type(exc).__name__,
                    exc,
                )
            return False

    def shutdown(self) -> None:
        with self._shutdown_lock:
            store, self._store = self._store, None
        if store is not None:
            # Let a running export finish first, but not for long: a database locked by another
            # process must not hold up the application's exit (the export then fails, as it would).
            waited = self._export_lock.acquire(timeout=_SHUTDOWN_WAIT_S)
            try:
                release(store)
            finally:
                if waited:
                    self._export_lock.release()
