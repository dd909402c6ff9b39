"""Undo what a test did to process-wide telemetry state: OTel's global providers and otel-lens' ``configure()``.

OpenTelemetry lets ``set_tracer_provider`` / ``set_logger_provider`` succeed once per process and
offers no public way to unset them (its own test suite resets the same private module globals, in
``opentelemetry.test.globals_test``). That one private poke lives here, so test code never reaches
into the SDK; if a future OpenTelemetry adds a public reset, this is the only place to change.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.util._once import Once

from otel_lens.facade import current_lens


@contextlib.contextmanager
def otel_globals_restored() -> Iterator[None]:
    """Run a block that may set the global tracer/logger providers or call ``configure()``; undo all of it.

    Inside the block the globals start unset (a ``set_tracer_provider`` there takes effect); afterwards
    the block's ``configure()`` handle is shut down and the providers, the root logger's handlers and
    the SIGTERM handler are what they were before.
    """
    # Private: OpenTelemetry's globals and their set-once guards (see the module docstring).
    saved_trace = (trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE)
    saved_logs = (logs_internal._LOGGER_PROVIDER, logs_internal._LOGGER_PROVIDER_SET_ONCE)
    root = logging.getLogger()
    saved_handlers = list(root.handlers)
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = None, Once()
    logs_internal._LOGGER_PROVIDER, logs_internal._LOGGER_PROVIDER_SET_ONCE = None, Once()
    try:
        yield
    finally:
        lens = current_lens()
        if lens is not None:
            lens.shutdown()  # also forgets the settings Logger and lens_fn ran with
        root.handlers[:] = saved_handlers
        signal.signal(signal.SIGTERM, saved_sigterm)
        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved_trace
        logs_internal._LOGGER_PROVIDER, logs_internal._LOGGER_PROVIDER_SET_ONCE = saved_logs
