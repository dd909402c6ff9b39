"""The read path: :func:`open_store` and the results its queries return (shared by the CLI and the web viewer)."""

from __future__ import annotations

from otel_lens.query._live import LiveBatch, LiveFeed
from otel_lens.query._pages import LogPage, TracePage, log_dict
from otel_lens.query._usage_series import UsagePoint
from otel_lens.query.errors import AmbiguousTraceId, DatabaseNotReady, TraceNotFound
from otel_lens.query.prices import PriceTable
from otel_lens.query.results import (
    LogRecord,
    ScopeInfo,
    SpanEvent,
    SpanLink,
    SpanRecord,
    StatRow,
    TraceDetail,
    TraceSummary,
    UsageRow,
)
from otel_lens.query.store import Store, open_store

__all__ = [
    "AmbiguousTraceId",
    "DatabaseNotReady",
    "LiveBatch",
    "LiveFeed",
    "LogPage",
    "LogRecord",
    "PriceTable",
    "ScopeInfo",
    "SpanEvent",
    "SpanLink",
    "SpanRecord",
    "StatRow",
    "Store",
    "TraceDetail",
    "TraceNotFound",
    "TracePage",
    "TraceSummary",
    "UsagePoint",
    "UsageRow",
    "log_dict",
    "open_store",
]
