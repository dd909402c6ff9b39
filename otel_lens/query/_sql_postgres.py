"""Read-only SQL on PostgreSQL: one statement in a READ ONLY transaction under a time budget, always rolled back.

The views are a ``WITH`` clause around the query (a read-only transaction may not create even a temp
view, and one would write the catalog of the store's database), and the query is read through a
cursor (``DECLARE`` accepts only a SELECT/VALUES), so the rows past the cap are counted, not fetched.
The ``DECLARE`` goes through the extended protocol (``prepare=True``), which takes exactly one statement:
through the simple protocol, ``SELECT 1) AS x; COMMIT; CREATE …`` would have closed the bracket and run on.
A SELECT can still call server-admin functions (``pg_terminate_backend``, ``pg_reload_conf``, ``set_config``,
``pg_advisory_lock``, ``query_to_xml``…): those are refused before it runs (``_sql_pg_functions``). Should one
be missing from that list, the session is still protected: each query ends by releasing every advisory lock
and resetting the settings, and a client-side watchdog cancels it at the budget even if it lifted its own
``statement_timeout``.
"""

from __future__ import annotations

import re
import sys
import threading
import weakref
from typing import Any

from otel_lens.query._sql_pg_functions import refuse_admin_functions
from otel_lens.query._sql_result import SqlError, SqlRefused, SqlResult, SqlTimeout, plain
from otel_lens.query._sql_views import postgres_with_clause

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_PG_READING = frozenset({"select", "with", "values", "table", "("})
_MOVE_CHUNK = 10_000  # rows counted per MOVE, so a count cut short by the budget still says "at least N"
# What the query may have left on the session; the read-only default is set again after RESET ALL.
_RESET_SESSION = "SELECT pg_advisory_unlock_all(); RESET ALL; SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
_warned: weakref.WeakSet[Any] = weakref.WeakSet()  # connections whose superuser role was already warned about


def _first_word(query: str) -> str:
    """The statement's first keyword, past comments (``--`` to the line's end, ``/* … */``)."""
    text = _COMMENTS.sub(" ", query).lstrip()
    match = re.match(r"\(|[A-Za-z_]+", text)
    return match.group(0).lower() if match else ""


class _Watchdog:
    """Cancels the running statement once the budget is spent, even if the query lifted statement_timeout."""

    def __init__(self, connection: Any, timeout: float) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._armed = True
        self.fired = False
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._lock:  # never cancel once disarmed: the cancel would hit our ROLLBACK or the next query
            if not self._armed:
                return
            self.fired = True
            cancel = getattr(self._connection, "cancel_safe", None) or self._connection.cancel
            cancel()

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._armed = False
        self._timer.cancel()


def _warn_if_superuser(connection: Any, cursor: Any) -> None:
    """One line on stderr (never stdout: MCP speaks there) when the role could read files or write via dblink."""
    if connection in _warned:
        return
    _warned.add(connection)
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    if row and row[0]:
        sys.stderr.write(
            "otel-lens: warning: connected to PostgreSQL as a superuser; read-only SQL is safe only under a "
            "read-only role (see README, 'For agents and SQL')\n"
        )
        sys.stderr.flush()


def run_postgres(connection: Any, query: str, timeout: float, limit: int) -> SqlResult:
    word = _first_word(query)
    if word not in _PG_READING:
        # The query becomes a subquery of a cursor, where only a SELECT parses; say why, not "syntax error".
        # Worded as SQLite's refusals: "refused: WHAT — otel-lens sql only reads (what it runs)".
        raise SqlRefused(f"refused: {word.upper() or 'this statement'} — otel-lens sql only reads (on PostgreSQL "
                         "one SELECT, WITH … SELECT, VALUES or TABLE)")  # fmt: skip
    refuse_admin_functions(query)  # pg_terminate_backend & co. run even in a read-only transaction
    with connection.cursor() as cursor:
        _warn_if_superuser(connection, cursor)
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        watchdog = _Watchdog(connection, timeout)
        try:
            cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
            cursor.execute("SELECT to_regclass('lens_running') IS NOT NULL AND to_regclass('lens_writers') IS NOT NULL")
            row = cursor.fetchone()
            wrapped = f"{postgres_with_clause(bool(row and row[0]))} SELECT * FROM ({query}\n) AS lens_query"
            with watchdog:
                try:
                    cursor.execute(f"DECLARE lens_sql NO SCROLL CURSOR FOR {wrapped}", prepare=True)
                    cursor.execute(f"FETCH FORWARD {int(limit)} FROM lens_sql")
                    columns = [d.name for d in cursor.description or ()]
                    rows = [tuple(plain(v) for v in row) for row in cursor.fetchall()]
                except Exception as exc:
                    if not type(exc).__module__.startswith("psycopg"):
                        raise
                    raise _postgres_error(exc, timeout) from None
                more, exact = 0, True
                try:
                    while True:
                        cursor.execute(f"MOVE FORWARD {_MOVE_CHUNK} IN lens_sql")
                        moved = max(int(cursor.rowcount or 0), 0)
                        more += moved
                        if moved < _MOVE_CHUNK:
                            break
                except Exception as exc:
                    # Counting ran out of time: the rows fetched stand, the count is "at least" (as on SQLite).
                    if getattr(exc, "sqlstate", None) != "57014":
                        raise
                    exact = False
        finally:
            cursor.execute("ROLLBACK")
            cursor.execute(_RESET_SESSION)
    return SqlResult(columns, rows, more, exact)


def _postgres_error(exc: BaseException, timeout: float) -> SqlError:
    lines = str(exc).strip().splitlines()
    message = " ".join(lines[0].split()) if lines else type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == "57014":  # query_canceled: the statement_timeout or the watchdog fired
        return SqlTimeout(f"the query ran past its {timeout:g}s budget and was stopped (raise --timeout, or narrow it)")
    if (
        sqlstate == "25006"
        or "read-only transaction" in message
        or "data-modifying" in message
        or "read-write mode" in message
    ):  # read_only_sql_transaction, or an attempt to turn the transaction read-write
        return SqlRefused(f"refused: {message} — otel-lens sql only reads")
    if sqlstate == "42601" and "multiple commands" in message:
        return SqlRefused("refused: more than one statement — otel-lens sql runs one SELECT")
    return SqlError(f"PostgreSQL: {message}")
