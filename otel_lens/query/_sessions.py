"""Sessions and conversations from the write-time rollup: the newest-first list (cursor pages) and one by id.

The store keeps one ``lens_sessions`` row per session (``session.id`` and the keys instrumentations use
for it) or conversation (``gen_ai.conversation.id``), with its totals, and a membership row per trace
(see ``otel_lens.store._sessions``). A page reads at most ``limit + 1`` rows in ``(end_ns, id)`` index
order, so it costs the same on any store size. A store written before the rollup existed (schema < 5)
and not migrated yet has no sessions to list: it reads as empty, never as an error.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import peewee as pw

from otel_lens.query._filters import like_contains
from otel_lens.query.errors import AmbiguousSessionId, SessionNotFound
from otel_lens.query.results import rfc3339
from otel_lens.store.migrations import table_columns
from otel_lens.store.schema import Models

KINDS = ("session", "conversation")
_CURSOR = re.compile(r"^(-?\d{1,19})\.(\d{1,19})$")
_MAX_INT = 2**63 - 1
_SHOWN_MATCHES = 3
COUNTS = ("genai_count", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
           "reasoning_tokens")  # fmt: skip
_FIELDS = ("id", "kind", "session_id", "service", "trace_count", "start_ns", "end_ns", "error_count", *COUNTS)


@dataclasses.dataclass(frozen=True)
class SessionSummary:
    """One session or conversation's totals over its traces (``kind`` says which)."""

    row: int  # the store's row id: the cursor's tie-breaker
    kind: str
    session_id: str
    service: str | None
    trace_count: int
    start_ns: int
    end_ns: int
    error_count: int
    genai_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "kind": self.kind,
            "service": self.service,
            "trace_count": self.trace_count,
            "start_time": rfc3339(self.start_ns),
            "end_time": rfc3339(self.end_ns),
            "duration_ms": self.duration_ms,
            "error_count": self.error_count,
            "genai_count": self.genai_count,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }


@dataclasses.dataclass(frozen=True)
class SessionPage:
    """One page of the sessions list, latest activity first; ``next`` is the following page's cursor (None: last)."""

    sessions: list[SessionSummary]
    next: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"sessions": [session.as_dict() for session in self.sessions], "next": self.next}


def has_sessions_table(models: Models) -> bool:
    """False for a store no writer has migrated to schema 5 yet (readers never change a store)."""
    return bool(table_columns(models.session._meta.database, models.session._meta.table_name))


def _summary(row: tuple[Any, ...]) -> SessionSummary:
    row_id, kind, session_id, service, *numbers = row
    return SessionSummary(int(row_id), str(kind), str(session_id), service, *(int(n or 0) for n in numbers))


def cursor_of(summary: SessionSummary) -> str:
    return f"{summary.end_ns}.{summary.row}"


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    """The (end_ns, row) key of a sessions-list cursor; ``None`` when not given.

    Raises:
        ValueError: ``text`` is not a cursor this module made.
    """
    if text is None or text == "":
        return None
    match = _CURSOR.match(str(text).strip())
    if match is None or abs(int(match.group(1))) > _MAX_INT or int(match.group(2)) > _MAX_INT:
        raise ValueError(f"before={text!r} is not a sessions-list cursor; pass back the `next` of a previous page")
    return int(match.group(1)), int(match.group(2))


def list_sessions(
    models: Models,
    kind: str | None,
    service: str | None,
    since: int | None,
    until: int | None,
    search: str | None,
    before: tuple[int, int] | None,
    limit: int,
) -> SessionPage:
    """Sessions active in [since, until] (nanoseconds; None: unbounded), newest activity first, a page of ``limit``."""
    if not has_sessions_table(models):
        return SessionPage([], None)
    session: Any = models.session
    query = session.select(*(getattr(session, name) for name in _FIELDS))
    if kind is not None:
        query = query.where(session.kind == kind)
    if service is not None:
        query = query.where(session.service == service)
    if since is not None:
        query = query.where(session.end_ns >= since)
    if until is not None:
        query = query.where(session.start_ns <= until)
    if search:
        query = query.where(
            pw.NodeList((session.session_id, pw.SQL("LIKE"), like_contains(search), pw.SQL("ESCAPE '!'")))
        )
    if before is not None:
        end, row = before
        query = query.where((session.end_ns < end) | ((session.end_ns == end) & (session.id < row)))
    rows = list(query.order_by(session.end_ns.desc(), session.id.desc()).limit(limit + 1).tuples())
    found = [_summary(row) for row in rows[:limit]]
    return SessionPage(found, cursor_of(found[-1]) if len(rows) > limit else None)


def resolve_session(models: Models, wanted: str, kind: str | None) -> SessionSummary:
    """The session or conversation named ``wanted`` exactly (a session before a conversation of the same id,
    unless ``kind`` says which), else the one whose id starts with it.

    Raises:
        SessionNotFound: none matches.
        AmbiguousSessionId: the prefix matches several.
    """
    what = kind or "session or conversation"
    if not has_sessions_table(models):
        raise SessionNotFound(f"no {what} {wanted!r}: this store predates sessions (a writer migrates it)")
    session: Any = models.session
    fields = [getattr(session, name) for name in _FIELDS]
    exact = session.select(*fields).where(session.session_id == wanted)
    if kind is not None:
        exact = exact.where(session.kind == kind)
    rows = sorted(exact.tuples(), key=lambda row: KINDS.index(row[1]) if row[1] in KINDS else len(KINDS))
    if rows:
        return _summary(rows[0])
    pattern = like_contains(wanted)[1:]  # "text%": ids starting with it
    query = session.select(*fields).where(
        pw.NodeList((session.session_id, pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '!'")))
    )
    if kind is not None:
        query = query.where(session.kind == kind)
    # SQLite's LIKE ignores ASCII case: only ids really starting with the prefix count.
    matches = [row for row in query.order_by(session.session_id).limit(50).tuples() if str(row[2]).startswith(wanted)]
    if not matches:
        raise SessionNotFound(f"no {what} {wanted!r} in the store (nor one whose id starts with it)")
    if len(matches) > 1:
        shown = ", ".join(repr(str(row[2])) for row in matches[:_SHOWN_MATCHES])
        more = ", …" if len(matches) > _SHOWN_MATCHES else ""
        raise AmbiguousSessionId(f"{what} id prefix {wanted!r} is ambiguous ({shown}{more}); give more of it")
    return _summary(matches[0])


def summaries(models: Models, rows: list[int]) -> list[SessionSummary]:
    """The sessions of the given row ids, newest activity first."""
    if not rows:
        return []
    session: Any = models.session
    query = session.select(*(getattr(session, name) for name in _FIELDS)).where(session.id.in_(rows))
    return sorted((_summary(row) for row in query.tuples()), key=lambda s: (-s.end_ns, -s.row))
