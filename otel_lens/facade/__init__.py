"""The facade: what applications import — configure(), lens_fn, lens_route, instrument_asgi, Logger.

``__all__`` is what other layers may use: the package root re-exports the application-facing names,
and the ``opentelemetry-instrument`` distro (``otel_lens.distro``) takes the exit flushing and the
stdlib-logging bridge from here. The ``_``-modules are private to the facade.
"""

from __future__ import annotations

from otel_lens.facade._asgi_types import ASGIApp, AsgiOptions, MiddlewareApp
from otel_lens.facade._exit import flush_after_uvicorn_shutdown, flush_on_sigterm, flush_providers
from otel_lens.facade._routing import route_stdlib_logging
from otel_lens.facade.asgi import instrument_asgi, lens_route
from otel_lens.facade.configure import ConfigureOptions, Lens, configure, current_lens
from otel_lens.facade.functions import lens_fn
from otel_lens.facade.logger import Logger

__all__ = [
    "ASGIApp",
    "AsgiOptions",
    "ConfigureOptions",
    "Lens",
    "Logger",
    "MiddlewareApp",
    "configure",
    "current_lens",
    "flush_after_uvicorn_shutdown",
    "flush_on_sigterm",
    "flush_providers",
    "instrument_asgi",
    "lens_fn",
    "lens_route",
    "route_stdlib_logging",
]
