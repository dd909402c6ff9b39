"""Read-only SQL on SQLite: an authorizer allowing reading only, a progress-handler time budget, TEMP views.

The query runs on the reader's read-only connection (``mode=ro``, or ``immutable`` when no writer has
the file open, see ``_reader.py``), under an authorizer that allows reading and nothing else (no write,
ATTACH, PRAGMA change, extension loading, temp table, transaction), with a progress handler that
interrupts it once its time budget is spent. The views live in that connection's TEMP schema (memory),
created before the authorizer is installed, so the user's text runs unchanged (``EXPLAIN``,
``WITH RECURSIVE`` and error positions as written) and nothing reaches the file.
"""

from __future__ import annotations

import re
import sqlite3
import time

from otel_lens.query._sql_printf import BoundedPrintf
from otel_lens.query._sql_result import SqlError, SqlRefused, SqlResult, SqlTimeout, plain
from otel_lens.query._sql_views import VIEW_NAMES, sqlite_create_statements

_LIMIT_LENGTH = 0  # sqlite3.SQLITE_LIMIT_LENGTH (the constant is missing before Python 3.11)
_MAX_VALUE_BYTES = 16 * 1024 * 1024  # SQLite's length limit while a query runs: no gigabyte randomblob()
_PROGRESS_STEPS = 1000  # VM instructions between two looks at the clock (cheap; well under a millisecond)

# Authorizer actions (sqlite3 lacks some constants on older Pythons, so the numbers are spelled out).
_SELECT, _READ, _FUNCTION, _RECURSIVE, _PRAGMA, _ATTACH = 21, 20, 31, 33, 19, 24
_ACTIONS = {
    1: "CREATE INDEX", 2: "CREATE TABLE", 3: "CREATE TEMP INDEX", 4: "CREATE TEMP TABLE", 5: "CREATE TEMP TRIGGER",
    6: "CREATE TEMP VIEW", 7: "CREATE TRIGGER", 8: "CREATE VIEW", 9: "DELETE", 10: "DROP INDEX", 11: "DROP TABLE",
    12: "DROP TEMP INDEX", 13: "DROP TEMP TABLE", 14: "DROP TEMP TRIGGER", 15: "DROP TEMP VIEW", 16: "DROP TRIGGER",
    17: "DROP VIEW", 18: "INSERT", 19: "PRAGMA", 22: "a transaction (BEGIN/COMMIT)", 23: "UPDATE", 24: "ATTACH",
    25: "DETACH", 26: "ALTER TABLE", 27: "REINDEX", 28: "ANALYZE", 29: "CREATE VIRTUAL TABLE",
    30: "DROP VIRTUAL TABLE", 32: "SAVEPOINT",
}  # fmt: skip
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"})
_REFUSED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
# PRAGMAs that only read: with no argument, and the schema-describing ones that take a table or index name.
_READ_PRAGMAS = frozenset({
    "application_id", "collation_list", "compile_options", "database_list", "encoding", "foreign_keys",
    "freelist_count", "function_list", "module_list", "page_count", "page_size", "pragma_list", "schema_version",
    "user_version", "journal_mode", "auto_vacuum", "data_version", "query_only",
})  # fmt: skip
_NAME_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
                           "foreign_key_list"})  # fmt: skip


class _Guard:
    """The authorizer and progress handler of one SQLite query; remembers why it stopped it."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.timed_out = False
        self.refusals: list[tuple[str, str | None]] = []  # (what, table) of each denied step
        self.printf: BoundedPrintf | None = None  # says why it refused a call, if it did

    @property
    def refused(self) -> str | None:
        """Why the statement was refused: the first step not on a schema table, which says it best
        (``CREATE TEMP TABLE t`` is checked as an INSERT into sqlite_temp_master first)."""
        if not self.refusals:
            return None
        for what, table in self.refusals:
            if table not in _SCHEMA_TABLES:
                return what
        what = self.refusals[0][0]
        if what.startswith("INSERT"):
            return "CREATE (of a table, view, index or trigger, temporary ones included)"
        if what.startswith("DELETE"):
            return "DROP (of a table, view, index or trigger)"
        if what.startswith("UPDATE"):
            # What a pragma_*() table function does first; the PRAGMA statement form reads the same.
            return "a pragma_…() table function (use the statement form, e.g. PRAGMA table_info(spans))"
        return self.refusals[0][0]

    def authorize(self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _view: str | None) -> int:
        if action in (_SELECT, _READ, _RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == _FUNCTION:
            if (arg2 or "").lower() not in _REFUSED_FUNCTIONS:
                return sqlite3.SQLITE_OK
            what = f"the function {arg2}()"
        elif action == _PRAGMA:
            name = (arg1 or "").lower()
            if (arg2 is None and name in _READ_PRAGMAS) or name in _NAME_PRAGMAS:
                return sqlite3.SQLITE_OK
            what = f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else "")
        elif action == _ATTACH and not arg1:
            what = "VACUUM (or an ATTACH of a scratch database)"  # VACUUM is checked as an ATTACH of ''
        else:
            what = _ACTIONS.get(action, f"action {action}")
            if arg1 and action not in (22, 32):
                what += f" {arg1}"
        self.refusals.append((what, arg1))
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1  # non-zero: SQLite interrupts the statement
        return 0


def _ensure_views(connection: sqlite3.Connection) -> BoundedPrintf:
    """The TEMP views (made on the connection's first query) and this query's bounded printf()/format()."""
    printf = BoundedPrintf(_MAX_VALUE_BYTES)  # registered anew each query: it remembers why it refused
    for name in ("printf", "format"):  # format() is SQLite's other name for printf()
        connection.create_function(name, -1, printf, deterministic=True)
    names = ",".join(f"'{n}'" for n in VIEW_NAMES)
    present = connection.execute(f"SELECT count(*) FROM sqlite_temp_master WHERE name IN ({names})").fetchone()[0]
    if present == len(VIEW_NAMES):
        return printf
    # query_only also guards the TEMP schema; the connection itself is read-only (mode=ro/immutable), so
    # lifting it for the moment of creating in-memory views cannot let anything reach the file.
    connection.execute("PRAGMA query_only = 0")
    try:
        for statement in sqlite_create_statements():
            connection.execute(statement)
    finally:
        connection.execute("PRAGMA query_only = 1")
    return printf


def run_sqlite(connection: sqlite3.Connection, query: str, timeout: float, limit: int) -> SqlResult:
    printf = _ensure_views(connection)
    guard = _Guard(timeout)
    guard.printf = printf
    connection.set_authorizer(guard.authorize)
    connection.set_progress_handler(guard.progress, _PROGRESS_STEPS)
    setlimit = getattr(connection, "setlimit", None)  # Python 3.11+
    length = setlimit(_LIMIT_LENGTH, _MAX_VALUE_BYTES) if setlimit else None
    try:
        try:
            cursor = connection.execute(query)
            columns = [d[0] for d in cursor.description or ()]
            rows = [tuple(plain(v) for v in row) for row in cursor.fetchmany(limit)]
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise _sqlite_error(exc, guard, timeout, query) from None
        more, exact = 0, True
        try:
            while chunk := cursor.fetchmany(1000):  # counted within the same time budget
                more += len(chunk)
        except sqlite3.Error:
            if not guard.timed_out:
                raise
            exact = False
        return SqlResult(columns, rows, more, exact)
    finally:
        connection.set_authorizer(None)
        connection.set_progress_handler(None, _PROGRESS_STEPS)
        if setlimit is not None and length is not None:
            setlimit(_LIMIT_LENGTH, length)


_VIEW_WRITE = re.compile(r"cannot modify (\w+) because it is a view")
_WRITE_VERB = re.compile(r"\b(insert|replace|update|delete)\b", re.IGNORECASE)
_ONLY_READS = "otel-lens sql only reads (SELECT, WITH, EXPLAIN)"


def _sqlite_error(exc: BaseException, guard: _Guard, timeout: float, query: str) -> SqlError:
    message = " ".join(str(exc).split()) or type(exc).__name__
    if guard.refused is not None:
        return SqlRefused(f"refused: {guard.refused} — {_ONLY_READS}")
    view = _VIEW_WRITE.search(message)
    if view is not None:
        # SQLite stops a write to a (TEMP) view while parsing, before the authorizer sees it: say it the way the
        # authorizer's refusals do ("refused: DELETE spans"), not as a SQLite error about views.
        verb = _WRITE_VERB.search(query)
        return SqlRefused(f"refused: {verb.group(1).upper() if verb else 'a write to'} {view.group(1)} — {_ONLY_READS}")
    if guard.printf is not None and guard.printf.refused is not None:
        return SqlRefused(f"refused: {guard.printf.refused}")
    if guard.timed_out:
        return SqlTimeout(f"the query ran past its {timeout:g}s budget and was stopped (raise --timeout, or narrow it)")
    if "one statement at a time" in message:
        return SqlError("only one statement at a time (remove the extra ';' statement)")
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in message:
        return SqlRefused(f"refused: the statement would write ({message})")
    return SqlError(f"SQLite: {message}")
