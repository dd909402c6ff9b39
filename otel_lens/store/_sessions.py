"""The sessions rollup kept in the export transaction: which traces belong to which session or conversation,
and each one's totals (traces, time span, errors, GenAI tokens).

A trace belongs to a session when any of its spans carries one of :data:`~otel_lens._session_keys.SESSION_KEYS` (OTel's
``session.id``, also what OpenInference and Langfuse set; Langfuse's own ``langfuse.session.id``), and to
a conversation when one carries ``gen_ai.conversation.id``; one trace can be in a session and in several
conversations. (OpenLLMetry's ``traceloop.association.properties.session_id`` ends in ``session_id``, a
secret key by the redaction rule: its value is stored as ``[REDACTED]``, so it cannot group anything.)

Membership rows (``lens_session_traces``) are inserted once, so a re-exported span never counts its
trace twice. Per batch, from the spans actually inserted:

- a trace joining a session adds its whole rollup so far (``lens_traces`` already holds this batch) and
  its GenAI tokens (this batch's when all its spans are in it, a membership row's plus this batch's when it
  is in another session already, else read once from its stored spans);
- a trace already in a session adds this batch's spans only (errors, tokens; the time bounds widen);
- the session's service becomes that of the trace whose contribution starts earliest, when it starts before
  the session (so a root arriving after its children still names it).

So totals are exact whatever order a trace's spans arrive in. The row builder reads the keys from the
attribute dicts (``EncodedBatch.sessions``), so no stored text is decoded here; the cost when every trace is
in a session is measured by ``benchmarks/bench_sessions_write.py``. A retention sweep deletes the members of
swept traces and recomputes their sessions from the members left, and migration 5 fills both tables from
the stored spans in bounded chunks (both in :mod:`otel_lens.store._sessions_upkeep`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import peewee as pw

from otel_lens._genai_usage import USAGE_KEYS, genai_usage
from otel_lens._session_keys import SessionKey, keys_of_text
from otel_lens.store.codec import loads
from otel_lens.store.rows import ID_CHUNK, SPAN_COLUMNS, SPAN_TRACE_ID, TRACE_DELTA_COLUMNS, GenAIUsage

COUNTS = ("genai_count", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
           "reasoning_tokens")  # fmt: skip
_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_ROWS_PER_STATEMENT = 100  # rows of one multi-row INSERT (8 parameters each: far under any parameter limit)
_SESSIONS_PER_STATEMENT = 64  # rows of one sessions upsert (13 parameters each)
_MAX_NS = 2**63 - 1
_TRACE_ID, _START, _END, _SPANS, _ERRORS = (TRACE_DELTA_COLUMNS.index(c) for c in
                                            ("trace_id", "start_ns", "end_ns", "span_count", "error_count"))  # fmt: skip
_UPSERT = (
    "INSERT INTO lens_sessions AS s (kind, session_id, service, trace_count, start_ns, end_ns, error_count, "
    f"{', '.join(COUNTS)})"
)
# The earliest contribution names the service when it starts before the session (or the session is new).
_ON_CONFLICT = (
    "ON CONFLICT (kind, session_id) DO UPDATE SET "
    "service = CASE WHEN s.trace_count = 0 OR excluded.start_ns < s.start_ns THEN excluded.service ELSE s.service END, "
    "start_ns = CASE WHEN s.trace_count = 0 OR excluded.start_ns < s.start_ns THEN excluded.start_ns ELSE s.start_ns END, "
    "end_ns = CASE WHEN s.trace_count = 0 OR excluded.end_ns > s.end_ns THEN excluded.end_ns ELSE s.end_ns END, "
    "trace_count = s.trace_count + excluded.trace_count, error_count = s.error_count + excluded.error_count, "
    + ", ".join(f"{c} = s.{c} + excluded.{c}" for c in COUNTS)
    + " RETURNING id, kind, session_id"
)

Tokens = list[int]
"""GenAI counts in :data:`COUNTS` order (model calls, then tokens): a trace's, a session's, a usage bucket's."""


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
    """The (kind, id) pairs one span's stored attribute text names (see :mod:`otel_lens._session_keys`)."""
    return keys_of_text(attributes)


class _Totals:
    """What one batch adds to one session: traces joined, time bounds, errors, tokens, and the service of the
    trace whose contribution starts earliest (it becomes the session's when it starts before the session)."""

    __slots__ = ("end", "errors", "first", "service", "start", "tokens", "traces")

    def __init__(self) -> None:
        self.traces, self.start, self.end, self.errors, self.tokens = 0, _MAX_NS, -1, 0, zero()
        self.first: tuple[int, int] = (_MAX_NS, 0)  # (start, lens_traces.id) of the earliest contribution
        self.service: str | None = None

    def add(self, start: int, end: int, errors: int, tokens: Tokens, trace: _Trace) -> None:
        if start < self.start:
            self.start = start
        if end > self.end:
            self.end = end
        self.errors += errors
        if any(tokens):
            self.tokens = [a + b for a, b in zip(self.tokens, tokens, strict=True)]
        if start < self.first[0] or (start == self.first[0] and trace.row < self.first[1]):
            self.first, self.service = (start, trace.row), trace.service


class _Trace:
    """One trace of the batch: this batch's delta, its rollup (lens_traces, this batch included), memberships."""

    __slots__ = ("end", "errors", "members", "row", "service", "span_count", "spans", "start", "stored",
                 "tokens", "total_end", "total_errors", "total_start")  # fmt: skip

    def __init__(self, start: int, end: int, spans: int, errors: int) -> None:
        self.start, self.end, self.spans, self.errors, self.tokens = start, end, spans, errors, zero()
        self.row, self.service, self.span_count = 0, None, 0
        self.total_start, self.total_end, self.total_errors = start, end, errors
        self.members: dict[SessionKey, int] = {}  # session key → lens_sessions.id
        self.stored: Tokens | None = None  # its tokens before this batch, from a membership row


def apply(
    cursor: Any,
    db: pw.Database,
    rows: Sequence[Sequence[Any]],
    genai: Mapping[int, GenAIUsage],
    keys: Mapping[int, Sequence[SessionKey]] | None,
    trace_deltas: Sequence[Sequence[Any]],
) -> None:
    """Merge the spans ``rows`` (just inserted, in this transaction) into the sessions rollup.

    ``genai`` and ``keys`` map an index of ``rows`` to that span's usage and the sessions it names (``keys``
    None: read from the rows' attribute text); ``trace_deltas`` are the trace rollup deltas of exactly
    ``rows`` (TRACE_DELTA_COLUMNS order, as the writer computed them for lens_traces).

    Per batch, whatever its size: one lookup (the batch's traces with their rollups and memberships), one
    upsert of every session touched (created or added to, in one lock order), the new memberships in
    multi-row inserts, and the token updates of existing memberships.
    """
    p = db.param
    if keys is None:
        keys = {i: named for i, row in enumerate(rows) if (named := keys_of_text(row[_ATTRIBUTES]))}
    joined: dict[SessionKey, set[bytes]] = {}
    last: tuple[Any, Any] = (None, None)
    for index, span_keys in keys.items():
        trace_id = rows[index][SPAN_TRACE_ID]
        if (trace_id, span_keys) == last:  # OpenInference and Langfuse: the trace's every span says the same
            continue
        last = (trace_id, span_keys)
        for key in span_keys:
            joined.setdefault(key, set()).add(trace_id)
    if not joined and _no_members(cursor):
        return
    traces = _traces(rows, genai, trace_deltas)
    _look_up(cursor, p, traces, inner=not joined)
    totals: dict[SessionKey, _Totals] = {}
    token_updates: list[tuple[Any, ...]] = []
    for trace_id, trace in traces.items():  # traces already in a session: this batch's spans only
        for key, session_row in trace.members.items():
            total = totals.get(key) or totals.setdefault(key, _Totals())
            total.add(trace.start, trace.end, trace.errors, trace.tokens, trace)
            if any(trace.tokens):
                token_updates.append((*trace.tokens, session_row, trace_id))
    joins = [(key, sorted(t for t in trace_ids if key not in traces[t].members)) for key, trace_ids in joined.items()]
    tokens = _joiner_tokens(cursor, p, traces, {t for _key, trace_ids in joins for t in trace_ids})
    for key, trace_ids in joins:  # traces joining: their whole rollup so far
        if trace_ids:
            total = totals.get(key) or totals.setdefault(key, _Totals())
            total.traces += len(trace_ids)
            for trace_id in trace_ids:
                trace = traces[trace_id]
                total.add(trace.total_start, trace.total_end, trace.total_errors, tokens[trace_id], trace)
    if not totals:
        return
    ids = _upsert(cursor, p, totals, {key: row for t in traces.values() for key, row in t.members.items()})
    _insert_members(cursor, p, [(ids[key], t, *tokens[t]) for key, trace_ids in joins for t in trace_ids])
    if token_updates:
        cursor.executemany(
            f"UPDATE lens_session_traces SET {', '.join(f'{c} = {c} + {p}' for c in COUNTS)} "
            f"WHERE session_row = {p} AND trace_id = {p}",
            token_updates,
        )


def _no_members(cursor: Any) -> bool:
    cursor.execute("SELECT 1 FROM lens_session_traces LIMIT 1")
    return cursor.fetchone() is None  # an empty table (most stores) needs no lookup per batch


def _traces(
    rows: Sequence[Sequence[Any]], genai: Mapping[int, GenAIUsage], trace_deltas: Sequence[Sequence[Any]]
) -> dict[bytes, _Trace]:
    """This batch's delta of each of its traces: time bounds, spans, errors, tokens."""
    traces = {bytes(d[_TRACE_ID]): _Trace(d[_START], d[_END], d[_SPANS], d[_ERRORS]) for d in trace_deltas}
    for index, usage in genai.items():
        add_usage(traces[bytes(rows[index][SPAN_TRACE_ID])].tokens, usage)
    return traces


def _look_up(cursor: Any, p: str, traces: dict[bytes, _Trace], inner: bool) -> None:
    """Each trace's rollup (this batch included) and its memberships, with the tokens they hold so far.

    Exact under concurrent writers: this transaction has already upserted each trace's lens_traces row, so
    any other writer adding one of these traces to a session has committed (PostgreSQL's row lock made the
    upsert wait; SQLite has one writer), and none can until this one commits.
    """
    join = "JOIN" if inner else "LEFT JOIN"  # no keys in the batch: only traces already members matter
    wanted = sorted(traces)
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start : start + ID_CHUNK]
        cursor.execute(
            "SELECT t.trace_id, t.id, t.service, t.start_ns, t.end_ns, t.error_count, t.span_count, s.kind, "
            f"s.session_id, s.id, {', '.join(f'm.{c}' for c in COUNTS)} FROM lens_traces t "
            f"{join} lens_session_traces m ON m.trace_id = t.trace_id {join} lens_sessions s ON s.id = m.session_row "
            f"WHERE t.trace_id IN ({', '.join([p] * len(chunk))})",
            chunk,
        )
        for (
            trace_id,
            row,
            service,
            start_ns,
            end_ns,
            errors,
            span_count,
            kind,
            session_id,
            session_row,
            *held,
        ) in cursor.fetchall():
            trace = traces[bytes(trace_id)]
            trace.row, trace.service, trace.span_count = int(row), service, int(span_count)
            trace.total_start, trace.total_end, trace.total_errors = int(start_ns), int(end_ns), int(errors)
            if session_row is not None:
                trace.members[(kind, session_id)] = int(session_row)
                trace.stored = [int(count) for count in held]


def _joiner_tokens(cursor: Any, p: str, traces: Mapping[bytes, _Trace], joining: set[bytes]) -> dict[bytes, Tokens]:
    """The whole GenAI totals of each joining trace: this batch's when all its spans are in it, a membership
    row's plus this batch's when it is in another session already, else read once from its stored spans."""
    found: dict[bytes, Tokens] = {}
    unread: list[bytes] = []
    for trace_id in joining:
        trace = traces[trace_id]
        if trace.span_count == trace.spans:
            found[trace_id] = trace.tokens
        elif trace.stored is not None:
            found[trace_id] = [a + b for a, b in zip(trace.stored, trace.tokens, strict=True)]
        else:
            unread.append(trace_id)
    if unread:
        found.update(_stored_tokens(cursor, p, {traces[t].row: t for t in unread}))
    return found


def _upsert(
    cursor: Any, p: str, totals: Mapping[SessionKey, _Totals], known: Mapping[SessionKey, int]
) -> dict[SessionKey, int]:
    """Create or add to every session of ``totals`` in one statement per chunk; their row ids.

    Rows are locked in one order by every writer (sessions whose id this batch knows by id, then the others by
    key), so concurrent PostgreSQL writers cannot deadlock on them.
    """
    order = sorted(totals, key=lambda key: (0, known[key], key) if key in known else (1, 0, key))
    ids: dict[SessionKey, int] = {}
    marks = f"({', '.join([p] * 13)})"
    for start in range(0, len(order), _SESSIONS_PER_STATEMENT):
        part = order[start : start + _SESSIONS_PER_STATEMENT]
        values: list[Any] = []
        for kind, session_id in part:
            t = totals[(kind, session_id)]
            values += (kind, session_id, t.service, t.traces, t.start, t.end, t.errors, *t.tokens)
        cursor.execute(f"{_UPSERT} VALUES {', '.join([marks] * len(part))} {_ON_CONFLICT}", values)
        ids.update(((kind, session_id), int(row)) for row, kind, session_id in cursor.fetchall())
    return ids


def _insert_members(cursor: Any, p: str, members: Sequence[tuple[Any, ...]]) -> None:
    marks = f"({', '.join([p] * (2 + len(COUNTS)))})"
    for start in range(0, len(members), _ROWS_PER_STATEMENT):
        part = members[start : start + _ROWS_PER_STATEMENT]
        cursor.execute(
            f"INSERT INTO lens_session_traces (session_row, trace_id, {', '.join(COUNTS)}) "
            f"VALUES {', '.join([marks] * len(part))}",
            [value for member in part for value in member],
        )


def _stored_tokens(cursor: Any, p: str, traces: Mapping[int, bytes]) -> dict[bytes, Tokens]:
    """Traces' GenAI counts from their stored spans (those whose attributes could hold usage, decoded), by
    lens_traces row id → trace id."""
    found = {trace_id: zero() for trace_id in traces.values()}
    rows = sorted(traces)
    for start in range(0, len(rows), ID_CHUNK):
        chunk = rows[start : start + ID_CHUNK]
        cursor.execute(
            f"SELECT trace_row, attributes FROM lens_spans WHERE trace_row IN ({', '.join([p] * len(chunk))}) "
            f"AND attributes LIKE {p}",
            (*chunk, "%token%"),
        )
        for trace_row, text in cursor.fetchall():
            usage = usage_of(text)
            if usage is not None:
                add_usage(found[traces[int(trace_row)]], usage)
    return found


def usage_of(text: str | None) -> GenAIUsage | None:
    """A stored span's GenAI usage by the row builder's rule (the same keys, the same reader)."""
    attributes = loads(text)
    if not isinstance(attributes, dict) or attributes.keys().isdisjoint(USAGE_KEYS):
        return None
    return genai_usage(attributes)
