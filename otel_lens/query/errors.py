"""Errors of the read API that are about the question asked, not the store (those are :class:`StoreError`)."""

from __future__ import annotations


class TraceNotFound(LookupError):
    """No stored trace has the given id (or starts with the given prefix)."""


class AmbiguousTraceId(LookupError):
    """Several stored traces start with the given id prefix."""
