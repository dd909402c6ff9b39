"""What a database backend provides: everything the store does differently on SQLite and PostgreSQL.

A backend is chosen once from the database setting (:func:`otel_lens.store._backends.backend_for`)
and asked, never tested for: the writer, the sweeper, migrations, the shared write store and the
reader call its methods, so a third backend is one more module in this package.
An instance belongs to one store (it keeps small per-connection state, e.g. SQLite's busy timeout).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import peewee as pw

from otel_lens.store.errors import NotALensDatabase, StoreError, first_line
from otel_lens.store.rows import SpanRow

if TYPE_CHECKING:
    from otel_lens.store.database import Location
    from otel_lens.store.schema import Models

Locked = Callable[[], AbstractContextManager[Any]]
"""Holds the store's lock, outside any transaction, and yields the raw connection."""
TraceDeltas = Callable[[Sequence[SpanRow]], Sequence[tuple[Any, ...]]]
"""The trace rollup deltas of some span rows (``rollups.trace_rollups`` with the batch's services bound)."""
TableRows = Callable[[Sequence[SpanRow], Mapping[bytes, int]], list[tuple[Any, ...]]]
"""The lens_spans rows of some span rows, given each trace id's row id (``rows.span_table_rows`` bound)."""


@dataclasses.dataclass(frozen=True)
class Statements:
    """The writer's batch statements in one-row ``INSERT … VALUES (?, …)`` form, shared by every backend."""

    insert_spans: str
    span_columns: tuple[str, ...]
    insert_logs: str
    log_columns: tuple[str, ...]
    upsert_traces: str
    trace_columns: tuple[str, ...]
    upsert_usage: str
    usage_columns: tuple[str, ...]


class Space:
    """The bytes a store takes, and giving freed space back, during retention passes (no-ops by default)."""

    def __init__(self, location: Location, locked: Locked, transaction: Locked) -> None:
        del location, locked, transaction

    def begin_pass(self) -> None:
        """A retention pass starts (e.g. open a side connection for checkpoints)."""

    def end_pass(self) -> None:
        """The pass is over (close what :meth:`begin_pass` opened)."""

    def forget_after_fork(self) -> list[Any]:
        """In a fork child: drop connections of the parent's pass; returns them, to be kept alive unused."""
        return []

    def store_size(self) -> int:
        """Bytes the store takes now."""
        raise NotImplementedError

    def start_size_pass(self) -> None:
        """A size pass starts: estimates kept from an earlier one are stale."""

    def used_bytes(self, deleted: dict[str, int]) -> int:
        """Bytes live data takes, given the rows this pass deleted so far per table."""
        raise NotImplementedError

    def between_chunks(self) -> None:
        """Between two delete chunks: let a waiting exporter in."""
        time.sleep(0)

    def shrink(self) -> None:
        """Give freed space back to the file system where the backend can."""

    def checkpoint(self, truncate: bool = False) -> None:
        """Move logged writes into the main files where the backend has such a log."""


class Backend:
    """One dialect's answers; subclasses override every method that raises ``NotImplementedError``."""

    _db: pw.Database
    _statements: Statements

    kind: ClassVar[str]  # the Location.kind this backend serves
    database_class: ClassVar[type[pw.Database]]  # the Peewee class its connections are
    sorted_interning: ClassVar[bool] = False  # intern new resources/scopes in digest order first (lock order)

    # -- choosing --------------------------------------------------------------------------------

    @classmethod
    def claims(cls, text: str) -> str | None:
        """The location target when ``text`` (a database setting) is for this backend, else None."""
        raise NotImplementedError

    @classmethod
    def label(cls, target: str) -> str:
        """``target`` for messages: never a password (the one place a location is formatted for people)."""
        return target

    @property
    def where(self) -> str:
        """The prepared database for messages (see :meth:`label`)."""
        return self.label(str(self._db.database))

    # -- opening ---------------------------------------------------------------------------------

    def open_for_writing(self, location: Location, busy_wait_s: float) -> pw.Database:
        """A connected, migrated write connection; waits at most ``busy_wait_s`` for other writers.

        Raises:
            StoreError: the database cannot be opened, is not an otel-lens one, or stayed busy.
        """
        raise NotImplementedError

    def open_for_reading(self, location: Location) -> pw.Database | None:
        """A read-only connection shared by every read, or None when each read opens its own (SQLite files).

        Raises:
            StoreError: the database cannot be read (the message names it and the reason).
        """
        raise NotImplementedError

    def exists(self, location: Location) -> bool:
        """Whether something is there to open without creating it (a server database always is)."""
        return True

    def open_per_read(self, location: Location, immutable: bool) -> pw.Database:
        """A read-only connection for one read, when :meth:`open_for_reading` shares none.

        ``immutable`` promises no writer has the database open (so nothing, not even a lock file, is made).
        """
        raise NotImplementedError(f"{type(self).__name__} shares one read connection")

    def check_identity(self, db: pw.Database, where: str) -> None:
        """Refuse, on a read connection, a database that is not an otel-lens one."""

    def reconnect_if_lost(self, db: pw.Database, where: str, force: bool = False) -> bool:
        """Replace a connection the server dropped (the caller holds the store's lock); True when it did."""
        return False

    def abandon_after_fork(self, db: pw.Database) -> list[Any]:
        """Forget ``db``'s inherited connection in a fork child; returns the objects to keep alive unused."""
        state = getattr(db, "_state")  # noqa: B009 - Peewee's per-database connection state
        setattr(db, "_state", type(state)())  # noqa: B010 - a fresh, closed state: connect anew
        return [state.conn] if state.conn is not None else []

    # -- transactions ----------------------------------------------------------------------------

    def begin(self, cursor: Any, deadline: float) -> None:
        """Start a write transaction, waiting for other writers until ``deadline`` (monotonic).

        Raises:
            ConnectionLost: the connection was found dropped (nothing written: reconnecting is safe).
            StoreError: the database stayed locked past the deadline or failed.
        """
        raise NotImplementedError

    def write_error(self, exc: BaseException, where: str) -> StoreError:
        """The one-line :class:`StoreError` (or subclass) for a driver error raised while writing."""
        raise NotImplementedError

    def read_error(self, exc: BaseException, where: str) -> StoreError:
        """The one-line :class:`StoreError` for a driver error raised while reading."""
        text = first_line(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return StoreError(f"database {where} is locked by another process ({text}); try again")
        if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
            return StoreError(f"database {where} is corrupt ({text})")
        if "no such table" in lowered or "no such column" in lowered or "does not exist" in lowered:
            return NotALensDatabase(f"{where} is not a complete otel-lens database ({text})")
        if "unable to open" in lowered:
            return StoreError(f"cannot open database {where} ({text})")
        return StoreError(f"reading database {where} failed: {type(exc).__name__}: {text}")

    def is_driver_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` comes from this backend's driver (so :meth:`read_error` applies)."""
        return isinstance(exc, (pw.DatabaseError, pw.InterfaceError))

    # -- batch statements --------------------------------------------------------------------------

    def prepare(self, db: pw.Database, statements: Statements) -> None:
        """Derive this backend's forms of the writer's statements (called once per writer)."""
        self._db = db
        self._statements = statements

    def clean_row(self, values: Iterable[Any]) -> tuple[Any, ...]:
        """``values`` as this backend can store them (e.g. without NUL characters in text)."""
        return tuple(values)

    @staticmethod
    def joined_integers(column: str) -> str:
        """An aggregate of an integer ``column``'s values as one comma-separated text (``stats`` reads a group's
        durations of a window's partial first hour so: one row per group instead of one per span)."""
        return f"group_concat({column}, ',')"

    ids_commit_in_order: ClassVar[bool] = True
    """Rows become visible in id order (one writer at a time): a reader following new rows by id needs no
    :meth:`commit_snapshot`."""

    def commit_snapshot(self, db: pw.Database) -> tuple[int, int] | None:
        """``(xmin, xmax)`` of a fresh snapshot, for readers following new rows by id: transactions below
        ``xmin`` have ended, those from ``xmax`` on had not begun. None (the default) when rows become
        visible in id order anyway (one writer at a time, as on SQLite), so a reader needs no snapshot."""
        del db
        return None

    def insert_spans(
        self, cursor: Any, rows: Sequence[SpanRow], deltas_of: TraceDeltas, table_rows_of: TableRows
    ) -> list[int] | None:
        """Upsert the batch's trace rollups and insert its spans exactly once each.

        ``deltas_of(rows)`` gives the trace rollup deltas of some of the batch's rows (in
        ``TRACE_DELTA_COLUMNS`` order) and ``table_rows_of(rows, trace_rows)`` their lens_spans rows once
        each trace's row id is known; the writer supplies both, so a backend only runs statements.
        Returns None when every span was new, else the indexes of the rows that were.
        """
        raise NotImplementedError

    def insert_logs(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> int:
        """Insert log rows (duplicates skipped); returns how many were new (-1 when unknown)."""
        raise NotImplementedError

    def upsert_usage(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
        """Add GenAI usage deltas to their hourly rows."""
        raise NotImplementedError

    latency_histogram_merge: ClassVar[str]
    """SQL for a lens_latency upsert's merged histogram (``l``: the stored row, ``excluded``: the delta)."""

    def prepare_latency(
        self, db: pw.Database, upsert: str, columns: Sequence[str], table: str = "lens_latency", key: int = 4
    ) -> None:
        """Derive this backend's form of a latency upsert into ``table`` (lens_latency, or lens_latency_levels:
        ``columns`` its parameters' order, the first ``key`` of them the primary key)."""
        self._latency_upserts: dict[str, str] = getattr(self, "_latency_upserts", {})
        self._latency_upserts[table] = upsert

    def upsert_latency(self, cursor: Any, deltas: Sequence[Sequence[Any]], table: str = "lens_latency") -> None:
        """Merge latency deltas (in the order ``prepare_latency`` was given for ``table``) into their rows."""
        raise NotImplementedError

    def row_lock(self, exclusive: bool) -> str:
        """The clause a write transaction's ``SELECT`` ends with to lock the rows it reads until commit, shared
        or ``exclusive`` (empty where the write transaction already excludes other writers)."""
        return ""

    # -- retention ---------------------------------------------------------------------------------

    def try_sweep_lock(self, location: Location, locked: Locked, where: str) -> bool:
        """Take the cross-process sweep lock without waiting; False when another process holds it."""
        raise NotImplementedError

    def release_sweep_lock(self, locked: Locked) -> None:
        raise NotImplementedError

    def forget_sweep_lock_after_fork(self) -> None:
        """In a fork child: drop the parent's sweep lock without releasing it for the parent."""

    def space(self, location: Location, locked: Locked, transaction: Locked) -> Space:
        """The retention sweeper's view of the bytes the store takes."""
        raise NotImplementedError

    # -- schema --------------------------------------------------------------------------------

    def read_version(self, db: pw.Database) -> int:
        raise NotImplementedError

    def write_version(self, db: pw.Database, models: Models, version: int) -> None:
        raise NotImplementedError

    def migration_lock(self, db: pw.Database, models: Models) -> AbstractContextManager[Any]:
        """The transaction (and cross-process lock) one migration runs in."""
        raise NotImplementedError

    def table_columns(self, db: pw.Database, table: str) -> set[str]:
        raise NotImplementedError
