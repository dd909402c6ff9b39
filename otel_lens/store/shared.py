"""One write store per database per process, shared by both exporters: connection, lock, writer, sweeper.

The store owns the only write connection its process has to a database and serializes its use with
a lock, so the span and log exporters (each driven by its own SDK thread) and the retention sweeper
never contend inside one process. After ``fork()`` the child abandons the inherited connection
without touching it (SQLite forbids even closing it there) and opens its own on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import peewee as pw

from otel_lens._guard import internal
from otel_lens.settings import Settings
from otel_lens.store import _postgres
from otel_lens.store.database import (
    Location,
    check_sqlite_identity,
    is_busy,
    open_postgres,
    open_sqlite,
    parse_location,
    prepare_sqlite_file,
)
from otel_lens.store.errors import ConnectionLost, StoreClosed, StoreError
from otel_lens.store.migrations import ensure_schema, refuse_newer
from otel_lens.store.rows import EncodedBatch
from otel_lens.store.sweeper import PruneSummary, Sweeper
from otel_lens.store.writer import Writer

_logger = logging.getLogger(__name__)

_DEFAULT_WRITE_TIMEOUT_S = 10.0
_FIRST_SWEEP_DELAY_S = 5.0
_PG_SWEEP_LOCK_KEY = 0x4C454E54

_OPEN_TIMEOUT_S = 30.0  # how long opening waits out other processes holding the write lock
_OPEN_PAUSE_MAX_S = 0.1


def _when_free(step: Any, where: str) -> Any:
    """Run an opening ``step`` (connect, migrate), again while SQLite says the database is busy, within a bound.

    Processes creating or migrating a database together queue for its write lock; on a loaded
    machine one of them may wait past the busy timeout (SQLite's busy handler is not fair, and
    each holder may be descheduled while holding it). Every step is safe to run again: a migration
    re-reads the version under the lock, and a failed connect leaves no connection behind.
    """
    deadline = time.monotonic() + _OPEN_TIMEOUT_S
    pause = 0.01
    while True:
        try:
            return step()
        except pw.OperationalError as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise StoreError(
                    f"cannot open database {where}: other processes kept its write lock for {_OPEN_TIMEOUT_S:.0f}s"
                ) from None
        time.sleep(pause)
        pause = min(pause * 2, _OPEN_PAUSE_MAX_S)


_registry: dict[Location, SharedStore] = {}
_registry_lock = threading.Lock()
_inherited_connections: list[Any] = []  # connections inherited across fork(): kept alive, never used or closed


class SharedStore:
    """The write side of one database in this process. Get it with :func:`acquire`, not directly."""

    def __init__(self, location: Location, settings: Settings) -> None:
        self.location = location
        self.settings = settings
        self._refs = 0
        self._closed = False
        self._lock = threading.Lock()
        self._sweep_mutex = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweep_fd: int | None = None
        self.db = self._open()
        self._writer = Writer(self.db)
        path = location.path if location.kind == "sqlite" else None
        self._sweeper = Sweeper(self.db, self._sweep_transaction, self.locked, path)

    def _open(self) -> pw.Database:
        if self.location.kind == "postgresql":
            db = open_postgres(self.location)
            try:
                db.connect()
                _postgres.require_schema(db, str(self.location))
                ensure_schema(db, str(self.location))
            except StoreError:
                db.close()
                raise
            except Exception as exc:
                with contextlib.suppress(Exception):
                    db.close()
                raise StoreError(f"cannot open database {self.location}: {' '.join(str(exc).split())}") from None
            return db
        path = self.location.path
        created = prepare_sqlite_file(path)
        if not created:
            refuse_newer(None, str(path), check_sqlite_identity(path))  # before anything writes to the file
        db = open_sqlite(path)
        try:
            _when_free(db.connect, str(path))
            _when_free(lambda: ensure_schema(db, str(path)), str(path))
            db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except StoreError:
            db.close()
            raise
        except Exception as exc:
            db.close()
            raise StoreError(f"cannot open database {path}: {exc}") from None
        return db

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
            if self.location.kind == "postgresql":
                reconnected = self._reconnect_if_lost()
            try:
                conn = self.db.connection()
            except Exception as exc:  # e.g. the server is down and Peewee's autoconnect failed
                raise StoreError(f"cannot connect to database {self.location}: {' '.join(str(exc).split())}") from None
            yield conn
        finally:
            self._lock.release()
        if reconnected:  # logged outside the lock: a log handler may export through this store
            _logger.info("otel-lens: reconnected to database %s", self.location)

    def _reconnect_if_lost(self, force: bool = False) -> bool:
        """Replace a PostgreSQL connection the server or network dropped (the caller holds the lock)."""
        if not force and (self.db.is_closed() or self.db.is_connection_usable()):
            return False
        with contextlib.suppress(Exception):
            self.db.close()
        self.db._state.reset()  # type: ignore[attr-defined]  # a failed close() leaves it half-open
        try:
            self.db.connect()
        except Exception as exc:
            raise StoreError(f"cannot reconnect to database {self.location}: {' '.join(str(exc).split())}") from None
        return True

    @contextlib.contextmanager
    def _sweep_transaction(self) -> Iterator[Any]:
        deadline = time.monotonic() + _DEFAULT_WRITE_TIMEOUT_S
        with self.locked(), self._writer.transaction(deadline) as cursor:
            yield cursor

    # -- writes ---------------------------------------------------------------------------------

    def write_spans(self, batch: EncodedBatch, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> int:
        """Store encoded spans; returns how many were new. Raises :class:`StoreError` subclasses."""
        return self._write(self._writer.write_spans, batch, timeout)

    def _write(self, write: Any, batch: EncodedBatch, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        reconnected = False
        with self.locked(timeout):
            try:
                count = int(write(batch, deadline))
            except ConnectionLost:
                # Dropped while idle (server restart, idle timeout, a proxy): found at BEGIN, before
                # anything was written, so reconnecting and writing once more is safe.
                reconnected = self._reconnect_if_lost(force=True)
                count = int(write(batch, deadline))
        if reconnected:  # logged outside the lock: a log handler may export through this store
            _logger.info("otel-lens: reconnected to database %s", self.location)
        self._ensure_sweeper()
        return count

    def write_logs(self, batch: EncodedBatch, timeout: float = _DEFAULT_WRITE_TIMEOUT_S) -> int:
        """Store encoded log records; returns how many were new. Raises :class:`StoreError` subclasses."""
        return self._write(self._writer.write_logs, batch, timeout)

    # -- retention ------------------------------------------------------------------------------

    def prune(self, max_age: float | None = None, max_size: int | None = None) -> PruneSummary:
        """Run one retention pass now (settings' retention and size unless given).

        Only one process sweeps a database at a time; when another one is sweeping, the summary
        says so in ``skipped`` and nothing is deleted.
        """
        max_age = self.settings.retention if max_age is None else max_age
        max_size = self.settings.max_size if max_size is None else max_size
        with self._sweep_mutex, internal():
            if not self._try_sweep_lock():
                return PruneSummary(skipped=f"another process is sweeping {self.location}")
            try:
                return self._sweeper.prune(max_age, max_size)
            finally:
                self._release_sweep_lock()

    def _try_sweep_lock(self) -> bool:
        if self.location.kind == "postgresql":
            with self.locked() as conn:
                try:
                    cursor = conn.cursor()
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", (_PG_SWEEP_LOCK_KEY,))
                    return bool(cursor.fetchone()[0])
                except Exception as exc:  # e.g. a dropped connection: the next pass reconnects
                    raise (_postgres.translate(exc, self.db) or exc) from None
        fd = os.open(f"{self.location.target}-sweep.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._sweep_fd = fd
        return True

    def _release_sweep_lock(self) -> None:
        if self.location.kind == "postgresql":
            with contextlib.suppress(StoreError), self.locked() as conn:
                conn.cursor().execute("SELECT pg_advisory_unlock(%s)", (_PG_SWEEP_LOCK_KEY,))
            return
        if self._sweep_fd is not None:
            os.close(self._sweep_fd)  # closing drops the flock
            self._sweep_fd = None

    def _ensure_sweeper(self) -> None:
        if self._thread is not None or self.settings.sweep_interval <= 0 or self._closed:
            return
        if self.settings.retention <= 0 and self.settings.max_size <= 0:
            return
        with _registry_lock:
            if self._thread is None:
                self._wake = threading.Event()
                thread = threading.Thread(target=self._sweep_forever, name="otel-lens-sweeper", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # interpreter shutdown (3.12+ refuses new threads in atexit): no sweep
                    return
                self._thread = thread

    def _sweep_forever(self) -> None:
        with internal():  # like an export: never traced, never logged back into the store
            self._sweep_until_closed()

    def _sweep_until_closed(self) -> None:
        delay = min(_FIRST_SWEEP_DELAY_S, self.settings.sweep_interval)
        while not self._wake.wait(delay):
            delay = self.settings.sweep_interval
            try:
                summary = self.prune()
            except StoreClosed:
                return
            except Exception as exc:  # the sweeper must never die silently nor take the app down
                _logger.warning("otel-lens: retention sweep of %s failed: %s", self.location, exc)
                continue
            if summary.spans_deleted or summary.logs_deleted:
                _logger.debug("otel-lens: retention sweep of %s: %s", self.location, summary.as_dict())

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the sweeper and close the connection; later writes raise :class:`StoreClosed`."""
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if not self._lock.acquire(timeout=timeout):
            _logger.warning("otel-lens: closing %s while a write is still running", self.location)
            self._closed = True
            return
        try:
            self._closed = True
            with contextlib.suppress(Exception):
                self.db.close()
        finally:
            self._lock.release()

    def _after_fork_in_child(self) -> None:
        state = getattr(self.db, "_state")  # noqa: B009 - Peewee's per-database connection state
        for inherited in (state.conn, self._sweeper._side):
            if inherited is not None:
                _abandon(inherited)
        self._sweeper._side = None
        setattr(self.db, "_state", type(state)())  # noqa: B010 - a fresh, closed state: connect anew
        self._lock = threading.Lock()
        self._sweep_mutex = threading.Lock()
        self._thread = None
        if self._sweep_fd is not None:
            os.close(self._sweep_fd)  # the parent's sweep holds the flock; our copy must not keep it
            self._sweep_fd = None
        self._writer = Writer(self.db)


def _abandon(connection: Any) -> None:
    """Keep a connection inherited across fork() alive for good: never used, never closed, even at exit.

    Closing it in the child (which garbage collection at interpreter exit would do) could checkpoint
    and delete the parent's WAL under it, so one extra reference is taken that nothing ever drops.
    """
    _inherited_connections.append(connection)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(connection))


def acquire(settings: Settings) -> SharedStore:
    """The process's store for ``settings.database``, opened (and migrated) on first use.

    Raises:
        StoreError: the database cannot be opened; the message names it and the reason.
    """
    location = parse_location(settings.database)
    with _registry_lock:
        store = _registry.get(location)
        if store is None:
            store = _registry[location] = SharedStore(location, settings)
        store._refs += 1
        return store


def release(store: SharedStore) -> None:
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
