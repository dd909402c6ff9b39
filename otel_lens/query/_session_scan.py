"""Sessions found by scanning span attributes (``session.id``, ``gen_ai.conversation.id``) in a time window.

An interim reader for the MCP ``list_sessions`` / ``token_usage(session_id=…)`` tools until the
store keeps sessions itself: spans whose attribute text holds one of the keys are found with a
``LIKE`` on the stored compact JSON (both dialects), decoded to check the key really is a top-level
attribute, and their traces summarized. It is bounded: only the window is scanned and at most
``MAX_SCANNED`` matching spans are read (the result says when it stopped early).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import peewee as pw

from otel_lens.query import _filters, _traces
from otel_lens.query._diff import span_tokens
from otel_lens.query._filters import Since
from otel_lens.query.results import TraceSummary, rfc3339
from otel_lens.query.store import Store
from otel_lens.store.codec import loads

SESSION_KEYS = {"session.id": "session", "gen_ai.conversation.id": "conversation"}
MAX_SCANNED = 20_000  # matching spans read per scan, at most
_TRACE_CHUNK = 200


@dataclasses.dataclass
class Session:
    session_id: str
    kind: str  # "session" or "conversation"
    traces: list[TraceSummary]
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_by_model: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # model → [input, output]

    def as_dict(self) -> dict[str, Any]:
        start = min(t.start_ns for t in self.traces)
        end = max(t.end_ns for t in self.traces)
        return {
            "session_id": self.session_id,
            "kind": self.kind,
            "trace_count": len(self.traces),
            "start_time": rfc3339(start),
            "end_time": rfc3339(end),
            "duration_ms": (end - start) / 1e6,
            "error_count": sum(t.error_count for t in self.traces),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclasses.dataclass
class SessionScan:
    sessions: list[Session]  # latest activity first
    complete: bool  # False when the scan stopped at MAX_SCANNED matching spans


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scan_sessions(store: Store, since: Since = "7d", session_id: str | None = None) -> SessionScan:
    """Sessions (or the one ``session_id``) whose spans started in the window, with their traces and tokens.

    Raises:
        ValueError: ``since`` does not parse.
    """
    cutoff = _filters.cutoff_ns(since)
    if session_id is not None:
        value = orjson.dumps(session_id).decode()
        patterns = [f'%"{_escape_like(key)}":{_escape_like(value)}%' for key in SESSION_KEYS]
    else:
        patterns = [f'%"{_escape_like(key)}":%' for key in SESSION_KEYS]

    def work(models: Any) -> SessionScan:
        span: Any = models.span
        trace: Any = models.trace
        matches: Any = None
        for pattern in patterns:
            clause = _like(span.attributes, pattern)
            matches = clause if matches is None else matches | clause
        query = span.select(trace.trace_id, span.attributes).join(trace, on=(span.trace_row == trace.id)).where(matches)
        if cutoff is not None:
            query = query.where(span.start_ns >= cutoff)
        rows = list(query.limit(MAX_SCANNED + 1).tuples())
        complete = len(rows) <= MAX_SCANNED
        members: dict[tuple[str, str], set[bytes]] = {}
        for trace_id, attributes in rows[:MAX_SCANNED]:
            decoded = loads(attributes)
            if not isinstance(decoded, dict):
                continue
            for key, kind in SESSION_KEYS.items():
                found = decoded.get(key)
                if found is None or (session_id is not None and str(found) != session_id):
                    continue  # LIKE matched loosely (SQLite ignores case): only the exact key and id count
                members.setdefault((str(found), kind), set()).add(bytes(trace_id))
        wanted = sorted({t for ids in members.values() for t in ids})
        summaries: dict[bytes, TraceSummary] = {}
        tokens: dict[bytes, list[tuple[str, int, int]]] = {}
        for start in range(0, len(wanted), _TRACE_CHUNK):
            chunk = wanted[start : start + _TRACE_CHUNK]
            for wanted_id in chunk:
                summaries[wanted_id] = _traces.trace_summary(models, wanted_id)
            for record in _traces.spans_of(models, store._lookups, chunk):
                counted = span_tokens(record)
                if counted:
                    model = record.attributes.get("gen_ai.response.model") or record.attributes.get(
                        "gen_ai.request.model"
                    )
                    entry = (str(model or "unknown"), counted.get("input_tokens", 0), counted.get("output_tokens", 0))
                    tokens.setdefault(bytes.fromhex(record.trace_id), []).append(entry)
        sessions = []
        for (sid, kind), ids in members.items():
            session = Session(sid, kind, sorted((summaries[t] for t in ids), key=lambda s: s.start_ns))
            for t in ids:
                for model, inp, out in tokens.get(t, []):
                    session.input_tokens += inp
                    session.output_tokens += out
                    per_model = session.tokens_by_model.setdefault(model, [0, 0])
                    per_model[0] += inp
                    per_model[1] += out
            sessions.append(session)
        sessions.sort(key=lambda s: max(t.end_ns for t in s.traces), reverse=True)
        return SessionScan(sessions, complete)

    return store._reader.run(work)


def _like(field: Any, pattern: str) -> Any:
    """``field LIKE pattern ESCAPE '\\'`` on both dialects (SQLite has no default escape character)."""
    # Spelled out: peewee turns its LIKE operator into GLOB on SQLite.
    return pw.NodeList((field, pw.SQL("LIKE"), pw.Value(pattern), pw.SQL("ESCAPE '\\'")))
