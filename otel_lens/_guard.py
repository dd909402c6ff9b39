"""Marks work done by otel-lens itself, so its own database and logging activity never feeds back into it.

Every database statement otel-lens runs is inside :func:`internal`: opening and migrating (exporter
construction, ``prune``), the writer (each export), the retention sweeper thread and the read API
(``open_store()``, ``lens.store``, the CLI). There the OTel suppress-instrumentation key is set
(instrumented sqlite3 or psycopg do not trace it), Peewee's SQL debug records are dropped (so an
application logging at DEBUG neither prints nor stores otel-lens's SQL, while its own Peewee queries
log as before), and a log export that re-enters from the same thread (a synchronous log processor on
the root logger) is refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context

_state = threading.local()


def is_internal() -> bool:
    """True while this thread is inside otel-lens' own database work (open, write, sweep or read)."""
    return getattr(_state, "depth", 0) > 0


@contextmanager
def internal() -> Iterator[None]:
    """Run a block as otel-lens' own work (see the module docstring)."""
    _state.depth = getattr(_state, "depth", 0) + 1
    token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        context.detach(token)
        _state.depth -= 1


class _DropInternalRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not is_internal()


logging.getLogger("peewee").addFilter(_DropInternalRecords())
