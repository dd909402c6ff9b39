"""The types of ``instrument_asgi``: the app it takes and returns, and its keywords spelled out.

A Starlette or FastAPI app (:class:`MiddlewareApp`: it has ``user_middleware`` and ``add_middleware``)
gets the middleware added in place and comes back as the same object, so ``app = instrument_asgi(app)``
keeps the app's type for ``@app.get``; any other ASGI callable comes back wrapped, as an :data:`ASGIApp`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict, TypeVar

from opentelemetry.util.http import ExcludeList

from otel_lens.facade._lifespan import ASGIApp, Receive, Scope, Send


class MiddlewareApp(Protocol):
    """An ASGI app that takes middleware in place (Starlette, FastAPI and their subclasses)."""

    user_middleware: list[Any]

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


MiddlewareAppT = TypeVar("MiddlewareAppT", bound=MiddlewareApp)


class AsgiOptions(TypedDict, total=False):
    """``instrument_asgi``'s keywords: otel-lens' own first, then those of OpenTelemetry's ``OpenTelemetryMiddleware``."""

    capture_bodies: bool | None
    max_body_size: int | str | None
    redact: str | list[str] | None
    exclude_spans: list[str] | None  # "receive" and/or "send"
    excluded_urls: str | ExcludeList | None
    default_span_details: Callable[[Scope], tuple[str, dict[str, Any]]] | None
    server_request_hook: Callable[..., None] | None
    client_request_hook: Callable[..., None] | None
    client_response_hook: Callable[..., None] | None
    tracer_provider: Any
    meter_provider: Any
    tracer: Any
    meter: Any
    http_capture_headers_server_request: list[str] | None
    http_capture_headers_server_response: list[str] | None
    http_capture_headers_sanitize_fields: list[str] | None


__all__ = ["ASGIApp", "AsgiOptions", "MiddlewareApp", "MiddlewareAppT"]
