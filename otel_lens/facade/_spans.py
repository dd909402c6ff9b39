"""What the facade's decorators share: the tracer (following the global provider) and how a span fails."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

_SCOPE = "otel_lens"
_cached: tuple[Any, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """The otel-lens tracer of the current global provider (re-resolved when the provider changes)."""
    global _cached
    provider = trace.get_tracer_provider()
    cached = _cached
    if cached is not None and cached[0] is provider:
        return cached[1]
    got = provider.get_tracer(_SCOPE)
    _cached = (provider, got)
    return got


def fail(span: trace.Span, exc: BaseException) -> None:
    """Mark ``span`` as failed by ``exc`` (an exception event and ERROR status); never raises."""
    try:
        if not span.is_recording():
            return
        span.record_exception(exc, escaped=True)
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            return  # a clean exit is not an error
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:4096]))
    except Exception:  # recording must never replace the user's exception
        pass
