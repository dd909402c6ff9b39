"""Read-only access to a store that never creates or changes a file, not even SQLite's -wal and -shm.

A ``mode=ro`` SQLite connection to a WAL database creates the -wal and -shm files when they are
missing (no writer has the database open) and cannot remove them afterwards. So when there is no
-wal file the reader opens the database ``immutable`` — no files, no locks — and checks after each
read that the file did not change meanwhile (a writer started and checkpointed); if it did, the
read is redone on an ordinary read-only connection, whose files the writer has created by then.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import peewee as pw

from otel_lens.query.errors import DatabaseNotReady, EmptySqliteDatabase
from otel_lens.store._postgres import require_schema
from otel_lens.store.database import (
    APPLICATION_ID,
    Location,
    check_sqlite_header,
    open_postgres,
    open_sqlite,
)
from otel_lens.store.errors import NotALensDatabase, StoreError
from otel_lens.store.migrations import read_version, refuse_newer
from otel_lens.store.schema import Models, models_for

_logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_FileState = tuple[int, int, int, bool]


class Reader:
    """Runs read functions against one database with the models bound to a read-only connection."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self._shared: pw.Database | None = None  # ordinary read-only connection (SQLite ro, or PostgreSQL)
        if location.kind == "postgresql":
            self._shared = self._open_postgres()
        else:
            self._check_file()
        self.run(self._check_schema)

    # -- opening --------------------------------------------------------------------------------

    def _open_postgres(self) -> pw.Database:
        db = open_postgres(self.location)
        try:
            db.connect()
            # Belt and braces: the server itself refuses writes on this session.
            cast(Any, db).execute_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except Exception as exc:
            raise StoreError(f"cannot connect to database {self.location}: {_one_line(exc)}") from None
        try:
            require_schema(db, str(self.location))  # else "no otel-lens tables yet" would hide a misspelt schema
        except StoreError:
            db.close()
            raise
        return db

    def _check_file(self) -> None:
        path = self.location.path
        if not path.exists():
            raise DatabaseNotReady(f"no otel-lens database at {path} (nothing stored yet, or a wrong --database)")
        if path.is_dir():
            raise StoreError(f"database path {path} is a directory; give the database file, e.g. {path / 'lens.db'}")
        if not os.access(path, os.R_OK):
            raise StoreError(f"database {path} is not readable")
        if path.stat().st_size == 0:
            raise DatabaseNotReady(f"database {path} is empty: nothing has been stored in it yet")
        check_sqlite_header(path)

    def _check_schema(self, models: Models) -> None:
        db: Any = models.span._meta.database
        where = str(self.location)
        if isinstance(db, pw.SqliteDatabase):
            application_id = cast(Any, db).execute_sql("PRAGMA application_id").fetchone()[0]
            if application_id != APPLICATION_ID:
                tables = cast(Any, db).execute_sql("SELECT count(*) FROM sqlite_master").fetchone()[0]
                # No schema at all may be a database a writer is creating this moment (logs --follow waits).
                error = EmptySqliteDatabase if application_id == 0 and tables == 0 else NotALensDatabase
                raise error(
                    f"{where} is not an otel-lens database (an SQLite database with application_id="
                    f"{application_id} and {tables} schema objects)"
                )
        version = refuse_newer(db, where, read_version(db))
        if version < 1:
            raise DatabaseNotReady(f"database {where} has no otel-lens tables yet: nothing has been stored in it")

    def _sqlite(self, immutable: bool) -> pw.SqliteDatabase:
        return open_sqlite(self.location.path, readonly=True, immutable=immutable)

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
            self._shared = self._sqlite(immutable=False)
            return self._attempt(self._shared, work)
        db = self._sqlite(immutable=True)
        changed_under_us = False
        try:
            result = self._attempt(db, work)
        except StoreError:
            if self._file_state() == before:
                raise
            changed_under_us = True  # a writer changed the file under the immutable read (it looked corrupt)
        finally:
            db.close()
        if changed_under_us or self._file_state() != before:
            # A writer started meanwhile; it has created -wal and -shm, so read again the ordinary way.
            _logger.debug("otel-lens: %s changed during an immutable read; reading again", self.location)
            self._shared = self._sqlite(immutable=False)
            return self._attempt(self._shared, work)
        return result

    def _attempt(self, db: pw.Database, work: Callable[[Models], _T]) -> _T:
        try:
            return work(models_for(db))
        except StoreError:
            raise
        except (pw.DatabaseError, pw.InterfaceError, sqlite3.Error) as exc:
            raise _translate(exc, self.location) from None
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise _translate(exc, self.location) from None
            raise

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _translate(exc: BaseException, location: Location) -> StoreError:
    text = _one_line(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"database {location} is locked by another process ({text}); try again")
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return StoreError(f"database {location} is corrupt ({text})")
    if "no such table" in lowered or "no such column" in lowered or "does not exist" in lowered:
        return NotALensDatabase(f"{location} is not a complete otel-lens database ({text})")
    if "unable to open" in lowered:
        return StoreError(f"cannot open database {location} ({text})")
    return StoreError(f"reading database {location} failed: {type(exc).__name__}: {text}")
