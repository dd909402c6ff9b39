"""The PostgreSQL backend: psycopg 3, bounded row-lock waits, one-statement batches, an advisory sweep lock.

The statement forms, NUL cleaning, error texts and size estimates are in :mod:`otel_lens.store._postgres`;
this module is what the store asks: opening (and reconnecting), BEGIN, the batch inserts, the sweep
lock, the size, the schema version.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import peewee as pw

from otel_lens._redact import Redactor
from otel_lens._redact_urls import database_label, hide_url_secrets, url_secrets
from otel_lens.store import _postgres
from otel_lens.store._backends._base import Backend, Locked, Space, Statements, TableRows, TraceDeltas
from otel_lens.store._backends._postgres_space import PostgresSpace
from otel_lens.store._histogram import merge_stored
from otel_lens.store.errors import ConnectionLost, StoreError, first_line, one_line
from otel_lens.store.rows import SPAN_SPAN_ID, SPAN_STATUS, STATUS_ERROR, TABLE_TRACE_ROW, USAGE_KEY_COLUMNS, SpanRow
from otel_lens.store.schema import models_for

if TYPE_CHECKING:
    from otel_lens.store.database import Location
    from otel_lens.store.schema import Models

PG_CONNECT_TIMEOUT_S = 10.0
_SWEEP_LOCK_KEY = 0x4C454E54
_MIGRATION_LOCK_KEY = 0x4C454E53  # the advisory lock that serializes migrations


class PostgresBackend(Backend):
    kind = "postgresql"
    database_class = pw.PostgresqlDatabase
    sorted_interning = True  # new resources in digest order, so concurrent writers lock them in the same order

    @classmethod
    def claims(cls, text: str) -> str | None:
        return text if text.startswith(("postgresql://", "postgres://")) else None

    @classmethod
    def label(cls, target: str) -> str:
        return database_label(target)  # never raises, even on a URL whose password breaks urlsplit

    # -- opening ---------------------------------------------------------------------------------

    def open_for_writing(self, location: Location, busy_wait_s: float) -> pw.Database:
        from otel_lens.store.migrations import ensure_schema  # migrations ask backends: import late

        db = open_postgres(location)
        try:
            db.connect()
            _postgres.require_schema(db, str(location))
            ensure_schema(db, str(location))
        except StoreError:
            db.close()
            raise
        except Exception as exc:
            with contextlib.suppress(Exception):
                db.close()
            raise StoreError(f"cannot open database {location}: {one_line(exc)}") from None
        return db

    def open_for_reading(self, location: Location) -> pw.Database | None:
        db = open_postgres(location)
        # Belt and braces: the server itself refuses writes on this session, and on every session a
        # reconnect (reconnect_if_lost) opens in its place.
        db.read_only_sessions = True
        try:
            db.connect()
        except Exception as exc:
            raise StoreError(f"cannot connect to database {location}: {first_line(exc)}") from None
        try:
            _postgres.require_schema(db, str(location))  # else "no otel-lens tables yet" would hide a misspelt schema
        except StoreError:
            db.close()
            raise
        return db

    def reconnect_if_lost(self, db: pw.Database, where: str, force: bool = False) -> bool:
        if not force and (db.is_closed() or db.is_connection_usable()):
            return False
        with contextlib.suppress(Exception):
            db.close()
        db._state.reset()  # type: ignore[attr-defined]  # a failed close() leaves it half-open
        try:
            db.connect()
        except Exception as exc:
            raise StoreError(f"cannot reconnect to database {where}: {one_line(exc)}") from None
        return True

    def is_driver_error(self, exc: BaseException) -> bool:
        return super().is_driver_error(exc) or type(exc).__module__.startswith("psycopg")

    # -- transactions ----------------------------------------------------------------------------

    def begin(self, cursor: Any, deadline: float) -> None:
        # Row locks wait without a busy timeout on PostgreSQL: bound the whole transaction instead.
        try:
            cursor.execute(f"BEGIN; {_postgres.statement_timeout_sql(deadline - time.monotonic())}")
        except Exception as exc:  # typically the first sign of a dropped connection
            if _postgres.is_connection_lost(exc):  # nothing written yet: the caller may reconnect and retry
                raise ConnectionLost(str(self.write_error(exc, self.where))) from exc
            raise self.write_error(exc, self.where) from exc

    def write_error(self, exc: BaseException, where: str) -> StoreError:
        return _postgres.translate(exc, where) or StoreError(
            f"writing to database {where} failed: {type(exc).__name__}: {one_line(exc)}"
        )

    # -- batch statements --------------------------------------------------------------------------

    def prepare(self, db: pw.Database, statements: Statements) -> None:
        """One-statement forms of the batch statements (see :mod:`otel_lens.store._postgres`)."""
        super().prepare(db, statements)
        models = models_for(db)
        self._span_types = _postgres.column_types(models.span, statements.span_columns)
        self._log_types = _postgres.column_types(models.log, statements.log_columns)
        self._trace_types = _postgres.column_types(models.trace, statements.trace_columns)
        self._usage_types = _postgres.column_types(models.usage, statements.usage_columns)
        unnest = _postgres.unnest_form
        self._insert_spans = unnest(statements.insert_spans, self._span_types) + " RETURNING trace_row, span_id"
        self._insert_logs = unnest(statements.insert_logs, self._log_types)
        self._upsert_traces = unnest(statements.upsert_traces, self._trace_types) + " RETURNING trace_id, id"
        self._upsert_usage = unnest(statements.upsert_usage, self._usage_types)

    def clean_row(self, values: Iterable[Any]) -> tuple[Any, ...]:
        return _postgres.clean_row(values)

    @staticmethod
    def joined_integers(column: str) -> str:
        return f"string_agg(CAST({column} AS TEXT), ',')"

    ids_commit_in_order = False  # BIGSERIAL ids are drawn before commit; concurrent writers commit out of order

    def commit_snapshot(self, db: pw.Database) -> tuple[int, int] | None:
        """Ids are drawn before commit, so concurrent writers commit them out of order: readers need this."""
        row = db.execute_sql(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint FROM pg_current_snapshot() s"
        ).fetchone()
        return int(row[0]), int(row[1])

    def insert_spans(
        self, cursor: Any, rows: Sequence[SpanRow], deltas_of: TraceDeltas, table_rows_of: TableRows
    ) -> list[int] | None:
        """Two statements: the trace upsert returns the row ids, the span insert returns what was new,
        and duplicates' counts are taken back out of the rollups."""
        _bulk(cursor, self._upsert_traces, deltas_of(rows), self._trace_types)
        trace_rows = {bytes(trace_id): int(row_id) for trace_id, row_id in cursor.fetchall()}
        table_rows = table_rows_of(rows, trace_rows)
        _bulk(cursor, self._insert_spans, table_rows, self._span_types, key=2)
        new = {(int(trace_row), bytes(span_id)) for trace_row, span_id in cursor.fetchall()}
        if len(new) == len(rows):
            return None
        indexes = []
        for index, row in enumerate(table_rows):
            ident = (row[TABLE_TRACE_ROW], bytes(row[SPAN_SPAN_ID]))
            if ident in new:
                new.discard(ident)  # a span twice in one batch counts once
                indexes.append(index)
        kept = set(indexes)
        over: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])
        for index, row in enumerate(table_rows):
            if index not in kept:
                over[row[TABLE_TRACE_ROW]][0] += 1
                over[row[TABLE_TRACE_ROW]][1] += 1 if row[SPAN_STATUS] == STATUS_ERROR else 0
        cursor.executemany(
            "UPDATE lens_traces SET span_count = span_count - %s, error_count = error_count - %s WHERE id = %s",
            [(spans, errors, trace_row) for trace_row, (spans, errors) in sorted(over.items())],
        )
        return indexes

    def insert_logs(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> int:
        _bulk(cursor, self._insert_logs, rows, self._log_types)
        return int(cursor.rowcount)

    latency_histogram_merge = "l.histogram"  # merged in Python, from the row the upsert locks and returns

    def prepare_latency(
        self, db: pw.Database, upsert: str, columns: Sequence[str], table: str = "lens_latency", key: int = 4
    ) -> None:
        model = next(model for model in models_for(db).all() if model._meta.table_name == table)
        types = _postgres.column_types(model, columns)
        keys = ", ".join(columns[:key])  # the primary key, also the lock order
        self._latency_forms: dict[str, tuple[list[str], int, str, str]] = getattr(self, "_latency_forms", {})
        self._latency_forms[table] = (
            types,
            key,
            _postgres.unnest_form(upsert, types) + f" RETURNING {keys}, histogram, (xmax = 0)",
            f"UPDATE {table} AS l SET histogram = v.histogram FROM unnest(%b::bytea[], "
            + ", ".join(f"%b::{kind}[]" for kind in types[:key])
            + f") AS v(histogram, {keys}) WHERE "
            + " AND ".join(f"l.{column} = v.{column}" for column in columns[:key]),
        )

    def upsert_latency(self, cursor: Any, deltas: Sequence[Sequence[Any]], table: str = "lens_latency") -> None:
        if not deltas:
            return
        types, key, upsert, update = self._latency_forms[table]
        ordered = sorted(deltas, key=lambda delta: tuple(delta[:key]))  # one lock order for concurrent writers
        cursor.execute(upsert, _postgres.as_columns(ordered, types))
        # Rows that existed kept their histogram (and are locked now): add the delta to it. The keys come
        # back as stored (NULs in text replaced, as as_columns sent them).
        sent = {tuple(_postgres.clean_text(value) for value in d[:key]): d[-1] for d in ordered}
        merged = [
            (merge_stored(bytes(found[key]), sent[tuple(found[:key])]), *found[:key])
            for found in cursor.fetchall()
            if not found[-1]
        ]
        if merged:  # one statement, however many rows existed
            cursor.execute(update, [list(column) for column in zip(*merged, strict=True)])

    def row_lock(self, exclusive: bool) -> str:
        return " FOR UPDATE" if exclusive else " FOR SHARE"

    def upsert_usage(self, cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
        _bulk(cursor, self._upsert_usage, rows, self._usage_types, key=USAGE_KEY_COLUMNS)

    # -- retention ---------------------------------------------------------------------------------

    def try_sweep_lock(self, location: Location, locked: Locked, where: str) -> bool:
        with locked() as conn:
            try:
                cursor = conn.cursor()
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (_SWEEP_LOCK_KEY,))
                return bool(cursor.fetchone()[0])
            except Exception as exc:  # e.g. a dropped connection: the next pass reconnects
                raise self.write_error(exc, where) from None

    def release_sweep_lock(self, locked: Locked) -> None:
        with contextlib.suppress(StoreError), locked() as conn:
            conn.cursor().execute("SELECT pg_advisory_unlock(%s)", (_SWEEP_LOCK_KEY,))

    def space(self, location: Location, locked: Locked, transaction: Locked) -> Space:
        return PostgresSpace(location, locked, transaction)

    # -- schema --------------------------------------------------------------------------------

    def read_version(self, db: pw.Database) -> int:
        if not db.table_exists("lens_meta"):
            return 0
        row = db.execute_sql("SELECT value FROM lens_meta WHERE key = %s", ("schema_version",)).fetchone()
        return int(row[0]) if row else 0

    def write_version(self, db: pw.Database, models: Models, version: int) -> None:
        models.meta.insert(key="schema_version", value=str(version)).on_conflict(
            conflict_target=[models.meta.key], preserve=[models.meta.value]
        ).execute()

    @contextlib.contextmanager
    def migration_lock(self, db: pw.Database, models: Models) -> Iterator[None]:
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
            db.create_tables([models.meta], safe=True)
            yield

    def table_columns(self, db: pw.Database, table: str) -> set[str]:
        """In the connection's current schema, as the store uses."""
        cursor = db.execute_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s",
            (table,),
        )
        return {str(row[0]) for row in cursor.fetchall()}


def _bulk(cursor: Any, sql: str, rows: Sequence[Sequence[Any]], types: Sequence[str], key: int = 1) -> None:
    """Run a one-statement batch: rows sorted by their first ``key`` columns (lock order), as column arrays."""
    ordered = sorted(rows, key=lambda row: tuple(row[:key]))
    cursor.execute(sql, _postgres.as_columns(ordered, types))


def open_postgres(location: Location) -> _PostgresqlDatabase:
    """A Peewee PostgreSQL database for ``location`` on psycopg 3 (the ``postgres`` extra); opened lazily.

    The URL goes to libpq as given, so its query options (``sslmode``, ``options``, …) apply.

    Raises:
        StoreError: the driver is missing (names the extra to install).
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreError(
            f"database {location} is PostgreSQL, which needs its driver ({exc}): pip install 'psycopg[binary]' "
            "(the postgres extra)"
        ) from None
    url = location.target
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    query = parse_qs(urlsplit(url).query)
    params: dict[str, Any] = {}
    if "connect_timeout" not in query:
        params["connect_timeout"] = int(PG_CONNECT_TIMEOUT_S)  # a dead host must not hang an export forever
    if "application_name" not in query:
        params["application_name"] = "otel-lens"
    # prefer_psycopg3: peewee picks psycopg2 when both drivers are installed; the writer relies on psycopg 3.
    db = _PostgresqlDatabase(url, prefer_psycopg3=True, thread_safe=False, **params)
    db.url_secrets = tuple(url_secrets(url, _default_redactor().is_sensitive))
    return db


class _PostgresqlDatabase(pw.PostgresqlDatabase):
    """Peewee's PostgreSQL database whose connection errors never quote the URL's password.

    libpq echoes parts of a URL it cannot parse (``invalid percent-encoded token: "<password>"``,
    ``unexpected character … in URI: "<the whole URL>"``); every message otel-lens builds from a
    driver error would repeat it. The secrets are cut out of the error itself, once, here.
    """

    url_secrets: tuple[str, ...] = ()
    read_only_sessions = False  # a reader's connection: every session it opens refuses writes

    def _initialize_connection(self, conn: Any) -> None:
        # Peewee calls this on each connect, so a reconnected reader is as read-only as the first session.
        if self.read_only_sessions:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            conn.commit()

    def _connect(self) -> Any:
        try:
            return super()._connect()  # type: ignore[misc]  # peewee has no stubs for it
        except Exception as exc:
            exc.args = tuple(
                hide_url_secrets(arg, self.url_secrets) if isinstance(arg, str) else arg for arg in exc.args
            )
            raise


@functools.cache
def _default_redactor() -> Redactor:
    return Redactor()
