"""One write store per database per process, shared by both exporters: the registry and the connection.

The registry (:func:`acquire`/:func:`release`) gives every exporter of a process the same store per
database. The store owns the connection and its lock; retention (the sweeper thread and the
cross-process sweep lock) is its :class:`~otel_lens.store._retention.Retention`.

Everything that differs between SQLite and PostgreSQL (opening, reconnecting, the sweep lock, fork
abandonment of the connection) is asked of the store's backend (:mod:`otel_lens.store._backends`).

The store owns the only write connection its process has to a database and serializes its use with
a lock, so the span and log exporters (each driven by its own SDK thread) and the retention sweeper
never contend inside one process. After ``fork()`` the child abandons the inherited connection
without touching it (SQLite forbids even closing it there) and opens its own on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import peewee as pw

from otel_lens._guard import internal
from otel_lens.settings import Settings
from otel_lens.store._retention import Retention
from otel_lens.store.database import Location, parse_location
from otel_lens.store.errors import ConnectionLost, StoreBusy, StoreClosed, StoreError, one_line
from otel_lens.store.rows import EncodedBatch
from otel_lens.store.sweeper import PruneSummary, Sweeper
from otel_lens.store.writer import Writer

_logger = logging.getLogger(__name__)

_DEFAULT_WRITE_TIMEOUT_S = 10.0

# How long acquire() (configure(), the distro, an exporter's constructor: the application's start)
# waits for other processes holding the write lock while it creates or migrates the schema. Past it
# the store opens at its first write instead, within that write's own deadline, on the export thread.
_OPEN_AT_START_S = 3.0


_registry: dict[Location, WriteStore] = {}
_registry_lock = threading.Lock()
_inherited_connections: list[Any] = []  # connections inherited across fork(): kept alive, never used or closed


class WriteStore:
    """The write side of one database in this process. Get it with :func:`acquire`, not directly."""

    def __init__(self, location: Location, settings: Settings) -> None:
        self.location = location
        self.settings = settings
        self._refs = 0
        self._closed = False
        self._lock = threading.Lock()
        self._backend = location.backend()
        self._retention = Retention(location, settings, lambda: self._backend, self.locked, lambda: self.sweeper)
        self._db: pw.Database | None = None
        self._writer: Writer | None = None
        self._sweeper: Sweeper | None = None
        try:
            self._open(_OPEN_AT_START_S)
        except StoreBusy:
            _logger.debug("otel-lens: %s is busy; opening it at the first write", location)

    def _open(self, wait_s: float) -> None:
        """Open (and migrate) the database, waiting at most ``wait_s`` for other writers.

        Raises:
            StoreBusy: other processes kept the write lock; nothing is left half-open.
            StoreError: the database cannot be used (the message names it and why).
        """
        db = self._backend.open_for_writing(self.location, wait_s)
        self._writer = Writer(db, self._backend)
        self._sweeper = Sweeper(db, self._sweep_transaction, self.locked, self.location, self._backend)
        self._db = db

    @property
    def db(self) -> pw.Database:
        """The Peewee database of the write connection (opened now if opening was put off)."""
        if self._db is None:
            with self.locked():
                pass
        assert self._db is not None
        return self._db

    @property
    def sweeper(self) -> Sweeper:
        """This store's retention sweeper (its passes run through :meth:`prune`)."""
        self.db  # noqa: B018 - opens the store when its opening was put off
        assert self._sweeper is not None
        return self._sweeper

    def size(self) -> int:
        """Bytes the store takes now: the SQLite file and its -wal, or the PostgreSQL tables."""
        with internal():
            return self.sweeper.store_size()

    # -- locking --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> Iterator[Any]:
        """Hold this store's lock and yield the open connection.

        Raises:
            StoreClosed: the store was shut down.
            StoreError: the lock was not free within ``timeout`` seconds.
        """
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            raise StoreError(f"database {self.location} is busy: another export held it for {timeout:.1f}s")
        reconnected = False
        try:
            if self._closed:
                raise StoreClosed(f"database {self.location} was shut down")
            if self._db is None:
                self._open(max(timeout, 0.1))
            assert self._db is not None
            reconnected = self._backend.reconnect_if_lost(self._db, str(self.location))
            try:
                conn = self._db.connection()
            except Exception as exc:  # e.g. the server is down and Peewee's autoconnect failed
                raise StoreError(f"cannot connect to database {self.location}: {one_line(exc)}") from None
            yield conn
        finally:
            self._lock.release()
        if reconnected:  # logged outside the lock: a log handler may export through this store
            _logger.info("otel-lens: reconnected to database %s", self.location)

    @contextlib.contextmanager
    def _sweep_transaction(self) -> Iterator[Any]:
        deadline = time.monotonic() + _DEFAULT_WRITE_TIMEOUT_S
        with self.locked():
            assert self._writer is not None
            with self._writer.transaction(deadline) as cursor:
                yield cursor

    # -- writes ---------------------------------------------------------------------------------

    def write_spans(self, batch: EncodedBatch, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> int:
        """Store encoded spans; returns how many were new. Raises :class:`StoreError` subclasses."""
        return self._write("write_spans", batch, timeout)

    def _write(self, method: str, batch: EncodedBatch, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        reconnected = False
        with self.locked(timeout):
            write = getattr(self._writer, method)  # the writer exists once locked() has opened the store
            try:
                count = int(write(batch, deadline))
            except ConnectionLost:
                # Dropped while idle (server restart, idle timeout, a proxy): found at BEGIN, before
                # anything was written, so reconnecting and writing once more is safe.
                reconnected = self._backend.reconnect_if_lost(self._open_db(), str(self.location), force=True)
                count = int(write(batch, deadline))
        if reconnected:  # logged outside the lock: a log handler may export through this store
            _logger.info("otel-lens: reconnected to database %s", self.location)
        if not self._closed:
            self._retention.ensure_running()
        return count

    def write_running(self, batch: EncodedBatch, interval_ns: int, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> int:
        """Store spans still open as running (see :mod:`otel_lens.store._running`), beating this writer's heart."""
        deadline = time.monotonic() + timeout
        with self.locked(timeout):
            assert self._writer is not None
            return self._writer.write_running(batch, deadline, interval_ns)

    def beat(self, interval_ns: int, stop: bool = False, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> None:
        """Keep this process's running spans running (a heartbeat, only while it has some); with ``stop``,
        mark what it leaves open abandoned (a clean shutdown)."""
        deadline = time.monotonic() + timeout
        with self.locked(timeout):
            writer = self._writer
            assert writer is not None
            if not (writer.running.registered if stop else writer.running.active):
                return  # nothing running (or nothing ever written as running): no write at all
            with writer.transaction(deadline) as cursor:
                if stop:
                    writer.running.stop(cursor)
                else:
                    writer.running.beat(cursor, interval_ns)

    def write_logs(self, batch: EncodedBatch, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> int:
        """Store encoded log records; returns how many were new. Raises :class:`StoreError` subclasses."""
        return self._write("write_logs", batch, timeout)

    def _open_db(self) -> pw.Database:
        """The open database, for a caller holding the lock (:meth:`locked` has opened it)."""
        assert self._db is not None
        return self._db

    # -- retention ------------------------------------------------------------------------------

    def prune(self, max_age: float | None = None, max_size: int | None = None) -> PruneSummary:
        """Run one retention pass now (settings' retention and size unless given); see :class:`Retention`."""
        return self._retention.prune(max_age, max_size)

    def sweep_lock(self) -> contextlib.AbstractContextManager[bool]:
        """Hold the cross-process sweep lock inside the block; yields False (holding nothing) when another has it."""
        return self._retention.sweep_lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the sweeper and close the connection; later writes raise :class:`StoreClosed`."""
        self._retention.stop(timeout)
        if not self._lock.acquire(timeout=timeout):
            _logger.warning("otel-lens: closing %s while a write is still running", self.location)
            self._closed = True
            return
        try:
            self._closed = True
            if self._db is not None:
                with contextlib.suppress(Exception):
                    self._db.close()
        finally:
            self._lock.release()

    def _after_fork_in_child(self) -> None:
        if self._db is not None and self._sweeper is not None:
            for inherited in (*self._backend.abandon_after_fork(self._db), *self._sweeper.after_fork()):
                _abandon(inherited)
        self._lock = threading.Lock()
        self._retention.after_fork()
        self._backend = self.location.backend()  # fresh per-connection state (busy timeout, statements)
        if self._db is not None:
            self._writer = Writer(self._db, self._backend)


SharedStore = WriteStore
"""The former name of :class:`WriteStore`, kept for callers that import it."""


def _abandon(connection: Any) -> None:
    """Keep a connection inherited across fork() alive for good: never used, never closed, even at exit.

    Closing it in the child (which garbage collection at interpreter exit would do) could checkpoint
    and delete the parent's WAL under it, so one extra reference is taken that nothing ever drops.
    """
    _inherited_connections.append(connection)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(connection))


def acquire(settings: Settings) -> WriteStore:
    """The process's store for ``settings.database``, opened (and migrated) on first use.

    Raises:
        StoreError: the database cannot be opened; the message names it and the reason.
    """
    location = parse_location(settings.database)
    with _registry_lock:
        store = _registry.get(location)
        if store is None:
            store = _registry[location] = WriteStore(location, settings)
        store._refs += 1
        return store


def release(store: WriteStore) -> None:
    """Give back a store from :func:`acquire`; the last release closes it."""
    with _registry_lock:
        store._refs -= 1
        if store._refs > 0:
            return
        if _registry.get(store.location) is store:
            del _registry[store.location]
    store.close()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for store in list(_registry.values()):
        store._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
