"""Database backends: one object per dialect, chosen once from the database setting, asked for every difference.

Only the modules of this package (and :mod:`otel_lens.store._postgres`, the PostgreSQL statement
helpers they use) know which dialect they talk to; ``tests/test_store_backends.py`` checks that
nothing else asks. A new backend is a module here and one entry in :data:`BACKENDS`.
"""

from __future__ import annotations

import peewee as pw

from otel_lens.store._backends._base import Backend, Locked, Statements
from otel_lens.store._backends._postgres import PostgresBackend
from otel_lens.store._backends._sqlite import SqliteBackend

__all__ = ["BACKENDS", "Backend", "Locked", "Statements", "backend_class", "backend_of"]

BACKENDS: tuple[type[Backend], ...] = (PostgresBackend, SqliteBackend)
"""Asked in this order which one a database setting is for (SQLite, taking plain paths, last)."""


def backend_class(kind: str) -> type[Backend]:
    """The backend class serving ``kind`` (a :class:`~otel_lens.store.database.Location` kind).

    Raises:
        ValueError: no backend serves ``kind``.
    """
    for backend in BACKENDS:
        if backend.kind == kind:
            return backend
    raise ValueError(f"no database backend for {kind!r}")


def backend_of(db: pw.Database) -> Backend:
    """A new backend object for an open Peewee database (migrations and readers, given only ``db``).

    Raises:
        ValueError: ``db`` is of no known backend.
    """
    for backend in BACKENDS:
        if isinstance(db, backend.database_class):
            return backend()
    raise ValueError(f"no database backend for {type(db).__name__}")
