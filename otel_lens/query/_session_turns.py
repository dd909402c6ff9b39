"""One session or conversation as turns: its traces in time order, each with its totals, cost and messages.

A turn is one trace of the session. Its counts come from the rollup (``lens_traces`` and the membership
row: nothing is summed here); what it was asked and answered comes from the transcript reader over its
GenAI spans and log records, read with a bound per turn (:data:`SPANS_PER_TURN`), so a 10,000-span
agent trace costs no more than a chat turn. The user message shown is the last user message the turn's
first model call was sent (the new question: the earlier ones are the history every call repeats), the
assistant message the last answer of its last model call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import peewee as pw

from otel_lens._genai_usage import genai_usage
from otel_lens.query._bundled_prices import BundledPrices
from otel_lens.query._decode import LOG_FIELDS, SPAN_FIELDS, Lookups, columns, log_record, span_record
from otel_lens.query._message_model import Message, Transcript
from otel_lens.query._messages import with_transcripts
from otel_lens.query._sessions import KINDS, SessionSummary, summaries
from otel_lens.query.prices import Priced, PriceTable
from otel_lens.query.results import rfc3339
from otel_lens.store.rows import ID_CHUNK
from otel_lens.store.schema import Models

MAX_TURNS = 500
"""Turns one answer holds at most (the oldest first; ``turns_truncated`` says when more exist)."""
SPANS_PER_TURN = 64
"""GenAI spans (and log records) read per turn for its messages and cost."""
_MESSAGE_CHARS = 2000
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens")


@dataclasses.dataclass(frozen=True)
class Turn:
    """One trace of a session: its rollup, GenAI totals and cost, its groupings, its question and answer."""

    trace_id: str
    root_name: str
    service: str | None
    start_ns: int
    end_ns: int
    span_count: int
    error_count: int
    genai_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    cost: float | None = None  # None: no model call, or one without a known price
    models: tuple[str, ...] = ()
    by_model: tuple[tuple[str, int, int], ...] = ()  # (model, input, output) of the model calls read
    sessions: tuple[str, ...] = ()
    conversations: tuple[str, ...] = ()
    user_message: str | None = None
    assistant_message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["start_ns"], data["end_ns"]
        data.update(
            start_time=rfc3339(self.start_ns),
            duration_ms=(self.end_ns - self.start_ns) / 1e6,
            error=self.error_count > 0,
            total_tokens=self.input_tokens + self.output_tokens,
            models=list(self.models),
            by_model=[{"model": m, "input_tokens": i, "output_tokens": o} for m, i, o in self.by_model],
            sessions=list(self.sessions),
            conversations=list(self.conversations),
        )
        return data


@dataclasses.dataclass(frozen=True)
class SessionDetail:
    """A session (or conversation) with its turns and its related groupings: a session's conversations, or
    the sessions a conversation is part of."""

    summary: SessionSummary
    turns: list[Turn]
    related: list[SessionSummary]
    turns_truncated: bool = False

    @property
    def cost(self) -> float | None:
        """The turns' total; None when a model call has no known price (or there is none)."""
        priced = [turn.cost for turn in self.turns if turn.genai_count]
        if not priced or any(cost is None for cost in priced) or self.turns_truncated:
            return None
        return sum(cost for cost in priced if cost is not None)

    def as_dict(self) -> dict[str, Any]:
        other = "conversations" if self.summary.kind == "session" else "sessions"
        return self.summary.as_dict() | {
            "cost": self.cost,
            other: [related.as_dict() for related in self.related],
            "turns": [turn.as_dict() for turn in self.turns],
            "turns_truncated": self.turns_truncated,
        }


def session_detail(
    models: Models,
    lookups: Lookups,
    summary: SessionSummary,
    prices: PriceTable | None,
    bundled: BundledPrices | None,
    messages: bool = True,
) -> SessionDetail:
    """The turns of ``summary`` (oldest first, at most :data:`MAX_TURNS`), priced by ``prices`` then ``bundled``."""
    member: Any = models.sessiontrace
    trace: Any = models.trace
    query = (
        member.select(
            trace.trace_id,
            trace.id,
            trace.root_name,
            trace.service,
            trace.start_ns,
            trace.end_ns,
            trace.span_count,
            trace.error_count,
            member.genai_count,
            *(getattr(member, name) for name in _TOKENS),
        )
        .join(trace, on=(trace.trace_id == member.trace_id))
        .where(member.session_row == summary.row)
        .order_by(trace.start_ns, trace.trace_id)
        .limit(MAX_TURNS + 1)
    )
    rows = list(query.tuples())
    truncated = len(rows) > MAX_TURNS
    rows = rows[:MAX_TURNS]
    groups = _groupings(models, [bytes(row[0]) for row in rows])
    turns = []
    for trace_id, trace_row, root_name, service, start, end, spans, errors, genai, *tokens in rows:
        key = bytes(trace_id)
        found = groups.get(key, {})
        inp, out, cache_read, cache_creation, reasoning = (int(t or 0) for t in tokens)
        turn = Turn(
            key.hex(), root_name, service, int(start), int(end), int(spans), int(errors), int(genai or 0),
            inp, out, cache_read, cache_creation, reasoning,
            sessions=tuple(sorted(sid for _kind, sid, _row in found.get("session", []))),
            conversations=tuple(sorted(sid for _kind, sid, _row in found.get("conversation", []))),
        )  # fmt: skip
        if messages or turn.genai_count:
            turn = _with_messages(models, lookups, turn, int(trace_row), prices, bundled, messages)
        turns.append(turn)
    other = "conversation" if summary.kind == "session" else "session"
    related = sorted({row for found in groups.values() for _, _, row in found.get(other, [])})
    return SessionDetail(summary, turns, summaries(models, related), truncated)


def _groupings(models: Models, trace_ids: Sequence[bytes]) -> dict[bytes, dict[str, list[tuple[str, str, int]]]]:
    """Per trace: the sessions and conversations it belongs to, as (kind, id, row) by kind."""
    member: Any = models.sessiontrace
    session: Any = models.session
    found: dict[bytes, dict[str, list[tuple[str, str, int]]]] = {}
    for start in range(0, len(trace_ids), ID_CHUNK):
        chunk = list(trace_ids[start : start + ID_CHUNK])
        query = (
            member.select(member.trace_id, session.kind, session.session_id, session.id)
            .join(session, on=(session.id == member.session_row))
            .where(member.trace_id.in_(chunk))
        )
        for trace_id, kind, session_id, row in query.tuples():
            if kind in KINDS:
                found.setdefault(bytes(trace_id), {}).setdefault(kind, []).append((kind, str(session_id), int(row)))
    return found


def _genai_spans(models: Models, lookups: Lookups, trace_row: int, trace_id: str) -> tuple[list[Any], list[Any]]:
    """Up to :data:`SPANS_PER_TURN` spans of the trace that may be model calls, and its GenAI log records."""
    span: Any = models.span
    trace: Any = models.trace
    maybe = pw.NodeList((span.attributes, pw.SQL("LIKE"), "%gen_ai%")) | pw.NodeList(
        (span.attributes, pw.SQL("LIKE"), "%llm.%")
    )
    query = (
        span.select(trace.trace_id, *columns(span, SPAN_FIELDS[1:]))
        .join(trace, on=(span.trace_row == trace.id))
        .where((span.trace_row == trace_row) & maybe)
        .order_by(span.start_ns, span.span_id)
        .limit(SPANS_PER_TURN)
    )
    span_rows = list(span._meta.database.execute(query))
    log: Any = models.log
    log_query = (
        log.select(*columns(log, LOG_FIELDS))
        .where((log.trace_id == bytes.fromhex(trace_id)) & (pw.NodeList((log.event_name, pw.SQL("LIKE"), "gen_ai%"))))
        .order_by(log.timestamp_ns, log.id)
        .limit(SPANS_PER_TURN)
    )
    log_rows = list(log_query.tuples())
    lookups.load(models, [r[-2] for r in span_rows + log_rows], [r[-1] for r in span_rows + log_rows])
    return [span_record(row, lookups) for row in span_rows], [log_record(row, lookups) for row in log_rows]


def _with_messages(
    models: Models,
    lookups: Lookups,
    turn: Turn,
    trace_row: int,
    prices: PriceTable | None,
    bundled: BundledPrices | None,
    messages: bool,
) -> Turn:
    spans, logs = _genai_spans(models, lookups, trace_row, turn.trace_id)
    read = [span for span in with_transcripts(spans, logs) if span.transcript is not None]
    transcripts: list[Transcript] = [span.transcript for span in read if span.transcript is not None]
    calls = [(span, genai_usage(span.attributes)) for span in read]
    used = [(span, usage) for span, usage in calls if usage is not None]
    cost: float | None = None
    if used and len(used) == turn.genai_count and (prices is not None or bundled is not None):
        cost = 0.0
        for span, usage in used:
            priced: Priced | None = prices.match(usage.provider, usage.model) if prices is not None else None
            if priced is None and bundled is not None:
                priced = bundled.match(usage.provider, usage.model)
            one = None if priced is None else priced.cost(
                usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_creation_tokens,
                span.start_ns,
            )  # fmt: skip
            if one is None:
                cost = None
                break
            cost += one
    per_model: dict[str, list[int]] = {}
    for _span, usage in used:
        entry = per_model.setdefault(usage.model or "unknown", [0, 0])
        entry[0] += usage.input_tokens
        entry[1] += usage.output_tokens
    names = tuple(model for model in per_model if model != "unknown")
    question = answer = None
    if messages and transcripts:
        question = _last_text([m for m in transcripts[0].messages if m.role == "user" and not m.output])
        answer = _last_text([m for m in transcripts[-1].messages if m.output or m.role == "assistant"])
    by_model = tuple((model, i, o) for model, (i, o) in per_model.items())
    return dataclasses.replace(
        turn, cost=cost, models=names, by_model=by_model, user_message=question, assistant_message=answer
    )


def _last_text(found: Sequence[Message]) -> str | None:
    """The text of the last message of ``found`` (its tool calls named when it has no text), cut to a preview."""
    for message in reversed(found):
        texts = [part.content for part in message.parts if part.type == "text" and part.content]
        if not texts:
            texts = [f"[tool call {part.name}]" for part in message.parts if part.type == "tool_call" and part.name]
        if texts:
            text = "\n".join(texts)
            return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "…"
    return None
