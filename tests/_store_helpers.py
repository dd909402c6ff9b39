"""Reading a store back in tests through the Peewee models (works on SQLite and PostgreSQL), and turning one back
into what an older otel-lens wrote, for the migration tests."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from otel_lens.settings import Settings
from otel_lens.store import codec
from otel_lens.store.schema import Models, models_for
from otel_lens.store.shared import SharedStore


def models(store: SharedStore | None) -> Models:
    assert store is not None, "the exporter was shut down"
    return models_for(store.db)


def spans_by_name(store: SharedStore | None) -> dict[str, dict[str, Any]]:
    """Every stored span keyed by name, with JSON columns decoded."""
    m = models(store)
    result: dict[str, dict[str, Any]] = {}
    for row in m.span.select(m.span, m.trace.trace_id).join(m.trace, on=(m.span.trace_row == m.trace.id)).dicts():
        row["attributes"] = codec.loads(row["attributes"])
        row["events"] = codec.loads(row["events"])
        row["links"] = codec.loads(row["links"])
        result[row["name"]] = row
    return result


def traces(store: SharedStore | None) -> dict[bytes, dict[str, Any]]:
    return {bytes(row["trace_id"]): row for row in models(store).trace.select().dicts()}


def count(store: SharedStore | None, table: str) -> int:
    m = models(store)
    return int(getattr(m, table).select().count())


def downgrade(settings: Settings, version: int, *tables: str) -> None:
    """Turn the store of ``settings`` back into what otel-lens wrote at schema ``version``: ``tables`` (those
    a later migration added) dropped and the schema version set back, on SQLite or PostgreSQL, so the next
    writer runs the migrations after ``version`` again."""
    if settings.database.startswith("postgresql"):
        with psycopg.connect(settings.database, autocommit=True) as conn:
            for table in tables:
                conn.execute(f"DROP TABLE {table}")
            conn.execute("UPDATE lens_meta SET value = %s WHERE key = 'schema_version'", (str(version),))
        return
    conn = sqlite3.connect(settings.database, isolation_level=None)
    for table in tables:
        conn.execute(f"DROP TABLE {table}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
