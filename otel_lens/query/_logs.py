"""Log queries: newest first with filters, or everything after an arrival id (``logs --follow``)."""

from __future__ import annotations

from typing import Any

import orjson
import peewee as pw

from otel_lens.query._decode import LOG_FIELDS, Lookups, columns, log_record
from otel_lens.query._filters import like_contains
from otel_lens.query.results import LogRecord
from otel_lens.store.schema import Models

_ESCAPE = "!"


def list_logs(
    models: Models,
    lookups: Lookups,
    *,
    trace_id: bytes | None,
    min_severity: int | None,
    cutoff: int | None,
    search: str | None,
    limit: int | None,
    after_id: int | None = None,
    before: tuple[int, int] | None = None,
    ids: list[int] | None = None,
) -> list[LogRecord]:
    """Log records matching every filter: newest first, or in arrival order after ``after_id``.

    ``before`` is a (timestamp_ns, id) key: only records after it, newest first (keyset paging);
    ``ids`` keeps only these arrival ids (what the live feed found new).
    """
    log: Any = models.log
    query = log.select(*columns(log, LOG_FIELDS))
    if trace_id is not None:
        query = query.where(log.trace_id == trace_id)
    if min_severity is not None:
        query = query.where(log.severity_number >= min_severity)
    if cutoff is not None:
        query = query.where(log.timestamp_ns >= cutoff)
    if search:
        # Case-insensitive on both dialects (SQLite's LIKE folds ASCII only, PostgreSQL's folds nothing),
        # the user's own % and _ matched literally. Bodies and attributes are stored as JSON text: search
        # for the text as JSON writes it (quotes, backslashes and control characters escaped), so
        # `said "hi"` or `C:\Users` find what they should; the event name is plain text.
        # Cost: one more LIKE per record whose body did not match (attributes are usually short or NULL).
        as_json = like_contains(orjson.dumps(search.lower()).decode()[1:-1], _ESCAPE)
        plain = like_contains(search.lower(), _ESCAPE)

        def contains(column: Any, pattern: str) -> Any:
            return pw.NodeList((pw.fn.LOWER(column), pw.SQL("LIKE"), pattern, pw.SQL(f"ESCAPE '{_ESCAPE}'")))

        query = query.where(
            contains(log.body, as_json) | contains(log.attributes, as_json) | contains(log.event_name, plain)
        )
    if ids is not None:
        query = query.where(log.id.in_(ids))
    if before is not None:
        stamp, row_id = before
        query = query.where((log.timestamp_ns < stamp) | ((log.timestamp_ns == stamp) & (log.id < row_id)))
    if after_id is not None or ids is not None:
        if after_id is not None:
            query = query.where(log.id > after_id)
        query = query.order_by(log.id)
    else:
        query = query.order_by(log.timestamp_ns.desc(), log.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = list(query.tuples())
    lookups.load(models, (r[-2] for r in rows), (r[-1] for r in rows))
    return [log_record(row, lookups) for row in rows]


def last_log_id(models: Models) -> int:
    log: Any = models.log
    return int(log.select(pw.fn.MAX(log.id)).scalar() or 0)
