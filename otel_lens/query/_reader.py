"""Read-only access to a store that never creates or changes a file, not even SQLite's -wal and -shm.

A ``mode=ro`` SQLite connection to a WAL database creates the -wal and -shm files when they are
missing (no writer has the database open) and cannot remove them afterwards. So when there is no
-wal file the reader opens the database ``immutable`` — no files, no locks — and checks after each
read that the file did not change meanwhile (a writer started and checkpointed); if it did, the
read is redone on an ordinary read-only connection, whose files the writer has created by then.

The immutable database object (and so the model classes bound to it, which take milliseconds to build, and
the per-database schema caches of :mod:`otel_lens.query._decode` and :mod:`otel_lens.query._running`) is
kept from one read to the next while the file stays as it was; its connection is closed after each read
(an immutable connection would not see a later write). A file that changed — a writer stored, or migrated
the schema — gets a new one, so nothing cached about the old file is trusted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import peewee as pw

from otel_lens.query.errors import DatabaseNotReady
from otel_lens.store.database import Location
from otel_lens.store.errors import StoreError
from otel_lens.store.migrations import read_version, refuse_newer
from otel_lens.store.schema import Models, models_for

_logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_FileState = tuple[int, int, int, bool]


class Reader:
    """Runs read functions against one database with the models bound to a read-only connection."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self._backend = location.backend()
        # A connection every read shares (PostgreSQL, or SQLite once a writer has the file open), or None
        # while each read opens the file immutable (see the module docstring).
        self._shared: pw.Database | None = self._backend.open_for_reading(location)
        # The immutable database kept between reads, and the file state it was made for (see the module
        # docstring); the lock lets one read at a time use it (a concurrent read opens its own, as before).
        self._immutable: pw.Database | None = None
        self._immutable_for: _FileState | None = None
        self._immutable_lock = threading.Lock()
        self.run(self._check_schema)

    def _check_schema(self, models: Models) -> None:
        db: Any = models.span._meta.database
        where = str(self.location)
        self._backend.check_identity(db, where)
        version = refuse_newer(db, where, read_version(db))
        if version < 1:
            raise DatabaseNotReady(f"database {where} has no otel-lens tables yet: nothing has been stored in it")

    def _per_read(self, immutable: bool) -> pw.Database:
        return self._backend.open_per_read(self.location, immutable)

    def _file_state(self) -> _FileState:
        path: Path = self.location.path
        stat = path.stat()
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino, os.path.exists(f"{path}-wal"))

    # -- running --------------------------------------------------------------------------------

    def run(self, work: Callable[[Models], _T]) -> _T:
        """``work(models)`` on a read-only connection; database errors become one-line :class:`StoreError`.

        Raises:
            StoreError: the database is locked, corrupt, missing or not an otel-lens database.
        """
        if self._shared is not None:
            return self._attempt(self._shared, work)
        before = self._file_state()
        if before[3]:
            # A writer has (or had) it open: its -wal and -shm exist, so an ordinary reader creates nothing.
            self._shared = self._per_read(immutable=False)
            return self._attempt(self._shared, work)
        kept = self._immutable_lock.acquire(blocking=False)
        if kept:
            if self._immutable is None or self._immutable_for != before:
                self._immutable, self._immutable_for = self._per_read(immutable=True), before
            db = self._immutable
        else:
            db = self._per_read(immutable=True)  # another thread is reading on the kept one
        changed_under_us = False
        try:
            result = self._attempt(db, work)
        except StoreError:
            if self._file_state() == before:
                raise
            changed_under_us = True  # a writer changed the file under the immutable read (it looked corrupt)
        finally:
            db.close()
            if kept:
                self._immutable_lock.release()
        if changed_under_us or self._file_state() != before:
            # A writer started meanwhile; it has created -wal and -shm, so read again the ordinary way.
            _logger.debug("otel-lens: %s changed during an immutable read; reading again", self.location)
            self._shared = self._per_read(immutable=False)
            return self._attempt(self._shared, work)
        return result

    def _attempt(self, db: pw.Database, work: Callable[[Models], _T]) -> _T:
        try:
            return work(models_for(db))
        except StoreError:
            raise
        except Exception as exc:
            if not self._backend.is_driver_error(exc):
                raise
            failure = exc
        # The server may have dropped the connection (a restart, an idle timeout, pg_terminate_backend):
        # a long-running reader (the viewer, the MCP server) would fail every later read on it. Reads
        # change nothing, so on a fresh connection the read is simply done once more.
        if not self._backend.reconnect_if_lost(db, str(self.location)):
            raise self._backend.read_error(failure, str(self.location)) from None
        _logger.info("otel-lens: reconnected to database %s", self.location)
        try:
            return work(models_for(db))
        except StoreError:
            raise
        except Exception as exc:
            if self._backend.is_driver_error(exc):
                raise self._backend.read_error(exc, str(self.location)) from None
            raise

    def close(self) -> None:
        with self._immutable_lock:
            self._immutable = self._immutable_for = None  # its connection is closed after every read
        if self._shared is not None:
            self._shared.close()
            self._shared = None
