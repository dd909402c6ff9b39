"""otel-lens: local-first tracing and logs for Python services, on OpenTelemetry.

Spans and logs go through the real OTel SDK into a local SQLite database (or PostgreSQL);
the ``otel-lens`` CLI reads them back.
"""

from __future__ import annotations

from otel_lens.export import RunningSpanProcessor
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.facade import Lens, Logger, configure, instrument_asgi, lens_fn, lens_route
from otel_lens.query import (
    AmbiguousTraceId,
    LogRecord,
    SpanRecord,
    StatRow,
    Store,
    TraceDetail,
    TraceNotFound,
    TraceSummary,
    UsageRow,
    open_store,
)
from otel_lens.settings import Settings, SettingsError
from otel_lens.store.errors import NotALensDatabase, SchemaTooNew, StoreError, StoreFull
from otel_lens.store.sweeper import PruneSummary

__all__ = [
    "AmbiguousTraceId",
    "Lens",
    "LensLogExporter",
    "LensSpanExporter",
    "LogRecord",
    "Logger",
    "NotALensDatabase",
    "PruneSummary",
    "RunningSpanProcessor",
    "SchemaTooNew",
    "Settings",
    "SettingsError",
    "SpanRecord",
    "StatRow",
    "Store",
    "StoreError",
    "StoreFull",
    "TraceDetail",
    "TraceNotFound",
    "TraceSummary",
    "UsageRow",
    "configure",
    "instrument_asgi",
    "lens_fn",
    "lens_route",
    "open_store",
]
