"""Finding tracing middleware already in an ASGI app, so a request gets one server span, not two.

An app can be traced before ``instrument_asgi`` sees it, or after: ``instrument_asgi`` called twice;
``opentelemetry-instrument`` with the Starlette or FastAPI instrumentation (Starlette's adds
OpenTelemetry's middleware to ``user_middleware`` when the app is created; FastAPI's wraps the
middleware stack when it is built, lazily, at the first request, whatever the order of calls);
``FastAPIInstrumentor.instrument_app(app)``; or an app wrapped in ``OpenTelemetryMiddleware`` by hand.
What can be seen before the first request is looked for here; what is only known while a request
runs (an OpenTelemetry server span already current) is checked by ``LensMiddleware`` itself.

Middleware chains are walked through their ``.app`` attribute, the convention Starlette, FastAPI
and OpenTelemetry's middleware all follow (FastAPI's own tracing looks for OpenTelemetry's
middleware the same way).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

_MAX_CHAIN = 64  # a middleware stack is a few layers deep; this bounds a chain that loops


def is_otel(middleware_class: Any) -> bool:
    """Whether a middleware class is OpenTelemetry's ASGI middleware (or a subclass of it)."""
    return isinstance(middleware_class, type) and issubclass(middleware_class, OpenTelemetryMiddleware)


def user_middleware(app: Any) -> list[Any] | None:
    """A Starlette/FastAPI app's ``user_middleware`` while its stack is not built yet (it can still change)."""
    entries = getattr(app, "user_middleware", None)
    if isinstance(entries, list) and getattr(app, "middleware_stack", None) is None and hasattr(app, "add_middleware"):
        return entries
    return None


def otel_entry(entries: list[Any]) -> int | None:
    """Index of the innermost OpenTelemetry middleware in a ``user_middleware`` list (index 0 runs first)."""
    found = None
    for index, entry in enumerate(entries):
        if is_otel(getattr(entry, "cls", None)):
            found = index
    return found


def in_chain(app: Any, lens_class: type) -> tuple[Any, OpenTelemetryMiddleware | None]:
    """In an already built chain (the app itself, or its built stack, down ``.app``): the first
    ``lens_class`` middleware and the first OpenTelemetry middleware that is not inside one of ours."""
    seen: set[int] = set()
    current = getattr(app, "middleware_stack", None) or app
    otel: OpenTelemetryMiddleware | None = None
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        if isinstance(current, lens_class):
            return current, otel
        if otel is None and isinstance(current, OpenTelemetryMiddleware):
            otel = current
        current = getattr(current, "app", None)
    return None, otel
