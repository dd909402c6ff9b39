"""Read-only SQL over a store (``otel-lens sql``, the MCP ``run_sql`` tool): read-only by construction.

Each dialect's runner is its own module (``_sql_sqlite.py``: a read-only connection under an authorizer
and a time budget; ``_sql_postgres.py``: a read-only transaction with a statement timeout), chosen by
the store's backend, so a new backend adds a runner module and one entry in :data:`_RUNNERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_lens.query._sql_postgres import run_postgres
from otel_lens.query._sql_result import SqlError, SqlRefused, SqlResult, SqlTimeout
from otel_lens.query._sql_sqlite import run_sqlite
from otel_lens.query.store import Store
from otel_lens.store._backends import backend_of
from otel_lens.store._backends._postgres import PostgresBackend
from otel_lens.store._backends._sqlite import SqliteBackend

__all__ = ["DEFAULT_ROW_LIMIT", "DEFAULT_TIMEOUT_S", "SqlError", "SqlRefused", "SqlResult", "SqlTimeout", "run_sql"]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ROW_LIMIT = 1000
_RUNNERS: dict[str, Callable[[Any, str, float, int], SqlResult]] = {
    SqliteBackend.kind: run_sqlite,
    PostgresBackend.kind: run_postgres,
}


def run_sql(store: Store, query: str, timeout: float = DEFAULT_TIMEOUT_S, limit: int = DEFAULT_ROW_LIMIT) -> SqlResult:
    """Run one read-only statement over the views ``spans``, ``traces``, ``logs`` (and the raw ``lens_*`` tables).

    Blob values come back as hex strings, so every value is JSON-able.

    Raises:
        SqlRefused: the statement would change something (nothing is changed).
        SqlTimeout: it ran longer than ``timeout`` seconds.
        SqlError: it does not parse or fails (the message quotes SQLite's or PostgreSQL's).
        StoreError: the database cannot be read.
    """
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise SqlError(
            "the query is empty; e.g. SELECT name, duration_ms FROM spans ORDER BY duration_ms DESC LIMIT 10"
        )
    if not timeout > 0:
        raise SqlError(f"timeout={timeout!r} must be a positive number of seconds")
    if limit < 1:
        raise SqlError(f"limit={limit!r} must be at least 1")

    def work(models: Any) -> SqlResult:
        db = models.span._meta.database
        return _RUNNERS[backend_of(db).kind](db.connection(), text, timeout, limit)

    return store._reader.run(work)
