"""Errors of the read API: about the question asked (lookups), or a store with nothing in it yet."""

from __future__ import annotations

from otel_lens.store.errors import DatabaseNotReady, EmptySqliteDatabase

__all__ = [
    "AmbiguousSessionId",
    "AmbiguousTraceId",
    "DatabaseNotReady",
    "EmptySqliteDatabase",
    "SessionNotFound",
    "TraceNotFound",
]


class TraceNotFound(LookupError):
    """No stored trace has the given id (or starts with the given prefix)."""


class AmbiguousTraceId(LookupError):
    """Several stored traces start with the given id prefix."""


class SessionNotFound(TraceNotFound):
    """No stored session or conversation has the given id (or starts with it); a kind of :class:`TraceNotFound`,
    so every reader that answers an unknown trace (404, one line) answers an unknown session the same way."""


class AmbiguousSessionId(AmbiguousTraceId):
    """Several stored sessions or conversations start with the given id prefix."""
