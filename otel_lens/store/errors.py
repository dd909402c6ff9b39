"""Errors the store raises; each message names the database and says what to do, for direct display."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened or written; ``str(error)`` is a one-line reason for the user."""


class NotALensDatabase(StoreError):
    """The file exists but is not an otel-lens database; it is left untouched."""


class SchemaTooNew(StoreError):
    """The database was written by a newer otel-lens; writing to it is refused."""


class StoreBusy(StoreError):
    """Other processes kept the database's write lock longer than the wait allowed; trying later may work."""


class StoreFull(StoreError):
    """The disk or the database's size limit is full; writing resumes once there is room."""


class ConnectionLost(StoreError):
    """The database connection was found dropped before anything was written; reconnecting is safe."""


class StoreClosed(StoreError):
    """The store was shut down; nothing is reopened."""


class DatabaseNotReady(StoreError):
    """Nothing has been stored at the database yet: no file, an empty file, or no otel-lens tables yet.

    ``logs --follow`` waits on this one; every other read reports it like any :class:`StoreError`.
    """


class EmptySqliteDatabase(DatabaseNotReady, NotALensDatabase):
    """An SQLite file with no schema at all: foreign to otel-lens as it stands, or one being created right now."""


def one_line(exc: BaseException) -> str:
    """``exc``'s whole message on one line (whitespace collapsed), or its type when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (drivers put details and hints on later lines), or its type."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
