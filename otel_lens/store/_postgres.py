"""What only PostgreSQL needs: one-statement batch inserts, NUL-free text, driver and schema errors, size estimates.

The writer's statements are written once, in ``INSERT … VALUES (%s, …)`` form, for both backends. On
PostgreSQL a batch is sent as one statement instead: every column travels as one array parameter and
``unnest`` turns them back into rows, so a 512-span batch costs one round trip and one plan (psycopg
prepares it after a few uses). Rows go in key order, so concurrent writers always take row locks in
the same order and cannot deadlock each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import peewee as pw

from otel_lens.store.errors import StoreError, StoreFull, one_line

_NUL = "\x00"
_NUL_REPLACEMENT = "\ufffd"  # PostgreSQL text cannot hold U+0000; U+FFFD shows where it was
_VALUES = re.compile(r"VALUES \((?:%s, )*%s\)")
_TYPE_NAMES = {"BLOB": "bytea", "TEXT": "text", "SMALLINT": "smallint", "INT": "integer", "BIGINT": "bigint"}
_ROW_OVERHEAD = 28  # line pointer and alignment a heap row costs beyond its stored size
_LOST_CONNECTION_STATES = ("08", "57P")  # connection exceptions; admin shutdown / terminate_backend


def clean_text(value: Any) -> Any:
    """``value`` with NUL characters replaced when it is a string (PostgreSQL rejects them in text)."""
    if value.__class__ is str and _NUL in value:
        return value.replace(_NUL, _NUL_REPLACEMENT)
    return value


def clean_row(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(clean_text(value) for value in values)


def column_types(model: type[pw.Model], columns: Sequence[str]) -> list[str]:
    """The PostgreSQL type of each of ``columns`` of ``model``, taken from the Peewee fields."""
    fields = model._meta.columns
    return [_TYPE_NAMES[fields[column].field_type] for column in columns]


def unnest_form(sql: str, types: Sequence[str]) -> str:
    """``sql`` (an ``INSERT … VALUES (%s, …)``) rewritten to insert every row of array parameters at once.

    Raises:
        ValueError: ``sql`` has no single ``VALUES (%s, …)`` list matching ``types``.
    """
    match = _VALUES.search(sql)
    if match is None or match.group(0).count("%s") != len(types):
        raise ValueError(f"not a one-row INSERT with {len(types)} parameters: {sql[:80]}")
    arrays = ", ".join(f"%b::{name}[]" for name in types)
    return f"{sql[: match.start()]}SELECT * FROM unnest({arrays}){sql[match.end() :]}"


def as_columns(rows: Sequence[Sequence[Any]], types: Sequence[str]) -> list[list[Any]]:
    """The column arrays for :func:`unnest_form` (NULs removed from text columns)."""
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in types]
    for position, name in enumerate(types):
        if name == "text":
            column = columns[position]
            for index, value in enumerate(column):
                if value is not None and _NUL in value:
                    column[index] = value.replace(_NUL, _NUL_REPLACEMENT)
    return columns


def require_schema(db: pw.Database, where: str) -> None:
    """Refuse, in one line, a session whose ``search_path`` names no existing schema.

    PostgreSQL only says "no schema has been selected to create in" at the first ``CREATE TABLE``
    (or, to a reader, that the tables do not exist), which does not name the schema nor the way out.

    Raises:
        StoreError: no schema of the search_path exists (the message names them and what to do).
    """
    schema, search_path, user = db.execute_sql(
        "SELECT current_schema(), current_setting('search_path'), current_user"
    ).fetchone()
    if schema is not None:
        return
    names = [name.strip().strip('"') for name in str(search_path).split(",") if name.strip()]
    names = [user if name == "$user" else name for name in names] or ["public"]
    listed = ", ".join(f'"{name}"' for name in names)
    missing = f"schema {listed} does not exist" if len(names) == 1 else f"none of the schemas {listed} exists"
    raise StoreError(
        f'database {where}: {missing} (the URL\'s search_path); create it (CREATE SCHEMA "{names[0]}") '
        "or pick an existing schema in the URL, e.g. ?options=-csearch_path%3Dpublic"
    )


def is_connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection to the server is gone (so the next export must reconnect)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - only called on the PostgreSQL path
        return False
    if not isinstance(exc, psycopg.Error):
        return False
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith(_LOST_CONNECTION_STATES):
        return True
    return isinstance(exc, psycopg.OperationalError) and not state


def translate(exc: BaseException, where: str) -> StoreError | None:
    """A one-line :class:`StoreError` for a psycopg error, or None when ``exc`` is not one.

    ``where`` names the database for messages (password-free, from the backend's ``label``).
    """
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return None
    if not isinstance(exc, psycopg.Error):
        return None
    text = one_line(exc)
    if is_connection_lost(exc):
        return StoreError(f"lost the connection to database {where} ({text}); the next export reconnects")
    state = getattr(exc, "sqlstate", None) or ""
    if state == "57014":
        return StoreError(f"database {where} did not finish the write before the export deadline ({text})")
    if state in ("53100", "53200"):  # disk_full, out_of_memory
        return StoreFull(f"database {where} is full ({text}); writing resumes once there is room")
    return StoreError(f"writing to database {where} failed: {type(exc).__name__}: {text}")


def statement_timeout_sql(seconds: float) -> str:
    """``SET LOCAL`` bounding every statement of the current transaction to ``seconds`` (at least 1 s)."""
    return f"SET LOCAL statement_timeout = {max(int(seconds * 1000), 1000)}"


def store_size(cursor: Any) -> int:
    """Bytes the otel-lens tables of the current schema take on disk, indexes and TOAST included."""
    cursor.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "WHERE c.relkind = 'r' AND c.relname LIKE 'lens\\_%' "
        "AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    )
    return int(cursor.fetchone()[0])


def bytes_per_row(cursor: Any, table: str, sample: int = 1000) -> tuple[int, float, int]:
    """``(rows, bytes each, bytes on disk)`` of ``table``: live rows, what one costs, what the files take.

    PostgreSQL never gives deleted rows' space back to the file system (autovacuum hands it to new
    rows), so the files' size cannot tell when a size sweep has deleted enough. A row's cost is the
    table's files (indexes and TOAST included) times the share of its heap that live rows fill,
    divided by the live rows; the fill is estimated from the newest ``sample`` rows' stored size.
    """
    if table not in ("lens_spans", "lens_logs", "lens_traces"):
        raise ValueError(f"unexpected table {table!r}")
    order = "start_ns" if table == "lens_traces" else "id"
    cursor.execute(
        f"SELECT (SELECT count(*) FROM {table}), "
        f"(SELECT avg(pg_column_size(r.*)) FROM (SELECT * FROM {table} ORDER BY {order} DESC LIMIT %s) r), "
        f"pg_relation_size('{table}'), pg_total_relation_size('{table}')",
        (sample,),
    )
    rows, average, heap, total = cursor.fetchone()
    if not rows:
        return 0, 0.0, int(total)
    filled = min(rows * (float(average or 0) + _ROW_OVERHEAD) / heap, 1.0) if heap else 1.0
    return int(rows), total * filled / rows, int(total)
