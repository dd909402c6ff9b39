"""The read API's results: small dataclasses whose ``as_dict()`` gives the JSON shapes of docs/REFERENCE.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from otel_lens.query._filters import STATS_HISTOGRAMS, choose
from otel_lens.query._message_model import Transcript
from otel_lens.store import histogram
from otel_lens.store.codec import jsonable

SPAN_KINDS = {0: "INTERNAL", 1: "SERVER", 2: "CLIENT", 3: "PRODUCER", 4: "CONSUMER"}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


def rfc3339(ns: int) -> str:
    """Unix nanoseconds as an RFC 3339 UTC time with microseconds: ``2024-01-02T03:04:05.678901Z``."""
    seconds, rest = divmod(int(ns), 10**9)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{rest // 1000:06d}Z"


_SHARED: dict[int, tuple[Any, Any]] = {}
_SHARED_SIZE = 256


def _shared_jsonable(value: dict[str, Any]) -> Any:
    """``jsonable(value)`` for a dict many records share (a resource, read once per store): converted once.

    Keyed by identity, and the entry holds the dict itself, so a dict freed and its id reused is no hit.
    (Converting one resource per span was 40% of the JSON of a 10,000-span trace.)
    """
    found = _SHARED.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    converted = jsonable(value)
    if len(_SHARED) >= _SHARED_SIZE:
        _SHARED.clear()
    _SHARED[id(value)] = (value, converted)
    return converted


@dataclasses.dataclass(frozen=True)
class TraceSummary:
    """One row of the trace list."""

    trace_id: str
    root_name: str
    service: str | None
    start_ns: int
    end_ns: int
    span_count: int
    error_count: int
    # "running" while a span runs, else "abandoned" if one was left open, else "ended"; end_ns is then
    # "so far" (now, or the abandoning writer's last heartbeat). span_count counts ended spans only.
    state: str = "ended"

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def start_time(self) -> str:
        """The start as RFC 3339 UTC (``2024-01-02T03:04:05.678901Z``), as in the JSON shape."""
        return rfc3339(self.start_ns)

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "root_name": self.root_name,
            "service": self.service,
            "start_time": self.start_time,
            "duration_ms": self.duration_ms,
            "span_count": self.span_count,
            "error_count": self.error_count,
            "state": self.state,
        }


@dataclasses.dataclass(frozen=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]
    dropped_attributes_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "time_unix_nano": self.time_ns,
            "timestamp": rfc3339(self.time_ns),
            "attributes": jsonable(self.attributes),
        }


@dataclasses.dataclass(frozen=True)
class SpanLink:
    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    flags: int | None = None  # OTLP link flags (W3C trace flags + is-remote bits); None when stored before schema 3
    trace_state: str | None = None
    dropped_attributes_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "span_id": self.span_id, "attributes": jsonable(self.attributes)}


@dataclasses.dataclass(frozen=True)
class ScopeInfo:
    """The instrumentation scope (tracer or logger) that produced a span or log record."""

    name: str
    version: str | None
    attributes: dict[str, Any]
    schema_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "attributes": jsonable(self.attributes)}


@dataclasses.dataclass(frozen=True)
class SpanRecord:
    """One stored span, ids in hex, attributes decoded.

    Captured bodies (``lens.body.request`` and the like) are in ``attributes`` as their text; a body
    whose row retention already deleted keeps its ``sha256:…`` reference and is named in ``missing_bodies``.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    flags: int
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str | None
    attributes: dict[str, Any]
    events: list[SpanEvent]
    links: list[SpanLink]
    resource: dict[str, Any]
    scope: ScopeInfo
    missing_bodies: tuple[str, ...] = ()
    # What an OTLP export needs besides (kept since schema 3; empty or 0 for spans stored before it).
    trace_state: str | None = None
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0
    resource_schema_url: str | None = None
    # A GenAI span's conversation, read by Store.trace() from the span and its logs (None on other spans).
    transcript: Transcript | None = None
    # "ended", or "running"/"abandoned" (see otel_lens.query._running): then end_ns is only "so far" (the read
    # time, or the abandoning writer's last heartbeat) and the JSON's end_time_unix_nano is null.
    state: str = "ended"

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def status(self) -> dict[str, str | None]:
        """``{"code": "UNSET" | "OK" | "ERROR", "message": …}``, as in the JSON shape."""
        return {"code": self.status_code, "message": self.status_message}

    @property
    def service(self) -> str | None:
        service = self.resource.get("service.name")
        return None if service is None else str(service)

    def as_dict(self) -> dict[str, Any]:
        span = {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "name": self.name,
            "kind": self.kind,
            "start_time_unix_nano": self.start_ns,
            "end_time_unix_nano": self.end_ns if self.state == "ended" else None,
            "duration_ms": self.duration_ms,
            "state": self.state,
            "status": self.status,
            "attributes": jsonable(self.attributes),
            "events": [event.as_dict() for event in self.events],
            "links": [link.as_dict() for link in self.links],
            "resource": _shared_jsonable(self.resource),
            "scope": self.scope.as_dict(),
        }
        if self.transcript is not None:  # GenAI spans only: "messages" in order, "genai" the rest
            span |= self.transcript.as_dict()
        return span


@dataclasses.dataclass(frozen=True)
class LogRecord:
    """One stored log record; ``id`` orders records by arrival (what ``logs --follow`` tails)."""

    id: int
    timestamp_ns: int
    observed_ns: int
    severity_text: str | None
    severity_number: int | None
    body: Any
    attributes: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    service: str | None
    logger: str | None
    event_name: str | None
    # What an OTLP export needs besides (flags and the dropped count kept since schema 3).
    flags: int = 0
    dropped_attributes_count: int = 0
    resource: dict[str, Any] = dataclasses.field(default_factory=dict)
    resource_schema_url: str | None = None
    scope: ScopeInfo | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "timestamp": rfc3339(self.timestamp_ns),
            "severity_text": self.severity_text,
            "severity_number": self.severity_number,
            "body": jsonable(self.body),
            "attributes": jsonable(self.attributes),
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "service": self.service,
            "logger": self.logger,
            "event_name": self.event_name,
        }


@dataclasses.dataclass(frozen=True)
class TraceDetail:
    """A whole trace: its rollup, its spans by start time and its logs by time."""

    summary: TraceSummary
    spans: list[SpanRecord]
    logs: list[LogRecord]

    @property
    def trace_id(self) -> str:
        return self.summary.trace_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "spans": [span.as_dict() for span in self.spans],
            "logs": [log.as_dict() for log in self.logs],
        }


_chart_grid = histogram.chart_grid  # as_dict's parameter ``histogram`` shadows the module


@dataclasses.dataclass(frozen=True)
class StatRow:
    """Latency and errors of one kind of span over a window; percentiles are nearest-rank.

    Counts are exact. Percentiles are exact when ``exact``, else read from the hourly histograms and
    within ±3.125 % of the exact nearest-rank value.

    By name, a row is one (name, kind, service): a ``lens_route("GET /grep")`` span and the server span
    of the same name are different rows, as are two services' ``GET /health``. By service, a row is a
    whole service (``kind`` is ``None``: every kind counts).
    """

    by: str
    key: str
    count: int
    error_count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    kind: str | None = None
    service: str | None = None
    # The latency histogram the percentiles were read from (see otel_lens.store.histogram: first bin and
    # counts); ``exact``: the percentiles are exact, not read from the histogram.
    distribution: histogram.Dense = (0, ())
    exact: bool = True

    @property
    def histogram(self) -> list[tuple[int, int, int]]:
        """The latency distribution for a chart: at most 40 ``(lo_ns, hi_ns, count)`` bins log-spaced from the
        shortest to the longest duration, empty ones included, shortest first (its size does not grow with the
        spans counted; computed on demand: the table view never needs it)."""
        return histogram.chart_bins(self.distribution)

    @property
    def fine_histogram(self) -> list[tuple[int, int, int]]:
        """Every non-empty bin the percentiles were read from (16 per power of two), shortest first."""
        return histogram.fine_bins(self.distribution)

    @property
    def error_rate(self) -> float:
        return self.error_count / self.count if self.count else 0.0

    def as_dict(self, histogram: str = "chart") -> dict[str, Any]:
        """The JSON row; ``histogram`` ``"chart"`` (:attr:`histogram`), ``"fine"`` (:attr:`fine_histogram`) or
        ``"none"`` (an empty list).

        Raises:
            ValueError: ``histogram`` is neither.
        """
        mode = choose(histogram, STATS_HISTOGRAMS, "histogram")
        if mode == "none":  # the key stays (one shape), empty: for a table or p50–p99 chart that draws no bins
            bins: list[list[float]] = []
        elif mode == "fine":
            bins = [[lo / 1e6, hi / 1e6, count] for lo, hi, count in self.fine_histogram]
        else:  # each edge converted once: a bin's upper edge is the next one's lower edge
            edges, counts = _chart_grid(self.distribution)
            ms = [edge / 1e6 for edge in edges]
            bins = [[lo, hi, count] for lo, hi, count in zip(ms, ms[1:], counts, strict=False)]
        row: dict[str, Any] = {self.by: self.key, "kind": self.kind}
        if self.by == "name":
            row["service"] = self.service
        return row | {
            "count": self.count,
            "error_count": self.error_count,
            "error_rate": self.error_rate,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "exact": self.exact,
            "histogram": bins,
        }


@dataclasses.dataclass(frozen=True)
class UsageRow:
    """GenAI token totals of one model, provider or service; ``cost`` when a price covers all of it."""

    by: str
    key: str
    span_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    cost: float | None = None
    reasoning_tokens: int = 0  # part of output_tokens
    price_key: str | None = None  # the price table key(s) or genai-prices model that priced the row
    price_match: str | None = None  # "exact", "prefix" (a key followed by a version/date suffix), None: no price

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            self.by: self.key,
            "span_count": self.span_count,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
            "price_key": self.price_key,
            "price_match": self.price_match,
        }
