"""Schema versions and their migrations, applied exactly once even when processes start together.

The backend keeps the version (SQLite in ``PRAGMA user_version`` beside its application id,
PostgreSQL in the ``lens_meta`` table) and provides the write lock each migration runs in
(``BEGIN IMMEDIATE`` / an advisory transaction lock); the version is re-read under it, so a second
process that waited for the lock finds the work done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import peewee as pw

from otel_lens.store import _latency, _latency_levels, _sessions_upkeep
from otel_lens.store._backends import backend_of
from otel_lens.store.errors import SchemaTooNew
from otel_lens.store.rows import SCHEMA_3_COLUMNS
from otel_lens.store.schema import Models, models_for


def _create_tables(db: pw.Database, models: Models) -> None:
    db.create_tables(models.all(), safe=True)


def _add_reasoning_tokens(db: pw.Database, models: Models) -> None:
    """Version 2: lens_usage gains ``reasoning_tokens`` (existing rows count 0: their spans were never read for it).

    A store created at version 2 already has the column (version 1 creates the tables from the
    current models), so the step only adds it where it is missing.
    """
    table = models.usage._meta.table_name
    if any(column.name == "reasoning_tokens" for column in db.get_columns(table)):
        return
    db.execute_sql(f"ALTER TABLE {table} ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0")


def _add_lossless_export_columns(db: pw.Database, models: Models) -> None:
    """Schema 3: the nullable columns a lossless OTLP export needs (span trace_state and dropped counts,
    log flags and dropped count, scope schema_url).

    A store created at this version already has them (version 1 creates the tables from the current
    models), so only the missing ones are added. Old rows read them as NULL, which means empty or 0.
    """
    del models  # the columns are named in rows.SCHEMA_3_COLUMNS, the one list the writer and readers share
    for table, columns in SCHEMA_3_COLUMNS.items():
        present = table_columns(db, table)
        for column in columns:
            if column not in present:
                kind = "TEXT" if column in _TEXT_COLUMNS else "INTEGER"
                db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}')


_TEXT_COLUMNS = {"extras", "schema_url"}


def _add_latency_rollup(db: pw.Database, models: Models) -> None:
    """Schema 4: lens_latency, the hourly latency histograms ``stats`` reads, filled from the stored spans.

    A store created at this version already has the (empty) table and no spans yet, so the backfill
    finds nothing to do there.
    """
    _latency.backfill(db, models, backend_of(db))


def _add_sessions_rollup(db: pw.Database, models: Models) -> None:
    """Schema 5: lens_sessions and lens_session_traces, the sessions and conversations ``sessions`` lists,
    filled from the stored spans (a store created at this version has no spans yet: nothing to fill)."""
    _sessions_upkeep.backfill(db, models)


def _add_running_spans(db: pw.Database, models: Models) -> None:
    """Schema 6: lens_running (spans still open) and lens_writers (each writing process's heartbeat).

    Every span stored before is ended (lens_spans only ever held finished spans), so there is nothing
    to backfill: both tables start empty.
    """
    db.create_tables([models.running, models.writerbeat], safe=True)


def _add_latency_levels(db: pw.Database, models: Models) -> None:
    """Schema 7: lens_latency_levels, the 6-hour and day sums of the hourly latency rows, built from them."""
    _latency_levels.backfill(db, models, backend_of(db))


def table_columns(db: pw.Database, table: str) -> set[str]:
    """The column names of ``table`` (in the connection's current schema on PostgreSQL, as the store uses)."""
    return backend_of(db).table_columns(db, table)


MIGRATIONS: dict[int, Callable[[pw.Database, Models], None]] = {
    1: _create_tables,
    2: _add_reasoning_tokens,
    3: _add_lossless_export_columns,
    4: _add_latency_rollup,
    5: _add_sessions_rollup,
    6: _add_running_spans,
    7: _add_latency_levels,
}
"""Version → the step that brings a store from version - 1 to it."""


def latest_version() -> int:
    return max(MIGRATIONS)


def read_version(db: pw.Database) -> int:
    """The schema version recorded in ``db`` (0 for a new database)."""
    return backend_of(db).read_version(db)


def refuse_newer(db: pw.Database | None, where: str, version: int | None = None) -> int:
    """The schema version of ``db`` (or ``version`` when given); raises :class:`SchemaTooNew` when it is ahead."""
    if version is None:
        assert db is not None
        version = read_version(db)
    if version > latest_version():
        raise SchemaTooNew(
            f"database {where} has schema version {version}, written by a newer otel-lens "
            f"(this one knows up to {latest_version()}): upgrade otel-lens to use it"
        )
    return version


def ensure_schema(db: pw.Database, where: str) -> None:
    """Bring ``db`` to the latest schema, or refuse it when it is newer than this otel-lens.

    Raises:
        SchemaTooNew: the database was written by a newer otel-lens.
    """
    if refuse_newer(db, where) == latest_version():
        return
    models = models_for(db)
    with backend_of(db).migration_lock(db, models):
        _migrate_locked(db, models, where)


def _migrate_locked(db: pw.Database, models: Models, where: str) -> None:
    version = refuse_newer(db, where)
    backend = backend_of(db)
    for target in range(version + 1, latest_version() + 1):
        MIGRATIONS[target](db, models)
        backend.write_version(db, models, target)
        models.meta.insert(key=f"migrated_to_{target}", value=f"{time.time():.3f} pid={os.getpid()}").on_conflict(
            conflict_target=[models.meta.key], preserve=[models.meta.value]
        ).execute()
