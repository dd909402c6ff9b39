"""Carry the current span into threads: ``configure()`` turns on OpenTelemetry's threading instrumentation.

Without it, a ``lens_fn`` (or any span) started in a ``ThreadPoolExecutor`` task or a
``threading.Thread`` begins a trace of its own, because OTel context is per thread.
``opentelemetry-instrumentation-threading`` captures the context at ``Thread.start()`` /
``ThreadPoolExecutor.submit()`` and attaches it in the thread. Its instrumentor is a process-wide
singleton that knows whether it is on, so this never wraps twice (``opentelemetry-instrument`` may have
turned it on already), and :func:`stop` undoes only what :func:`start` did.
"""

from __future__ import annotations

import os

from opentelemetry.instrumentation.threading import ThreadingInstrumentor


def start() -> bool:
    """Turn the threading instrumentation on unless it is on or disabled; True when this call turned it on."""
    disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    if "threading" in {name.strip() for name in disabled.split(",")}:
        return False  # the user switched it off for opentelemetry-instrument: the same choice here
    instrumentor = ThreadingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return False
    instrumentor.instrument()
    return True


def stop() -> None:
    """Undo :func:`start` (call only when it returned True)."""
    instrumentor = ThreadingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
