"""The sessions rollup kept in the export transaction: which traces belong to which session or conversation,
and each one's totals (traces, time span, errors, GenAI tokens).

A trace belongs to a session when any of its spans carries one of :data:`SESSION_KEYS` (OTel's
``session.id``, also what OpenInference and Langfuse set; Langfuse's own ``langfuse.session.id``), and to
a conversation when one carries ``gen_ai.conversation.id``; one trace can be in a session and in several
conversations. (OpenLLMetry's ``traceloop.association.properties.session_id`` ends in ``session_id``, a
secret key by the redaction rule: its value is stored as ``[REDACTED]``, so it cannot group anything.)

Membership rows (``lens_session_traces``) are inserted once, so a re-exported span never counts its
trace twice. Per batch, from the spans actually inserted:

- a trace joining a session adds its whole rollup so far (``lens_traces`` already holds this batch) and
  its GenAI tokens (this batch's when all its spans are in it, else read once from its stored spans);
- a trace already in a session adds this batch's spans only (errors, tokens; the time bounds widen).

So totals are exact whatever order a trace's spans arrive in. A retention sweep deletes the members of
swept traces and recomputes their sessions from the members left, and migration 5 fills both tables from
the stored spans in bounded chunks (both in :mod:`otel_lens.store._sessions_upkeep`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import peewee as pw

from otel_lens._genai_usage import USAGE_KEYS, genai_usage
from otel_lens.store.codec import loads
from otel_lens.store.rows import (
    ID_CHUNK,
    SPAN_COLUMNS,
    SPAN_DURATION,
    SPAN_START,
    SPAN_STATUS,
    SPAN_TRACE_ID,
    STATUS_ERROR,
    GenAIUsage,
)

SESSION_KEYS: Mapping[str, str] = {
    "session.id": "session",
    "langfuse.session.id": "session",
    "gen_ai.conversation.id": "conversation",
}
"""Span attribute → the kind of grouping it names."""
MAX_ID = 1024
"""Longer ids are not grouped (a hostile or accidental value must not make unbounded keys)."""
COUNTS = ("genai_count", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
           "reasoning_tokens")  # fmt: skip
_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_ROWS_PER_STATEMENT = 100  # rows of one multi-row INSERT (8 parameters each: far under any parameter limit)
_MAX_NS = 2**63 - 1

Tokens = list[int]
"""A trace's GenAI counts in :data:`COUNTS` order."""


def zero() -> Tokens:
    return [0, 0, 0, 0, 0, 0]


def add_usage(total: Tokens, usage: GenAIUsage) -> None:
    total[0] += 1
    total[1] += usage.input_tokens
    total[2] += usage.output_tokens
    total[3] += usage.cache_read_tokens
    total[4] += usage.cache_creation_tokens
    total[5] += usage.reasoning_tokens


def session_keys(attributes: str | None) -> list[tuple[str, str]]:
    """The (kind, id) pairs one span's stored attribute text names; cheap for the spans that name none."""
    # A substring test first: nearly every span has no session key, and ``in`` on the text costs far less
    # than decoding it. The decode then checks the key really is a top-level attribute.
    if not attributes or ("session" not in attributes and "conversation.id" not in attributes):
        return []
    try:
        decoded = orjson.loads(attributes)  # not codec.loads: a tagged value is a map, which names no session
    except orjson.JSONDecodeError:
        return []
    if not isinstance(decoded, dict):
        return []
    found = []
    for key, kind in SESSION_KEYS.items():
        value = decoded.get(key)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            continue  # lists, maps, floats and null name no session
        text = str(value).strip()
        if text and len(text) <= MAX_ID:
            found.append((kind, text))
    return found


class _TraceDelta:
    """What this batch's spans add to one trace: time bounds, errors, spans, tokens."""

    __slots__ = ("end", "errors", "spans", "start", "tokens")

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end, self.errors, self.spans, self.tokens = start, end, 0, 0, zero()


def apply(
    cursor: Any,
    db: pw.Database,
    rows: Sequence[Sequence[Any]],
    genai: Mapping[int, GenAIUsage],
    services: Sequence[str | None],
) -> None:
    """Merge the spans ``rows`` (just inserted, in this transaction) into the sessions rollup.

    ``genai`` maps an index of ``rows`` to that span's usage; ``services`` are the batch's service names
    by resource index. A handful of statements per batch, not per trace: the memberships found by one
    lookup, the new ones inserted by one statement per chunk, one UPDATE per session touched.
    """
    del services  # a session's service is its earliest trace's root service, read from lens_traces
    p = db.param
    joined: dict[tuple[str, str], set[bytes]] = {}
    batch_traces: set[bytes] = set()
    for row in rows:
        trace_id = row[SPAN_TRACE_ID]
        batch_traces.add(trace_id)
        attributes = row[_ATTRIBUTES]
        if attributes and ("session" in attributes or "conversation.id" in attributes):
            for key in session_keys(attributes):
                joined.setdefault(key, set()).add(bytes(trace_id))
    members = _members(cursor, p, batch_traces)
    if not joined and not members:
        return
    deltas = _deltas(rows, genai, set(members) | {t for traces in joined.values() for t in traces})
    totals: dict[int, _Totals] = {}
    token_updates: list[tuple[Any, ...]] = []
    for trace_id, session_rows in members.items():  # traces already in a session: this batch's spans only
        for session_row in session_rows:
            _merge_delta(totals, token_updates, session_row, trace_id, deltas[trace_id])
    candidates = [
        (session_row, trace_id)
        for key, session_row in session_row_ids(cursor, p, sorted(joined)).items()
        for trace_id in sorted(joined[key])
        if session_row not in members.get(trace_id, ())
    ]
    if candidates:
        _join(cursor, p, candidates, deltas, totals, token_updates)
    if token_updates:
        cursor.executemany(
            f"UPDATE lens_session_traces SET {', '.join(f'{c} = {c} + {p}' for c in COUNTS)} "
            f"WHERE session_row = {p} AND trace_id = {p}",
            token_updates,
        )
    for session_row in sorted(totals):  # in row order: concurrent writers lock sessions in one order
        t = totals[session_row]
        cursor.execute(
            f"UPDATE lens_sessions SET "
            f"service = CASE WHEN {p} = 1 AND (trace_count = 0 OR {p} < start_ns) THEN {p} ELSE service END, "
            f"start_ns = CASE WHEN trace_count = 0 OR {p} < start_ns THEN {p} ELSE start_ns END, "
            f"end_ns = CASE WHEN trace_count = 0 OR {p} > end_ns THEN {p} ELSE end_ns END, "
            f"trace_count = trace_count + {p}, error_count = error_count + {p}, "
            f"{', '.join(f'{c} = {c} + {p}' for c in COUNTS)} WHERE id = {p}",
            (1 if t.traces else 0, t.first_start, t.service, t.start, t.start, t.end, t.end, t.traces, t.errors,
             *t.tokens, session_row),
        )  # fmt: skip


class _Totals:
    """What one batch adds to one session: traces joined, time bounds, errors, tokens; the earliest joined
    trace's service and start (the session's service is its earliest trace's)."""

    __slots__ = ("end", "errors", "first_start", "service", "start", "tokens", "traces")

    def __init__(self) -> None:
        self.traces, self.start, self.end, self.errors, self.tokens = 0, _MAX_NS, -1, 0, zero()
        self.first_start, self.service = _MAX_NS, None

    def widen(self, start: int, end: int, errors: int, tokens: Tokens) -> None:
        self.start, self.end = min(self.start, start), max(self.end, end)
        self.errors += errors
        for index, count in enumerate(tokens):
            self.tokens[index] += count


def _members(cursor: Any, p: str, trace_ids: set[bytes]) -> dict[bytes, set[int]]:
    """The sessions (row ids) the batch's traces already belong to."""
    members: dict[bytes, set[int]] = {}
    cursor.execute("SELECT 1 FROM lens_session_traces LIMIT 1")
    if cursor.fetchone() is None:  # an empty table (most stores) needs no lookup per batch
        return members
    wanted = sorted(bytes(t) for t in trace_ids)
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start : start + ID_CHUNK]
        cursor.execute(
            f"SELECT trace_id, session_row FROM lens_session_traces WHERE trace_id IN ({', '.join([p] * len(chunk))})",
            chunk,
        )
        for trace_id, session_row in cursor.fetchall():
            members.setdefault(bytes(trace_id), set()).add(int(session_row))
    return members


def _merge_delta(
    totals: dict[int, _Totals], token_updates: list[tuple[Any, ...]], session_row: int, trace_id: bytes,
    delta: _TraceDelta,
) -> None:  # fmt: skip
    totals.setdefault(session_row, _Totals()).widen(delta.start, delta.end, delta.errors, delta.tokens)
    if any(delta.tokens):
        token_updates.append((*delta.tokens, session_row, trace_id))


def _deltas(
    rows: Sequence[Sequence[Any]], genai: Mapping[int, GenAIUsage], wanted: set[bytes]
) -> dict[bytes, _TraceDelta]:
    found: dict[bytes, _TraceDelta] = {}
    for index, row in enumerate(rows):
        trace_id = row[SPAN_TRACE_ID]
        if trace_id not in wanted:
            continue
        start = row[SPAN_START]
        end = start + row[SPAN_DURATION]
        delta = found.get(trace_id)
        if delta is None:
            delta = found[trace_id] = _TraceDelta(start, end)
        elif start < delta.start:
            delta.start = start
        if end > delta.end:
            delta.end = end
        delta.spans += 1
        if row[SPAN_STATUS] == STATUS_ERROR:
            delta.errors += 1
        if index in genai:
            add_usage(delta.tokens, genai[index])
    return found


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


def _join(
    cursor: Any,
    p: str,
    candidates: Sequence[tuple[int, bytes]],
    deltas: Mapping[bytes, _TraceDelta],
    totals: dict[int, _Totals],
    token_updates: list[tuple[Any, ...]],
) -> None:
    """Traces joining sessions: each membership once, and the trace's whole rollup so far into the totals."""
    traces: dict[bytes, tuple[Any, ...]] = {}
    wanted = sorted({trace_id for _row, trace_id in candidates})
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start : start + ID_CHUNK]
        cursor.execute(
            "SELECT trace_id, id, service, start_ns, end_ns, error_count, span_count FROM lens_traces "
            f"WHERE trace_id IN ({', '.join([p] * len(chunk))})",
            chunk,
        )
        traces.update((bytes(row[0]), tuple(row[1:])) for row in cursor.fetchall())
    tokens: dict[bytes, Tokens] = {}
    for trace_id in wanted:
        trace_row, _service, _start, _end, _errors, span_count = traces[trace_id]
        delta = deltas[trace_id]
        # All the trace's spans in this batch: its tokens are the batch's. Otherwise read its stored spans once.
        tokens[trace_id] = delta.tokens if int(span_count) == delta.spans else _stored_tokens(cursor, p, int(trace_row))
    inserted: set[tuple[int, bytes]] = set()
    marks = f"({', '.join([p] * (2 + len(COUNTS)))})"
    for start in range(0, len(candidates), _ROWS_PER_STATEMENT):
        part = candidates[start : start + _ROWS_PER_STATEMENT]
        cursor.execute(
            f"INSERT INTO lens_session_traces (session_row, trace_id, {', '.join(COUNTS)}) "
            f"VALUES {', '.join([marks] * len(part))} ON CONFLICT (session_row, trace_id) DO NOTHING "
            "RETURNING session_row, trace_id",
            [value for row, trace_id in part for value in (row, trace_id, *tokens[trace_id])],
        )
        inserted.update((int(row), bytes(trace_id)) for row, trace_id in cursor.fetchall())
    for session_row, trace_id in candidates:
        if (session_row, trace_id) not in inserted:  # another writer made it a member meanwhile: this batch only
            _merge_delta(totals, token_updates, session_row, trace_id, deltas[trace_id])
            continue
        _trace_row, service, start_ns, end_ns, errors, _spans = traces[trace_id]
        total = totals.setdefault(session_row, _Totals())
        total.traces += 1
        total.widen(int(start_ns), int(end_ns), int(errors), tokens[trace_id])
        if int(start_ns) < total.first_start:
            total.first_start, total.service = int(start_ns), service


def _stored_tokens(cursor: Any, p: str, trace_row: int) -> Tokens:
    """A trace's GenAI counts from its stored spans (those whose attributes could hold usage, decoded)."""
    total = zero()
    cursor.execute(
        f"SELECT attributes FROM lens_spans WHERE trace_row = {p} AND attributes LIKE {p}", (trace_row, "%token%")
    )
    for (text,) in cursor.fetchall():
        usage = usage_of(text)
        if usage is not None:
            add_usage(total, usage)
    return total


def usage_of(text: str | None) -> GenAIUsage | None:
    """A stored span's GenAI usage by the row builder's rule (the same keys, the same reader)."""
    attributes = loads(text)
    if not isinstance(attributes, dict) or attributes.keys().isdisjoint(USAGE_KEYS):
        return None
    return genai_usage(attributes)
