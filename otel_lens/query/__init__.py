"""The read path: :func:`open_store` and the results its queries return (shared by the CLI and the web viewer).

``__all__`` is what other layers (the CLI, the facade, the web viewer) may use; the ``_``-modules
here are private to the package. The filter vocabulary (levels, groupings, limits, trace-id prefixes)
is re-exported so a reader's command line checks a value exactly as the query will.
"""

from __future__ import annotations

from otel_lens.query._bundled_prices import bundled_prices
from otel_lens.query._filters import LEVELS, MAX_LIMIT, STATS_GROUPS, USAGE_GROUPS, missing_unit, trace_id_prefix
from otel_lens.query.errors import AmbiguousTraceId, DatabaseNotReady, TraceNotFound
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
    "LEVELS",
    "MAX_LIMIT",
    "STATS_GROUPS",
    "USAGE_GROUPS",
    "AmbiguousTraceId",
    "DatabaseNotReady",
    "LogRecord",
    "PriceTable",
    "PruneSummary",
    "ScopeInfo",
    "SpanEvent",
    "SpanLink",
    "SpanRecord",
    "StatRow",
    "Store",
    "StoreError",
    "TraceDetail",
    "TraceNotFound",
    "TraceSummary",
    "UsageRow",
    "bundled_prices",
    "export_logs_request",
    "export_request",
    "missing_unit",
    "open_store",
    "parse_location",
    "resolve_database",
    "trace_id_prefix",
]
