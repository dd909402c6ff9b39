"""Errors the store raises; each message names the database and says what to do, for direct display."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened or written; ``str(error)`` is a one-line reason for the user."""


class NotALensDatabase(StoreError):
    """The file exists but is not an otel-lens database; it is left untouched."""


class SchemaTooNew(StoreError):
    """The database was written by a newer otel-lens; writing to it is refused."""


class StoreFull(StoreError):
    """The disk or the database's size limit is full; writing resumes once there is room."""


class ConnectionLost(StoreError):
    """The database connection was found dropped before anything was written; reconnecting is safe."""


class StoreClosed(StoreError):
    """The store was shut down; nothing is reopened."""
