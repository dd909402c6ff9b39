"""Where a store lives: the database setting parsed once into a :class:`Location` and its backend.

Each backend (:mod:`otel_lens.store._backends`) says which settings it takes; the opening itself
(file checks, pragmas, drivers) lives in the backend modules. The names below stay importable from
here for callers that open a database by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

from otel_lens._redact import Redactor
from otel_lens.store._backends import BACKENDS, Backend, backend_class
from otel_lens.store._backends._postgres import PG_CONNECT_TIMEOUT_S, open_postgres
from otel_lens.store._backends._sqlite_files import (
    _PRAGMAS,
    APPLICATION_ID,
    BUSY_TIMEOUT_S,
    JOURNAL_SIZE_LIMIT,
    check_sqlite_header,
    check_sqlite_identity,
    is_busy,
    open_sqlite,
    prepare_sqlite_file,
    set_pragma,
)
from otel_lens.store.errors import StoreError

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "JOURNAL_SIZE_LIMIT",
    "PG_CONNECT_TIMEOUT_S",
    "_PRAGMAS",
    "Location",
    "check_sqlite_header",
    "check_sqlite_identity",
    "is_busy",
    "open_postgres",
    "open_sqlite",
    "parse_location",
    "prepare_sqlite_file",
    "set_pragma",
]


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a store lives: a SQLite file or a PostgreSQL URL."""

    kind: str  # a backend's kind: "sqlite" or "postgresql"
    target: str  # the absolute file path, or the URL as given

    @property
    def path(self) -> Path:
        return Path(self.target)

    def backend(self) -> Backend:
        """A new backend object for this location (a store keeps the one it was opened with)."""
        return backend_class(self.kind)()

    def __str__(self) -> str:
        """The location for messages: a URL as host, port and database only (never the password)."""
        return backend_class(self.kind).label(self.target)

    def __repr__(self) -> str:
        return f"Location(kind={self.kind!r}, target={_default_redactor().display_url(self.target)!r})"


def parse_location(database: str | os.PathLike[str]) -> Location:
    """The :class:`Location` of a database setting: a path, ``sqlite:///path`` or ``postgresql://…``.

    Raises:
        StoreError: the setting is empty or names an unsupported scheme.
    """
    text = os.fspath(database).strip()
    if not text:
        raise StoreError(
            "the database setting is empty; use e.g. ./lens.db, sqlite:///abs/lens.db or postgresql://host/db"
        )
    for backend in BACKENDS:
        target = backend.claims(text)
        if target is not None:
            return Location(backend.kind, target)
    if text.startswith("sqlite://"):
        raise StoreError(
            f"database {_default_redactor().display_url(text)!r} has a host part; "
            "use sqlite:///relative/or/absolute/path"
        )
    scheme = text.split("://", 1)[0]
    raise StoreError(
        f"database {_default_redactor().display_url(text)!r}: unsupported scheme {scheme!r}; "
        "use a file path, sqlite:/// or postgresql://"
    )


@functools.cache
def _default_redactor() -> Redactor:
    return Redactor()
