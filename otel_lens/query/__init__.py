"""The read path: :func:`open_store` and the results its queries return (shared by the CLI and the web viewer).

``__all__`` is what other layers (the CLI, the facade, the web viewer) may use; the ``_``-modules
here are private to the package. The filter vocabulary (levels, groupings, limits, trace-id prefixes)
is re-exported so a reader's command line checks a value exactly as the query will.
"""

from __future__ import annotations

from otel_lens.query._bundled_prices import bundled_prices
from otel_lens.query._diff import SpanDiff, TraceDiff, diff_traces, previous_trace
from otel_lens.query._filters import (
    LEVELS,
    MAX_LIMIT,
    STATS_GROUPS,
    STATS_HISTOGRAMS,
    USAGE_GROUPS,
    cutoff_ns,
    missing_unit,
    trace_id_prefix,
)
from otel_lens.query._live import LiveBatch, LiveFeed
from otel_lens.query._message_model import Message, MessagePart, ToolDefinition, Transcript
from otel_lens.query._messages import CAPTURE_HINT, MESSAGE_EVENTS, log_event_name, transcript_of
from otel_lens.query._pages import LogPage, TracePage, log_dict
from otel_lens.query._session_turns import SessionDetail, Turn
from otel_lens.query._sessions import SessionPage, SessionSummary
from otel_lens.query._sql import DEFAULT_ROW_LIMIT as SQL_ROW_LIMIT
from otel_lens.query._sql import DEFAULT_TIMEOUT_S as SQL_TIMEOUT_S
from otel_lens.query._sql import SqlError, SqlRefused, SqlResult, SqlTimeout, run_sql
from otel_lens.query._usage_series import UsagePoint
from otel_lens.query.errors import (
    AmbiguousSessionId,
    AmbiguousTraceId,
    DatabaseNotReady,
    SessionNotFound,
    TraceNotFound,
)
from otel_lens.query.otlp import export_logs_request, export_request
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
from otel_lens.query.store import Store, open_store, resolve_database
from otel_lens.store.database import parse_location
from otel_lens.store.errors import StoreError
from otel_lens.store.rows import BODY_KEYS
from otel_lens.store.sweeper import PruneSummary

__all__ = [
    "BODY_KEYS",
    "CAPTURE_HINT",
    "LEVELS",
    "MAX_LIMIT",
    "MESSAGE_EVENTS",
    "SQL_ROW_LIMIT",
    "SQL_TIMEOUT_S",
    "STATS_GROUPS",
    "STATS_HISTOGRAMS",
    "USAGE_GROUPS",
    "AmbiguousSessionId",
    "AmbiguousTraceId",
    "DatabaseNotReady",
    "LiveBatch",
    "LiveFeed",
    "LogPage",
    "LogRecord",
    "Message",
    "MessagePart",
    "PriceTable",
    "PruneSummary",
    "ScopeInfo",
    "SessionDetail",
    "SessionNotFound",
    "SessionPage",
    "SessionSummary",
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
    "StoreError",
    "ToolDefinition",
    "TraceDetail",
    "TraceDiff",
    "TraceNotFound",
    "TracePage",
    "TraceSummary",
    "Transcript",
    "Turn",
    "UsagePoint",
    "UsageRow",
    "bundled_prices",
    "cutoff_ns",
    "diff_traces",
    "export_logs_request",
    "export_request",
    "log_dict",
    "log_event_name",
    "missing_unit",
    "open_store",
    "parse_location",
    "previous_trace",
    "resolve_database",
    "run_sql",
    "trace_id_prefix",
    "transcript_of",
]
