"""Schema versions and their migrations, applied exactly once even when processes start together.

SQLite keeps the version in ``PRAGMA user_version`` (and :data:`~otel_lens.store.database.APPLICATION_ID`
in the header); PostgreSQL in the ``lens_meta`` table. Each migration runs inside the write lock
(``BEGIN IMMEDIATE`` / an advisory transaction lock) after re-reading the version, so a second
process that waited for the lock finds the work done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import peewee as pw

from otel_lens.store import _latency
from otel_lens.store.database import APPLICATION_ID
from otel_lens.store.errors import SchemaTooNew
from otel_lens.store.rows import SCHEMA_3_COLUMNS
from otel_lens.store.schema import Models, models_for

_PG_LOCK_KEY = 0x4C454E53  # the advisory lock that serializes migrations on PostgreSQL


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
    _latency.backfill(db, models)


def table_columns(db: pw.Database, table: str) -> set[str]:
    """The column names of ``table`` (in the connection's current schema on PostgreSQL, as the store uses)."""
    if is_postgres(db):
        cursor = db.execute_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s",
            (table,),
        )
    else:
        cursor = db.execute_sql(f'PRAGMA table_info("{table}")')
        return {str(row[1]) for row in cursor.fetchall()}
    return {str(row[0]) for row in cursor.fetchall()}


MIGRATIONS: dict[int, Callable[[pw.Database, Models], None]] = {
    1: _create_tables,
    2: _add_reasoning_tokens,
    3: _add_lossless_export_columns,
    4: _add_latency_rollup,
}
"""Version → the step that brings a store from version - 1 to it."""


def latest_version() -> int:
    return max(MIGRATIONS)


def is_postgres(db: pw.Database) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


def read_version(db: pw.Database) -> int:
    """The schema version recorded in ``db`` (0 for a new database)."""
    if is_postgres(db):
        if not db.table_exists("lens_meta"):
            return 0
        row = db.execute_sql("SELECT value FROM lens_meta WHERE key = %s", ("schema_version",)).fetchone()
        return int(row[0]) if row else 0
    return int(db.execute_sql("PRAGMA user_version").fetchone()[0])


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
    if is_postgres(db):
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
            db.create_tables([models.meta], safe=True)
            _migrate_locked(db, models, where)
        return
    _make_vacuum_incremental(db)
    with db.atomic(lock_type="IMMEDIATE"):
        _migrate_locked(db, models, where)


def _make_vacuum_incremental(db: pw.Database) -> None:
    """Give an adopted empty SQLite file (e.g. made with journal_mode=WAL) incremental auto-vacuum.

    The pragma only takes effect before the first table, or through a VACUUM, which costs nothing on
    an empty file. Without it, deleted rows could never be given back to the file system.
    """
    if db.execute_sql("PRAGMA auto_vacuum").fetchone()[0] == 2:
        return
    if db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        return
    db.execute_sql("PRAGMA auto_vacuum = INCREMENTAL")
    db.execute_sql("VACUUM")


def _migrate_locked(db: pw.Database, models: Models, where: str) -> None:
    version = refuse_newer(db, where)
    for target in range(version + 1, latest_version() + 1):
        MIGRATIONS[target](db, models)
        _write_version(db, models, target)
        models.meta.insert(key=f"migrated_to_{target}", value=f"{time.time():.3f} pid={os.getpid()}").on_conflict(
            conflict_target=[models.meta.key], preserve=[models.meta.value]
        ).execute()


def _write_version(db: pw.Database, models: Models, version: int) -> None:
    if is_postgres(db):
        models.meta.insert(key="schema_version", value=str(version)).on_conflict(
            conflict_target=[models.meta.key], preserve=[models.meta.value]
        ).execute()
        return
    db.execute_sql(f"PRAGMA user_version = {int(version)}")
    db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")
