"""Errors of the read API: about the question asked (lookups), or a store with nothing in it yet."""

from __future__ import annotations

from otel_lens.store.errors import NotALensDatabase, StoreError


class TraceNotFound(LookupError):
    """No stored trace has the given id (or starts with the given prefix)."""


class AmbiguousTraceId(LookupError):
    """Several stored traces start with the given id prefix."""


class DatabaseNotReady(StoreError):
    """Nothing has been stored at the database yet: no file, an empty file, or no otel-lens tables yet.

    ``logs --follow`` waits on this one; every other read reports it like any :class:`StoreError`.
    """


class EmptySqliteDatabase(DatabaseNotReady, NotALensDatabase):
    """An SQLite file with no schema at all: foreign to otel-lens as it stands, or one being created right now."""
