"""Two traces aligned span by span (``otel-lens diff``, the MCP ``diff_traces`` tool).

A span's key is its name path from the root (``GET /x › charge › POST``) and its occurrence among
the spans of that path in start order, so the third ``SELECT`` under ``render`` in one run meets the
third in the other. Keys in one trace only are added or removed spans; matched pairs give duration
deltas (sorted by how much time they moved), status changes, attribute changes and GenAI token
deltas. Aligning by path rather than by span id is what lets two different requests be compared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from otel_lens.query import _filters, _traces
from otel_lens.query.errors import TraceNotFound
from otel_lens.query.results import SpanRecord, TraceSummary
from otel_lens.query.store import Store
from otel_lens.store.codec import jsonable

PATH_SEPARATOR = " › "
# Token counts by convention: GenAI semconv (current, then the older prompt/completion names), OpenInference.
TOKEN_KEYS = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
}
_MISSING = object()


@dataclasses.dataclass(frozen=True)
class AttributeChanges:
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, tuple[Any, Any]]  # key → (value in A, value in B)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": jsonable(self.added),
            "removed": jsonable(self.removed),
            "changed": {k: {"a": jsonable(a), "b": jsonable(b)} for k, (a, b) in self.changed.items()},
        }


@dataclasses.dataclass(frozen=True)
class SpanDiff:
    """One aligned key: a span in A, in B, or in both."""

    path: tuple[str, ...]
    occurrence: int
    a: SpanRecord | None
    b: SpanRecord | None
    attributes: AttributeChanges
    tokens: dict[str, tuple[int, int]]  # only the counts that differ: name → (A, B)

    @property
    def label(self) -> str:
        suffix = f" #{self.occurrence + 1}" if self.occurrence else ""
        return PATH_SEPARATOR.join(self.path) + suffix

    @property
    def delta_ms(self) -> float:
        return (self.b.duration_ms if self.b else 0.0) - (self.a.duration_ms if self.a else 0.0)

    @property
    def ratio(self) -> float | None:
        """B's duration over A's (None unless both exist and A took time)."""
        if self.a is None or self.b is None or self.a.duration_ms <= 0:
            return None
        return self.b.duration_ms / self.a.duration_ms

    @property
    def status_changed(self) -> bool:
        return (
            self.a is not None
            and self.b is not None
            and (self.a.status_code, self.a.status_message) != (self.b.status_code, self.b.status_message)
        )

    def as_dict(self) -> dict[str, Any]:
        def side(span: SpanRecord | None) -> dict[str, Any] | None:
            if span is None:
                return None
            return {"span_id": span.span_id, "duration_ms": span.duration_ms, "status": span.status}

        return {
            "path": list(self.path),
            "occurrence": self.occurrence,
            "name": self.path[-1],
            "a": side(self.a),
            "b": side(self.b),
            "delta_ms": self.delta_ms,
            "ratio": self.ratio,
            "status_changed": self.status_changed,
            "attributes": self.attributes.as_dict() if self.attributes else None,
            "tokens": {k: {"a": a, "b": b, "delta": b - a} for k, (a, b) in self.tokens.items()} or None,
        }


@dataclasses.dataclass(frozen=True)
class TraceDiff:
    a: TraceSummary
    b: TraceSummary
    added: list[SpanDiff]  # in B only, longest first
    removed: list[SpanDiff]  # in A only, longest first
    matched: list[SpanDiff]  # in both, by |duration delta| (largest first)
    tokens: dict[str, tuple[int, int]]  # whole-trace totals, name → (A, B)

    @property
    def status_changes(self) -> list[SpanDiff]:
        return [s for s in self.matched if s.status_changed]

    @property
    def attribute_changes(self) -> list[SpanDiff]:
        return [s for s in self.matched if s.attributes]

    def as_dict(self) -> dict[str, Any]:
        a_ms, b_ms = self.a.duration_ms, self.b.duration_ms
        return {
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "duration_ms": {"a": a_ms, "b": b_ms, "delta": b_ms - a_ms, "ratio": b_ms / a_ms if a_ms > 0 else None},
            "tokens": {k: {"a": a, "b": b, "delta": b - a} for k, (a, b) in self.tokens.items()},
            "added": [s.as_dict() for s in self.added],
            "removed": [s.as_dict() for s in self.removed],
            "matched": [s.as_dict() for s in self.matched],
            "status_changes": len(self.status_changes),
            "attribute_changes": len(self.attribute_changes),
        }


def span_keys(spans: Sequence[SpanRecord]) -> dict[tuple[tuple[str, ...], int], SpanRecord]:
    """Each span under its (name path from the root, occurrence in start order) key."""
    by_id = {s.span_id: s for s in spans}
    paths: dict[str, tuple[str, ...]] = {}

    def path_of(span: SpanRecord) -> tuple[str, ...]:
        # Iterative walk up (a 10,000-deep chain must not hit the recursion limit); a cycle stops the walk.
        chain: list[SpanRecord] = []
        seen: set[str] = set()
        node: SpanRecord | None = span
        while node is not None and node.span_id not in paths and node.span_id not in seen:
            seen.add(node.span_id)
            chain.append(node)
            node = by_id.get(node.parent_span_id) if node.parent_span_id else None
        prefix = paths.get(node.span_id, ()) if node is not None else ()
        for item in reversed(chain):
            prefix = (*prefix, item.name)
            paths[item.span_id] = prefix
        return paths[span.span_id]

    keyed: dict[tuple[tuple[str, ...], int], SpanRecord] = {}
    counts: dict[tuple[str, ...], int] = {}
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        path = path_of(span)
        index = counts.get(path, 0)
        counts[path] = index + 1
        keyed[(path, index)] = span
    return keyed


def span_tokens(span: SpanRecord) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, keys in TOKEN_KEYS.items():
        for key in keys:
            value = span.attributes.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found[name] = int(value)
                break
    return found


def _attribute_changes(a: dict[str, Any], b: dict[str, Any]) -> AttributeChanges:
    added = {k: v for k, v in b.items() if k not in a}
    removed = {k: v for k, v in a.items() if k not in b}
    changed = {k: (a[k], b[k]) for k in a.keys() & b.keys() if a[k] != b[k]}
    return AttributeChanges(added, removed, dict(sorted(changed.items())))


def _token_changes(a: SpanRecord | None, b: SpanRecord | None) -> dict[str, tuple[int, int]]:
    ta = span_tokens(a) if a else {}
    tb = span_tokens(b) if b else {}
    return {k: (ta.get(k, 0), tb.get(k, 0)) for k in TOKEN_KEYS if ta.get(k, 0) != tb.get(k, 0)}


def diff_spans(
    a: TraceSummary, a_spans: Sequence[SpanRecord], b: TraceSummary, b_spans: Sequence[SpanRecord]
) -> TraceDiff:
    """Align ``a_spans`` with ``b_spans`` (see the module docstring)."""
    keyed_a, keyed_b = span_keys(a_spans), span_keys(b_spans)
    added, removed, matched = [], [], []
    empty = AttributeChanges({}, {}, {})
    for key, span in keyed_a.items():
        other = keyed_b.get(key)
        if other is None:
            removed.append(SpanDiff(key[0], key[1], span, None, empty, _token_changes(span, None)))
        else:
            changes = _attribute_changes(span.attributes, other.attributes)
            matched.append(SpanDiff(key[0], key[1], span, other, changes, _token_changes(span, other)))
    for key, span in keyed_b.items():
        if key not in keyed_a:
            added.append(SpanDiff(key[0], key[1], None, span, empty, _token_changes(None, span)))
    totals: dict[str, tuple[int, int]] = {}
    for name in TOKEN_KEYS:
        total_a = sum(span_tokens(s).get(name, 0) for s in a_spans)
        total_b = sum(span_tokens(s).get(name, 0) for s in b_spans)
        totals[name] = (total_a, total_b)
    by_size = lambda s: (-abs(s.delta_ms), s.label)  # noqa: E731
    return TraceDiff(a, b, sorted(added, key=by_size), sorted(removed, key=by_size), sorted(matched, key=by_size),
                     totals)  # fmt: skip


def diff_traces(store: Store, trace_a: str, trace_b: str) -> TraceDiff:
    """Diff two stored traces (ids or unique prefixes, as ``show`` takes them).

    Raises:
        ValueError: an id is not hex.
        TraceNotFound, AmbiguousTraceId: an id matches no or several traces.
    """
    a, b = store.trace(trace_a), store.trace(trace_b)
    return diff_spans(a.summary, a.spans, b.summary, b.spans)


def previous_trace(store: Store, trace_id: str) -> str:
    """The id of the latest trace before ``trace_id`` with the same root name and service.

    Raises:
        TraceNotFound: there is none (or ``trace_id`` itself is not stored).
    """
    prefix = _filters.trace_id_prefix(trace_id)
    summaries: list[TraceSummary] = []

    def work(models: Any) -> str | None:
        summary = _traces.trace_summary(models, _traces.resolve_trace_id(models, prefix))
        summaries.append(summary)
        trace: Any = models.trace
        service = trace.service.is_null() if summary.service is None else trace.service == summary.service
        wanted = bytes.fromhex(summary.trace_id)
        earlier = (trace.start_ns < summary.start_ns) | (
            (trace.start_ns == summary.start_ns) & (trace.trace_id < wanted)
        )
        row = (
            trace.select(trace.trace_id)
            .where((trace.root_name == summary.root_name) & service & earlier)
            .order_by(trace.start_ns.desc(), trace.trace_id.desc())
            .limit(1)
            .tuples()
            .first()
        )
        return None if row is None else bytes(row[0]).hex()

    found = store._reader.run(work)
    if found is None:
        summary = summaries[-1]
        raise TraceNotFound(
            f"no trace before {summary.trace_id[:16]}… has the root {summary.root_name!r} of service {summary.service!r}"
        )
    return found
