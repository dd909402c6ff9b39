"""The space an SQLite store takes, and giving it back: file sizes, page counts, incremental vacuum, WAL checkpoints.

A retention pass opens a side connection of its own for checkpoints, so copying WAL frames into the
database never happens under the store's lock (see :meth:`SqliteSpace.between_chunks`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from otel_lens.store._backends._base import Locked, Space

if TYPE_CHECKING:
    from otel_lens.store.database import Location

_SIDE_TIMEOUT_S = 5.0  # busy timeout of a pass's checkpoint connection
_VACUUM_PAGES = 128  # pages per incremental_vacuum step: ~1 ms of lock when the machine is idle
_AUTO_VACUUM_INCREMENTAL = 2
_TRUNCATE_WAIT_MS, _TRUNCATE_TRIES = 20, 10


class SqliteSpace(Space):
    def __init__(self, location: Location, locked: Locked, transaction: Locked) -> None:
        self._path = location.target
        self._locked = locked
        self.side: sqlite3.Connection | None = None  # a pass's checkpoint connection

    def begin_pass(self) -> None:
        self.side = sqlite3.connect(self._path, timeout=_SIDE_TIMEOUT_S, isolation_level=None)

    def end_pass(self) -> None:
        side, self.side = self.side, None
        if side is not None:
            side.close()

    def forget_after_fork(self) -> list[Any]:
        side, self.side = self.side, None
        return [side] if side is not None else []

    def store_size(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(f"{self._path}{suffix}").st_size
        return total

    def used_bytes(self, deleted: dict[str, int]) -> int:
        """Bytes in use after deletes (free pages excluded), which is what the file shrinks to."""
        page_size = self._read_one("PRAGMA page_size")[0]
        pages = self._read_one("PRAGMA page_count")[0]
        free = self._read_one("PRAGMA freelist_count")[0]
        return int((pages - free) * page_size)

    def _read_one(self, sql: str) -> tuple[Any, ...]:
        with self._locked() as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return tuple(cursor.fetchone())

    def between_chunks(self) -> None:
        """Let a waiting exporter take the lock, and checkpoint the WAL without holding it.

        A pass writes thousands of WAL frames. Left to SQLite's autocheckpoint, the copy into the
        database and its fsync (tens of milliseconds) run inside the COMMIT of whichever chunk or
        export crosses the threshold, under the store's lock. A PASSIVE checkpoint from a connection
        of its own never blocks a writer; once it caught up, the next write restarts the WAL, so
        it stays small and the autocheckpoint seldom fires inside the lock.
        """
        time.sleep(0)
        if self.side is not None:
            with contextlib.suppress(sqlite3.Error):  # an optimization here; the final TRUNCATE still runs
                self.side.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def shrink(self) -> None:
        """Give freed pages back to the file system and truncate the WAL."""
        if self._read_one("PRAGMA auto_vacuum")[0] == _AUTO_VACUUM_INCREMENTAL:
            free = self._read_one("PRAGMA freelist_count")[0]
            while free:
                with self._locked() as conn:
                    # Python's sqlite3 steps a PRAGMA once, and each step of incremental_vacuum frees ONE
                    # page (execute() then resets it); executescript() steps it to the end. BEGIN
                    # IMMEDIATE: a deferred write would fail with BUSY_SNAPSHOT beside other writers.
                    conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({_VACUUM_PAGES}); COMMIT;")
                    left = conn.execute("PRAGMA freelist_count").fetchone()[0]
                self.between_chunks()
                if left >= free:
                    break  # nothing freed: never spin (the file is what it is)
                free = left
        self.checkpoint(truncate=True)

    def checkpoint(self, truncate: bool = False) -> None:
        """Copy the WAL into the database (and with ``truncate``, empty the -wal file)."""
        if truncate and self.side is not None:
            self.between_chunks()  # most frames copied off the lock: TRUNCATE has little left to do
            # TRUNCATE takes the write lock, then waits for readers to finish, blocking writers meanwhile.
            # From the side connection, each try waits at most _TRUNCATE_WAIT_MS, so an exporter is held
            # up that long at worst, and a reader that stays (a CLI, a viewer) makes it give up: the WAL
            # is then capped by journal_size_limit and emptied by a later pass.
            with contextlib.suppress(sqlite3.Error):
                self.side.execute(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
                for _ in range(_TRUNCATE_TRIES):
                    busy = self.side.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy:
                        break
                    time.sleep(_TRUNCATE_WAIT_MS / 1000)
            return
        with self._locked() as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
