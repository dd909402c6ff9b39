"""Read-only SQL on PostgreSQL: a READ ONLY transaction with a statement timeout, always rolled back.

The views are a ``WITH`` clause around the query (a read-only transaction may not create even a temp
view, and one would write the catalog of the store's database), and the query is read through a
cursor (``DECLARE`` accepts only a SELECT/VALUES), so the rows past the cap are counted, not fetched.
"""

from __future__ import annotations

import re
from typing import Any

from otel_lens.query._sql_result import SqlError, SqlRefused, SqlResult, SqlTimeout, plain
from otel_lens.query._sql_views import postgres_with_clause

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_PG_READING = frozenset({"select", "with", "values", "table", "("})


def _first_word(query: str) -> str:
    """The statement's first keyword, past comments (``--`` to the line's end, ``/* … */``)."""
    text = _COMMENTS.sub(" ", query).lstrip()
    match = re.match(r"\(|[A-Za-z_]+", text)
    return match.group(0).lower() if match else ""


def run_postgres(connection: Any, query: str, timeout: float, limit: int) -> SqlResult:
    word = _first_word(query)
    if word not in _PG_READING:
        # The query becomes a subquery of a cursor, where only a SELECT parses; say why, not "syntax error".
        raise SqlRefused(f"refused: {word.upper() or 'this statement'} — on PostgreSQL otel-lens sql runs one "
                         "SELECT (or WITH … SELECT, VALUES, TABLE)")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        try:
            cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
            wrapped = f"{postgres_with_clause()} SELECT * FROM ({query}\n) AS lens_query"
            try:
                cursor.execute(f"DECLARE lens_sql NO SCROLL CURSOR FOR {wrapped}")
                cursor.execute(f"FETCH FORWARD {int(limit)} FROM lens_sql")
                columns = [d.name for d in cursor.description or ()]
                rows = [tuple(plain(v) for v in row) for row in cursor.fetchall()]
                cursor.execute("MOVE FORWARD ALL IN lens_sql")
                more = max(int(cursor.rowcount or 0), 0)
            except Exception as exc:
                if not type(exc).__module__.startswith("psycopg"):
                    raise
                raise _postgres_error(exc, timeout) from None
        finally:
            cursor.execute("ROLLBACK")
    return SqlResult(columns, rows, more)


def _postgres_error(exc: BaseException, timeout: float) -> SqlError:
    lines = str(exc).strip().splitlines()
    message = " ".join(lines[0].split()) if lines else type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == "57014":  # query_canceled: the statement_timeout fired
        return SqlTimeout(f"the query ran past its {timeout:g}s budget and was stopped (raise --timeout, or narrow it)")
    if (
        sqlstate == "25006" or "read-only transaction" in message or "data-modifying" in message
    ):  # read_only_sql_transaction
        return SqlRefused(f"refused: {message} — otel-lens sql only reads")
    return SqlError(f"PostgreSQL: {message}")
