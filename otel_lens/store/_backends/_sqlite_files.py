"""SQLite files: path checks, file modes, refusal of foreign files, the connection and its pragmas.

Nothing here writes to a file before it is known to be an otel-lens database (or a new, empty one):
a foreign file's bytes stay unchanged.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import peewee as pw

from otel_lens.store.errors import NotALensDatabase, StoreError

APPLICATION_ID = 0x4C454E53  # "LENS" in the SQLite header, so `file` and we can tell our databases apart
BUSY_TIMEOUT_S = 5.0
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024
_SQLITE_BUSY = 5  # the primary result code of SQLITE_BUSY and its extended codes
_PRAGMAS = (
    # auto_vacuum only takes effect on a database with no tables yet, and before WAL mode is set;
    # on an existing database it changes nothing.
    ("auto_vacuum", "incremental"),
    ("journal_mode", "wal"),
    ("synchronous", "normal"),
    ("journal_size_limit", JOURNAL_SIZE_LIMIT),
    ("cache_size", -8 * 1024),
    ("foreign_keys", 0),
)


COMPANION_SUFFIXES = ("-wal", "-shm", "-journal", "-sweep.lock")
"""The files SQLite and otel-lens keep beside a database ``x.db``: ``x.db-wal``, ``x.db-shm``, … ."""


def refuse_companion_file(path: Path) -> None:
    """Refuse a database path that names a database's companion file (``g.db-sweep.lock``, ``g.db-wal``).

    Taken as a database, the empty ``-sweep.lock`` became one (and a ``-wal`` or ``-shm`` belongs to the
    SQLite of a live writer): the user meant the database beside it, so that one is named.
    """
    for suffix in COMPANION_SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            database = path.with_name(path.name[: -len(suffix)])
            raise StoreError(
                f"database path {path} is the {suffix[1:]} file of database {database}, not a database; "
                f"give {database} instead"
            )


def prepare_sqlite_file(path: Path) -> bool:
    """Check ``path`` can hold an otel-lens database, creating parents (0700) and the file (0600).

    Returns:
        True when the file was created here (so it is certainly new).

    Raises:
        StoreError: the path is a directory or a database's -wal/-shm/-journal/-sweep.lock file, its parent
            is a file or cannot be created, or it is not writable.
        NotALensDatabase: the file exists and is not an SQLite database.
    """
    refuse_companion_file(path)  # before any directory or file is created for it
    if path.is_dir():
        raise StoreError(f"database path {path} is a directory; give a file path such as {path / 'lens.db'}")
    parent = path.parent
    missing = [d for d in (parent, *parent.parents) if not d.is_dir()]
    for directory in reversed(missing):  # each level we create is private, whatever the umask
        try:
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)
        except FileExistsError:
            if not directory.is_dir():  # a file in the way (junk.db/x.db): say so, not "not writable" below
                raise StoreError(f"database {path}: {directory} is not a directory") from None
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory {directory} for database {path}: {exc.strerror or exc}"
            ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"database {path}: directory {parent} is not writable (SQLite needs it for the -wal file)")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror or exc}") from None
    else:
        os.close(fd)
        return True
    if not stat.S_ISREG(path.stat().st_mode):
        raise StoreError(f"database path {path} is not a regular file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"database {path} is read-only; otel-lens needs read and write access to store spans")
    check_sqlite_header(path)
    return False


_MIN_PAGE_SIZE = 512


def check_sqlite_header(path: Path) -> None:
    """Refuse a non-empty file that is not an SQLite database (read, never written).

    The file is read through SQLite, never a Python file handle: on POSIX, closing *any* descriptor of a
    file drops every fcntl lock this process holds on it, including the SHARED lock that this process's
    open SQLite connections hold. Another process closing its connection would then think it is the
    last one and delete the -wal while this process still writes into it: acknowledged data lost and
    the file corrupted (SQLite's "How To Corrupt", 2.2). SQLite's own open/close keeps those locks (it
    defers closing a descriptor while the file is locked), so a connection is the safe way to look.
    """
    refuse_companion_file(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StoreError(f"cannot open database {path}: {exc.strerror or exc}") from None
    if size == 0:
        return  # new, or a WAL database whose pages are all still in its -wal
    if size < _MIN_PAGE_SIZE:  # SQLite writes whole pages: no database it wrote is this short
        raise NotALensDatabase(f"{path} is not an otel-lens database (not even SQLite); refusing to touch it")
    try:
        # immutable: read page 1 only, no locks taken, no -wal/-shm created next to a file that is not ours.
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise NotALensDatabase(
                f"{path} is not an otel-lens database (not even SQLite); refusing to touch it"
            ) from None
        raise StoreError(f"cannot read database {path}: {exc}") from None
    finally:
        conn.close()


def check_sqlite_identity(path: Path) -> int:
    """Refuse an SQLite file that belongs to another application, reading it without writing.

    An otel-lens database carries :data:`APPLICATION_ID`; an empty SQLite file is accepted as new.

    Returns:
        The file's schema version (``PRAGMA user_version``; 0 for a new file).
    """
    if path.stat().st_size == 0:
        return 0
    try:
        # With no -wal beside it no writer is active: open immutable, or SQLite would leave -wal/-shm
        # files next to a foreign WAL database it must not touch.
        immutable = "" if os.path.exists(f"{path}-wal") else "&immutable=1"
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro{immutable}", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if application_id == APPLICATION_ID:
            return version
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise NotALensDatabase(f"{path} is not an otel-lens database ({exc}); refusing to touch it") from None
    finally:
        conn.close()
    if application_id != 0 or tables:
        raise NotALensDatabase(
            f"{path} is an SQLite database of another application (application_id={application_id}, "
            f"{tables} schema objects); refusing to touch it"
        )
    return version


def open_sqlite(
    path: Path, *, readonly: bool = False, immutable: bool = False, busy_timeout: float | None = None
) -> pw.SqliteDatabase:
    """A Peewee database on ``path`` with otel-lens pragmas; the connection is opened lazily.

    The connection is shared by the threads of one store (``check_same_thread=False``), which
    serializes its own use; Peewee runs in autocommit mode and writers issue ``BEGIN IMMEDIATE``.
    ``readonly`` opens it for reading only; ``immutable`` also tells SQLite that no one writes it
    (so it creates no -wal/-shm beside a file no writer has open). ``busy_timeout`` (seconds, default
    :data:`BUSY_TIMEOUT_S`) bounds each wait for another connection's lock, the pragmas' included.
    """
    timeout = BUSY_TIMEOUT_S if busy_timeout is None else busy_timeout
    if readonly or immutable:
        return pw.SqliteDatabase(
            f"{path.as_uri()}?mode=ro{'&immutable=1' if immutable else ''}",
            uri=True,
            timeout=timeout,
            check_same_thread=False,
            thread_safe=False,
            pragmas=(("query_only", 1),),
        )
    pragmas: tuple[tuple[str, str | int], ...] = _PRAGMAS
    if _has_content(path):
        # Setting auto_vacuum rewrites the header (its change counter) even when the value is the same, and
        # on a database with tables it changes nothing: skip it, so a refused file keeps its bytes.
        pragmas = tuple(pragma for pragma in _PRAGMAS if pragma[0] != "auto_vacuum")
    return _SqliteDatabase(str(path), timeout=timeout, check_same_thread=False, thread_safe=False, pragmas=pragmas)


class _SqliteDatabase(pw.SqliteDatabase):
    """Peewee's SQLite database, setting its pragmas with a bounded retry when the file is busy.

    ``PRAGMA journal_mode = wal`` on a file still in rollback mode (a new one) needs the write lock,
    and SQLite fails it with SQLITE_BUSY at once, without calling the busy handler, while another
    connection holds it: which is exactly what happens when several processes create a new
    database together and one of them is switching it to WAL. Once that one is done the file is in
    WAL mode and the pragma succeeds at once, so waiting a little is all it takes.
    """

    def _set_pragmas(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + float(self.timeout)
        pragmas: tuple[tuple[str, object], ...] = getattr(self, "_pragmas", ())  # peewee's, from pragmas=
        for pragma, value in pragmas:
            set_pragma(conn, pragma, value, deadline)


def set_pragma(conn: sqlite3.Connection, pragma: str, value: object, deadline: float) -> None:
    """``PRAGMA pragma = value`` on ``conn``, retried while the database is busy until ``deadline``.

    Raises:
        sqlite3.OperationalError: still busy at the deadline, or journal_mode did not become ``value``.
    """
    pause = 0.002
    while True:
        try:
            row = conn.execute(f"PRAGMA {pragma} = {value}").fetchone()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
        else:
            # A refused journal_mode change is no error: SQLite answers with the mode it kept.
            if pragma != "journal_mode" or (row is not None and str(row[0]).lower() == str(value).lower()):
                return
            if time.monotonic() + pause > deadline:
                raise sqlite3.OperationalError(f"journal_mode stayed {row[0] if row else None!r}, not {value!r}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def is_busy(exc: BaseException) -> bool:
    """Whether an sqlite3 (or Peewee-wrapped) error is SQLITE_BUSY: another connection holds the lock."""
    # Peewee re-raises sqlite3's error as its own, with the original as first argument and context.
    for candidate in (exc, exc.__cause__, exc.__context__, *exc.args[:1]):
        code = getattr(candidate, "sqlite_errorcode", None)  # Python 3.11+; older ones only have the message
        if isinstance(code, int):
            return (code & 0xFF) == _SQLITE_BUSY
    return "database is locked" in str(exc)


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False
