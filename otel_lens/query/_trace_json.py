"""One trace's JSON shape built straight from its stored rows, for the viewer's ``/api/traces/{id}`` and ``show --json``.

The record path (``span_record`` → :class:`SpanRecord` → ``as_dict()``) decodes every attribute map into
Python values, restores tagged values, then converts them back with ``jsonable``: pure-Python work per
value that took ~80 % of the time of a 10,000-span trace. Here the stored JSON text is parsed by orjson
(in C) and put into the shape as it is, because for plain text (no tagged value, no integer beyond 64
bits, no overflowing float, no key longer than ``jsonable`` keeps) that parse *is* what the record path
would produce. Any span for which this is not known to hold (a tagged value, a captured body to resolve,
a GenAI span with a transcript, a malformed column) goes through the record path itself, so both paths
give the same JSON byte for byte (``tests/test_web_bigtrace.py`` compares them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from otel_lens.query import _traces
from otel_lens.query._bodies import resolve_bodies
from otel_lens.query._decode import Lookups, span_record
from otel_lens.query._messages import with_transcripts
from otel_lens.query.results import SPAN_KINDS, STATUS_CODES, SpanRecord, rfc3339
from otel_lens.store.codec import jsonable
from otel_lens.store.schema import Models

_KEY_LIMIT = 256  # jsonable() cuts longer keys (codec._clean): such a map takes the record path
_INT64_MAX = 2**63 - 1
# Text that may decode to something jsonable() changes: a tag object ({"$bytes": …}), digits that may be
# an integer beyond 64 bits, an exponent that may overflow to ±inf. One search finds any of them (rare:
# event times have 19 digits, so events are looked at closer by _plain_text).
_SUSPECT = re.compile(r'\{\s*"\$|\d[eE]\+?\d{3}|\d{19}')
_TAG = re.compile(r'\{\s*"\$')
_LONG_DIGITS = re.compile(r"\d{19,}")
_BIG_EXPONENT = re.compile(r"\d[eE]\+?\d{3}")
# Attribute keys that make the record path add something (a resolved body, a transcript).
_SPECIAL = re.compile(r'"(?:lens\.body\.|gen_ai\.|llm\.|openinference\.span\.kind")')


class _NotPlain(Exception):
    """A column whose parse may differ from the record path's value: that span takes the record path."""


def _plain_text(text: str) -> bool:
    if _SUSPECT.search(text) is None:
        return True
    if _TAG.search(text) or _BIG_EXPONENT.search(text):
        return False
    return not any(int(digits) > _INT64_MAX for digits in _LONG_DIGITS.findall(text))


def _short_keys(value: Any) -> bool:
    """No mapping inside ``value`` has a key ``jsonable`` would cut."""
    if isinstance(value, dict):
        return all(len(key) <= _KEY_LIMIT and _short_keys(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_short_keys(item) for item in value if isinstance(item, (dict, list)))
    return True


def _parsed(text: str | None, empty: Any) -> Any:
    """The value of a plain JSON column, ``empty`` for NULL; raises :class:`_NotPlain` otherwise."""
    if text is None:
        return empty
    if not _plain_text(text):
        raise _NotPlain
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _NotPlain from None
    # A key jsonable() would cut is longer than _KEY_LIMIT, so shorter text needs no look at the keys.
    if len(text) > _KEY_LIMIT and not _short_keys(value):
        raise _NotPlain
    return value


def _counts(values: list[Any]) -> bool:
    return all(value is None or type(value) is int for value in values)


def _attributes(text: str) -> dict[str, Any]:
    value = _parsed(text, None)
    return value if isinstance(value, dict) else {}


def _events(text: str) -> list[dict[str, Any]]:
    items = _parsed(text, None) or []
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
    items = _parsed(text, None) or []
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
        self._resources: dict[int, Any] = {}
        self._scopes: dict[int, Any] = {}

    def resource(self, row_id: int) -> Any:
        found = self._resources.get(row_id)
        if found is None:
            found = self._resources[row_id] = jsonable(self._lookups.resource(row_id))
        return found

    def scope(self, row_id: int) -> Any:
        found = self._scopes.get(row_id)
        if found is None:
            found = self._scopes[row_id] = self._lookups.scope(row_id).as_dict()
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
                "status": {"code": statuses.get(int(status), "UNSET"), "message": message},
                "attributes": {} if attributes is None else _attributes(attributes),
                "events": [] if events is None else _events(events),
                "links": [] if links is None else _links(links),
                "resource": shared.resource(int(resource_id)),
                "scope": shared.scope(int(scope_id)),
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
    return {
        "trace_id": summary.trace_id,
        "spans": span_dicts(rows, lookups, logged, by_record),
        "logs": [log.as_dict() for log in logs],
        "summary": summary.as_dict(),
    }
