"""Helpers for tests of otel-lens and of applications that use it (as ``logfire.testing`` and ``structlog.testing``).

- :class:`IncrementalIdGenerator`: trace and span ids 1, 2, 3, … for a ``TracerProvider``.
- :class:`SpanFactory`, :class:`LogFactory`: real SDK spans and log records, made by the SDK's own
  providers and kept in memory, to hand to ``LensSpanExporter.export`` / ``LensLogExporter.export``.
- :func:`otel_globals_restored`: a context manager undoing a block's global tracer/logger providers,
  its ``configure()``, root logging handlers and SIGTERM handler.
- :class:`PostgresServer`, :func:`running_postgres`: a throwaway PostgreSQL server (initdb + pg_ctl)
  for tests against the PostgreSQL backend.

Nothing here is imported by otel-lens itself; importing it costs the application nothing.
"""

from __future__ import annotations

from otel_lens.testing._factories import LogFactory, SpanFactory
from otel_lens.testing._globals import otel_globals_restored
from otel_lens.testing._ids import IncrementalIdGenerator
from otel_lens.testing._postgres import INSTALL_HINT, PostgresServer, find_bindir, running_postgres

__all__ = [
    "INSTALL_HINT",
    "IncrementalIdGenerator",
    "LogFactory",
    "PostgresServer",
    "SpanFactory",
    "find_bindir",
    "otel_globals_restored",
    "running_postgres",
]
