"""What the facade's decorators share: the tracer (following the global provider), cheap attributes, span failure."""

from __future__ import annotations

import contextlib
from typing import Any

from opentelemetry import context, trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span as SdkSpan
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


def add_attributes(span: trace.Span, attributes: dict[str, int]) -> None:
    """Add integer attributes to ``span`` before it ends, as cheaply as the SDK allows; never raises.

    The SDK's ``set_attribute`` validates and copies each value under two locks, which is most of
    what lens_fn adds to a call. Integers need no cleaning, so on an SDK span whose attribute map
    has room under its count limit they go straight into that map, under its lock; any other span
    (non-recording, another SDK, a full map) takes the public API, which applies the limits.
    """
    try:
        if isinstance(span, SdkSpan):
            bounded, lock = getattr(span, "_attributes", None), getattr(span, "_lock", None)
            inner = getattr(bounded, "_dict", None)
            if type(bounded) is BoundedAttributes and type(inner) is dict and lock is not None:
                limit = bounded.maxlen
                with lock:  # the SDK span's lock: set_attributes holds it too, and end() sets end_time under it
                    if span.end_time is None and (limit is None or len(inner) + len(attributes) <= limit):
                        inner.update(attributes)
                        return
        span.set_attributes(attributes)
    except Exception:  # measuring must never fail the call
        pass


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


def detach(token: Any) -> None:
    """Restore the context ``token`` came from, always, without OTel's "Failed to detach context" noise.

    An async wrapper must detach even when the code it wraps left something attached (a span held open
    across a ``yield``), or its span would stay current for the caller. When a coroutine is closed from
    elsewhere (garbage collected mid-await) its ``finally`` runs in a foreign context where the token
    is not valid: that case alone is skipped, quietly.
    """
    with contextlib.suppress(Exception):  # a token from another context: nothing of ours is attached there
        context._RUNTIME_CONTEXT.detach(token)
