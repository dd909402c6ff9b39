"""Errors of the read API: about the question asked (lookups), or a store with nothing in it yet."""

from __future__ import annotations

from otel_lens.store.errors import DatabaseNotReady, EmptySqliteDatabase

__all__ = ["AmbiguousTraceId", "DatabaseNotReady", "EmptySqliteDatabase", "TraceNotFound"]


class TraceNotFound(LookupError):
    """No stored trace has the given id (or starts with the given prefix)."""


class AmbiguousTraceId(LookupError):
    """Several stored traces start with the given id prefix."""
