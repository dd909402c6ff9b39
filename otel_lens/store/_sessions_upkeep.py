"""Upkeep of the sessions rollup outside the export path: the retention sweep and migration 5's backfill.

Both compute a session's totals from its members (``lens_session_traces`` joined with ``lens_traces``), the
definition the write path keeps incrementally (:mod:`otel_lens.store._sessions`), so a swept or migrated
store holds exactly the rows live writes would have made for the traces it keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee as pw

from otel_lens.store._sessions import COUNTS, Tokens, add_usage, session_keys, usage_of, zero
from otel_lens.store.rows import ID_CHUNK
from otel_lens.store.schema import Models

_BACKFILL_CHUNK = 20_000  # spans read per statement while migrating
_ROWS_PER_STATEMENT = 100  # keys per INSERT and SELECT (2 parameters each)

_RECOMPUTE = (
    "UPDATE lens_sessions SET "
    "trace_count = (SELECT count(*) FROM lens_session_traces m WHERE m.session_row = lens_sessions.id), "
    "start_ns = COALESCE((SELECT min(t.start_ns) FROM lens_session_traces m JOIN lens_traces t "
    "ON t.trace_id = m.trace_id WHERE m.session_row = lens_sessions.id), 0), "
    "end_ns = COALESCE((SELECT max(t.end_ns) FROM lens_session_traces m JOIN lens_traces t "
    "ON t.trace_id = m.trace_id WHERE m.session_row = lens_sessions.id), 0), "
    "error_count = COALESCE((SELECT sum(t.error_count) FROM lens_session_traces m JOIN lens_traces t "
    "ON t.trace_id = m.trace_id WHERE m.session_row = lens_sessions.id), 0), "
    + ", ".join(
        f"{c} = COALESCE((SELECT sum(m.{c}) FROM lens_session_traces m WHERE m.session_row = lens_sessions.id), 0)"
        for c in COUNTS
    )
)


def _recompute(cursor: Any, p: str, session_rows: Sequence[int]) -> None:
    """Totals of ``session_rows`` again from their members; a session left with none is deleted."""
    for start in range(0, len(session_rows), ID_CHUNK):
        chunk = list(session_rows[start : start + ID_CHUNK])
        marks = ", ".join([p] * len(chunk))
        cursor.execute(f"{_RECOMPUTE} WHERE id IN ({marks})", chunk)
        cursor.execute(f"DELETE FROM lens_sessions WHERE id IN ({marks}) AND trace_count = 0", chunk)


def forget_traces(cursor: Any, p: str, trace_ids: Sequence[bytes]) -> None:
    """The sweeper deleted ``trace_ids`` (in this transaction): drop their memberships and recompute their
    sessions from the members left (bounded by those sessions' sizes)."""
    if not trace_ids:
        return
    marks = ", ".join([p] * len(trace_ids))
    ids = list(trace_ids)
    cursor.execute(f"SELECT DISTINCT session_row FROM lens_session_traces WHERE trace_id IN ({marks})", ids)
    affected = sorted(int(row[0]) for row in cursor.fetchall())
    if not affected:
        return
    cursor.execute(f"DELETE FROM lens_session_traces WHERE trace_id IN ({marks})", ids)
    _recompute(cursor, p, affected)


def session_row_ids(cursor: Any, p: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The lens_sessions row ids of ``keys`` (kind, id), the missing ones created empty."""
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), _ROWS_PER_STATEMENT):
        chunk = keys[start : start + _ROWS_PER_STATEMENT]
        empty = f"({p}, {p}, NULL, 0, 0, 0, 0, {', '.join(['0'] * len(COUNTS))})"
        cursor.execute(
            f"INSERT INTO lens_sessions (kind, session_id, service, trace_count, start_ns, end_ns, error_count, "
            f"{', '.join(COUNTS)}) VALUES {', '.join([empty] * len(chunk))} ON CONFLICT (kind, session_id) DO NOTHING",
            [value for key in chunk for value in key],
        )
        cursor.execute(
            # Both kinds named, so the (kind, session_id) index finds them (session_id alone has none).
            f"SELECT id, kind, session_id FROM lens_sessions WHERE kind IN ('session', 'conversation') "
            f"AND session_id IN ({', '.join([p] * len(chunk))})",
            [session_id for _kind, session_id in chunk],
        )
        wanted = set(chunk)
        for row_id, kind, session_id in cursor.fetchall():
            if (kind, session_id) in wanted:
                found[(kind, session_id)] = int(row_id)
    return found


# -- migration ------------------------------------------------------------------------------------


def backfill(db: pw.Database, models: Models) -> None:
    """Schema 5: create the tables (when missing) and fill them from the stored spans, chunk by chunk.

    Two passes over the spans in id order, memory bounded by a chunk: memberships first (a session key
    may be on any span, after or before the spans with tokens), then each member trace's tokens; the
    totals are then computed from the members, as a sweep recomputes them. Runs inside the migration's
    transaction, so a store is either fully migrated or untouched.
    """
    db.create_tables([models.session, models.sessiontrace], safe=True)
    p = db.param
    cursor = db.cursor()
    after = 0
    while True:  # pass 1: memberships
        cursor.execute(
            f"SELECT s.id, t.trace_id, s.attributes FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row "
            f"WHERE s.id > {p} AND (s.attributes LIKE {p} OR s.attributes LIKE {p}) ORDER BY s.id LIMIT {p}",
            (after, "%session%", "%conversation.id%", _BACKFILL_CHUNK),
        )
        chunk = cursor.fetchall()
        if not chunk:
            break
        after = int(chunk[-1][0])
        # A chunk's distinct memberships in a few statements (a statement per span made migrating a store of
        # 100k session spans take 23 s under the write lock).
        pairs = {(key, bytes(trace_id)) for _id, trace_id, attributes in chunk for key in session_keys(attributes)}
        rows = session_row_ids(cursor, p, sorted({key for key, _trace in pairs}))
        cursor.executemany(
            f"INSERT INTO lens_session_traces (session_row, trace_id, {', '.join(COUNTS)}) "
            f"VALUES ({p}, {p}, 0, 0, 0, 0, 0, 0) ON CONFLICT (session_row, trace_id) DO NOTHING",
            sorted((rows[key], trace_id) for key, trace_id in pairs),
        )
    after = 0
    while True:  # pass 2: the tokens of member traces
        cursor.execute(
            f"SELECT s.id, t.trace_id, s.attributes FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row "
            f"WHERE s.id > {p} AND s.attributes LIKE {p} ORDER BY s.id LIMIT {p}",
            (after, "%token%", _BACKFILL_CHUNK),
        )
        chunk = cursor.fetchall()
        if not chunk:
            break
        after = int(chunk[-1][0])
        per_trace: dict[bytes, Tokens] = {}
        for _id, trace_id, attributes in chunk:
            usage = usage_of(attributes)
            if usage is not None:
                add_usage(per_trace.setdefault(bytes(trace_id), zero()), usage)
        if per_trace:
            cursor.executemany(
                f"UPDATE lens_session_traces SET {', '.join(f'{c} = {c} + {p}' for c in COUNTS)} WHERE trace_id = {p}",
                [(*tokens, trace_id) for trace_id, tokens in per_trace.items()],
            )
    cursor.execute("SELECT id FROM lens_sessions ORDER BY id")
    _recompute(cursor, p, [int(row[0]) for row in cursor.fetchall()])
    cursor.execute(  # the service of the first trace, as a live writer sets it
        "UPDATE lens_sessions SET service = (SELECT t.service FROM lens_session_traces m JOIN lens_traces t "
        "ON t.trace_id = m.trace_id WHERE m.session_row = lens_sessions.id ORDER BY t.start_ns, t.id LIMIT 1)"
    )
