"""The viewer's app factory: routes (pages, API, live feed, static files) behind the security guard."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from otel_lens.web._api import api_routes, error
from otel_lens.web._diff_api import diff_routes
from otel_lens.web._live import live_route
from otel_lens.web._pages import not_found, page_routes
from otel_lens.web._reads import Reads
from otel_lens.web._security import ASGIApp, Guard

STATIC = Path(__file__).with_name("static")


def create_app(
    database: str, host: str = "127.0.0.1", port: int = 7318, token: str | None = None, otlp: ASGIApp | None = None
) -> ASGIApp:
    """The viewer of ``database`` as an ASGI app; ``host``/``port`` are where it is served (the Host check
    and the cookie name use them), ``token`` the one every request must carry when given, ``otlp`` the OTLP
    receiver's app to answer ``/v1/*`` (given by ``otel-lens serve``: the viewer itself never writes)."""
    reads = Reads(database)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            reads.close()

    async def http_error(request: Request, exc: Any) -> Response:
        status = getattr(exc, "status_code", 500)
        if request.url.path.startswith("/api/"):
            return error(status, str(getattr(exc, "detail", "")) or "error")
        if status == 404:
            return await not_found(request)
        return Response(str(getattr(exc, "detail", "")), status_code=status, media_type="text/plain")

    routes = [
        live_route(reads),
        *diff_routes(reads),  # before api_routes: its last route answers every other /api/ path with a 404
        *api_routes(reads),
        *page_routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    return Guard(app, host=host, port=port, token=token, otlp=otlp)
