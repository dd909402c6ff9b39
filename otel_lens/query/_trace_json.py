"""One trace's JSON shape built straight from its stored rows, for the viewer's ``/api/traces/{id}`` and ``show --json``.

The record path (``span_record`` → :class:`SpanRecord` → ``as_dict()``) decodes every attribute map into
Python values, restores tagged values, then converts them back with ``jsonable``: pure-Python work per
value that took ~80 % of the time of a 10,000-span trace. Here the stored JSON text is parsed by orjson
(in C) and put into the shape as it is, because for a plain value (no tag object, no integer beyond
64 bits, no key longer than ``jsonable`` keeps: one cheap walk, :func:`_plain`) that parse *is* what the
record path would produce. Any span for which this is not known to hold (a tagged value, a captured body to resolve,
a GenAI span with a transcript, a malformed column) goes through the record path itself, so both paths
give the same JSON byte for byte (``tests/test_web_bigtrace.py`` compares them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from otel_lens.query import _running, _traces
from otel_lens.query._bodies import resolve_bodies
from otel_lens.query._decode import Lookups, span_record
from otel_lens.query._messages import with_transcripts
from otel_lens.query.results import SPAN_KINDS, STATUS_CODES, SpanRecord, rfc3339
from otel_lens.store.codec import jsonable
from otel_lens.store.schema import Models

_KEY_LIMIT = 256  # jsonable() cuts longer keys (codec._clean): such a map takes the record path
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TAGS = frozenset(("$bytes", "$float", "$int"))  # codec's tag keys: a map of one of them may be restored
# Attribute keys that make the record path add something (a resolved body, a transcript).
_SPECIAL = re.compile(r'"(?:lens\.body\.|gen_ai\.|llm\.|openinference\.span\.kind")')


class _NotPlain(Exception):
    """A column whose parse may differ from the record path's value: that span takes the record path."""


def _plain(value: Any) -> bool:
    """``jsonable(codec.loads(text))`` is ``orjson.loads(text)`` for this parsed value: no tag object, no
    integer beyond 64 bits (orjson parses up to 2**64-1 as int; jsonable tags those above 2**63-1), no key
    jsonable would cut. (Text orjson cannot parse, or parses as ±inf, fails in both paths alike.)"""
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return True
    if kind is int:
        return bool(_INT64_MIN <= value <= _INT64_MAX)
    if kind is list:
        return all(map(_plain, value))
    if kind is dict:
        if len(value) == 1 and next(iter(value)) in _TAGS:
            return False
        return all(len(key) <= _KEY_LIMIT for key in value) and all(map(_plain, value.values()))
    return False


def _parsed(text: str) -> Any:
    """The value of a plain JSON column; raises :class:`_NotPlain` otherwise."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _NotPlain from None
    if not _plain(value):
        raise _NotPlain
    return value


def _counts(values: list[Any]) -> bool:
    return all(value is None or type(value) is int for value in values)


def _attributes(text: str) -> dict[str, Any]:
    value = _parsed(text)
    return value if isinstance(value, dict) else {}


def _events(text: str) -> list[dict[str, Any]]:
    items = _parsed(text) or []
    if not isinstance(items, list):
        raise _NotPlain
    events = []
    for item in items:
        # Exactly what _decode._event reads without converting (a bool or float time, a text count: record path).
        if not isinstance(item, list) or len(item) < 3 or type(item[1]) is not int or not _counts(item[3:4]):
            raise _NotPlain
        time_ns = item[1]
        attributes = item[2] if isinstance(item[2], dict) else {}
        events.append(
            {"name": str(item[0]), "time_unix_nano": time_ns, "timestamp": rfc3339(time_ns), "attributes": attributes}
        )
    return events


def _links(text: str) -> list[dict[str, Any]]:
    items = _parsed(text) or []
    if not isinstance(items, list):
        raise _NotPlain
    links = []
    for item in items:
        if not isinstance(item, list) or len(item) < 3 or not _counts(item[3:4]) or not _counts(item[5:6]):
            raise _NotPlain
        attributes = item[2] if isinstance(item[2], dict) else {}
        links.append({"trace_id": str(item[0]), "span_id": str(item[1]), "attributes": attributes})
    return links


class _Shared:
    """Each resource's and scope's JSON value, converted once per trace rather than once per span."""

    def __init__(self, lookups: Lookups) -> None:
        self._lookups = lookups
        self.resources: dict[int, Any] = {}
        self.scopes: dict[int, Any] = {}

    def resource(self, row_id: int) -> Any:
        found = self.resources.get(row_id)
        if found is None:
            found = self.resources[row_id] = jsonable(self._lookups.resource(int(row_id)))
        return found

    def scope(self, row_id: int) -> Any:
        found = self.scopes.get(row_id)
        if found is None:
            found = self.scopes[row_id] = self._lookups.scope(int(row_id)).as_dict()
        return found


def span_dicts(
    rows: Sequence[tuple[Any, ...]],
    lookups: Lookups,
    logged: set[str],
    by_record: Callable[[list[SpanRecord]], list[SpanRecord]],
) -> list[dict[str, Any]]:
    """The JSON shape of each span row (``SPAN_FIELDS`` order, lookups loaded), in row order.

    ``logged``: hex ids of spans that have log records (their transcript may come from them).
    ``by_record``: completes records the way the record path does (bodies resolved, transcripts attached);
    it gets the spans this function cannot build from their text, in row order, and returns them likewise.
    """
    shared = _Shared(lookups)
    out: list[dict[str, Any] | None] = []
    slow: list[tuple[int, tuple[Any, ...]]] = []
    kinds, statuses = SPAN_KINDS, STATUS_CODES
    resources, scopes = shared.resources, shared.scopes  # looked up inline: a method call per span costs
    for row in rows:
        (trace_id, span_id, parent, name, kind, _flags, start, duration, status, message, attributes, events, links,
         _extras, resource_id, scope_id) = row  # fmt: skip
        span_hex = bytes(span_id).hex()
        try:
            if span_hex in logged or (attributes is not None and _SPECIAL.search(attributes)):
                raise _NotPlain
            if events is not None and '"gen_ai.' in events:  # a transcript's message events
                raise _NotPlain
            start_ns = int(start)
            end_ns = start_ns + int(duration)
            out.append({
                "trace_id": bytes(trace_id).hex(),
                "span_id": span_hex,
                "parent_span_id": None if parent is None else bytes(parent).hex(),
                "name": name,
                "kind": kinds.get(int(kind), str(kind)),
                "start_time_unix_nano": start_ns,
                "end_time_unix_nano": end_ns,
                "duration_ms": (end_ns - start_ns) / 1e6,
                "state": "ended",
                "status": {"code": statuses.get(int(status), "UNSET"), "message": message},
                "attributes": {} if attributes is None else _attributes(attributes),
                "events": [] if events is None else _events(events),
                "links": [] if links is None else _links(links),
                "resource": resources.get(resource_id) or shared.resource(resource_id),
                "scope": scopes.get(scope_id) or shared.scope(scope_id),
            })  # fmt: skip
        except _NotPlain:
            slow.append((len(out), row))
            out.append(None)
    if slow:
        records = by_record([span_record(row, lookups) for _, row in slow])
        for (at, _), record in zip(slow, records, strict=True):
            out[at] = record.as_dict()
    return [span for span in out if span is not None]


def trace_dict(models: Models, lookups: Lookups, prefix: str) -> dict[str, Any]:
    """``TraceDetail.as_dict()`` of the trace ``prefix`` names, plus ``"summary"``: one query for its spans,
    one for its logs, and records only for the spans that need one (see the module docstring)."""
    wanted = _traces.resolve_trace_id(models, prefix)
    summary = _traces.trace_summary(models, wanted)
    rows = _traces.span_rows(models, lookups, [wanted])
    logs = _traces.logs_of(models, lookups, wanted)

    def by_record(spans: list[SpanRecord]) -> list[SpanRecord]:
        return with_transcripts(resolve_bodies(models, spans), logs)

    logged = {log.span_id for log in logs if log.span_id is not None}
    spans = span_dicts(rows, lookups, logged, by_record)
    extra = _running.running_spans(models, lookups, [wanted])
    if extra:  # spans still open or abandoned: the record path's JSON, merged in start order
        ended = {span["span_id"] for span in spans}
        spans += [record.as_dict() for record in by_record([s for s in extra if s.span_id not in ended])]
        spans.sort(key=lambda span: (span["start_time_unix_nano"], span["span_id"]))
    return {
        "trace_id": summary.trace_id,
        "spans": spans,
        "logs": [log.as_dict() for log in logs],
        "summary": summary.as_dict(),
    }
