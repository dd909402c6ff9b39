"""The read path: :func:`open_store` and the results its queries return (shared by the CLI and the web viewer)."""

from __future__ import annotations

from otel_lens.query._diff import SpanDiff, TraceDiff, diff_traces, previous_trace
from otel_lens.query._filters import trace_id_prefix
from otel_lens.query._live import LiveBatch, LiveFeed
from otel_lens.query._message_model import Message, MessagePart, ToolDefinition, Transcript
from otel_lens.query._messages import MESSAGE_EVENTS, log_event_name, transcript_of
from otel_lens.query._pages import LogPage, TracePage, log_dict
from otel_lens.query._sql import SqlError, SqlRefused, SqlResult, SqlTimeout, run_sql
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
    "MESSAGE_EVENTS",
    "AmbiguousTraceId",
    "DatabaseNotReady",
    "LiveBatch",
    "LiveFeed",
    "LogPage",
    "LogRecord",
    "Message",
    "MessagePart",
    "PriceTable",
    "ScopeInfo",
    "SpanDiff",
    "SpanEvent",
    "SpanLink",
    "SpanRecord",
    "SqlError",
    "SqlRefused",
    "SqlResult",
    "SqlTimeout",
    "StatRow",
    "Store",
    "ToolDefinition",
    "TraceDetail",
    "TraceDiff",
    "TraceNotFound",
    "TracePage",
    "TraceSummary",
    "Transcript",
    "UsagePoint",
    "UsageRow",
    "diff_traces",
    "log_dict",
    "log_event_name",
    "open_store",
    "previous_trace",
    "run_sql",
    "trace_id_prefix",
    "transcript_of",
]
