"""Server span names by route template (``GET /items/{item_id}`` with ``http.route``), never by raw path.

OpenTelemetry's ASGI middleware names the server span before the app has routed the request, and by
default names it ``{method} {path}``: one name per id, so ``otel-lens stats`` gets a row per item.
``RouteNamer`` is the ``default_span_details`` callable the middleware takes for this, as
opentelemetry-instrumentation-starlette/-fastapi pass theirs: it asks the app's routes which one
will take the request, the way the router is about to (first full match, else the first partial
match such as a wrong method), and goes on into mounted apps, host routes and FastAPI's included
routers, so a mounted route is named by its whole template (``/sub/{tenant}/things/{tid}``).

When no route is known (a 404, a plain ASGI app that is not Starlette) the name is the method alone,
as the HTTP semantic conventions say (``{method}``, ``HTTP`` for an unknown method), and no
``http.route`` is set; a websocket is named by its route template, or ``websocket``.

Starlette is duck-typed (``routes``, ``matches()``, ``path``), never imported: otel-lens does not
depend on it, and plain ASGI apps pay one attribute look-up. Naming is best effort: a route whose
matching raises gives the method-only name, never a failed request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.util.http import sanitize_method

from otel_lens.facade._lifespan import Scope

_FULL, _PARTIAL = 2, 1  # starlette.routing.Match values, compared without importing Starlette
_MAX_DEPTH = 16  # mounts nest a few levels; this only guards against a mount cycle
_HTTP_ROUTE = "http.route"

try:  # FastAPI >= 0.137.2: the public way to see the routes of an included router
    from fastapi.routing import iter_route_contexts as _iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI or none: routers are plain routes there
    _iter_route_contexts = None


class RouteNamer:
    """``default_span_details`` for OpenTelemetryMiddleware: (span name, attributes) from the route template."""

    def __init__(self, app: Any) -> None:
        # A wrapped Starlette/FastAPI app is asked directly; inside a Starlette middleware stack the
        # app is ``scope["app"]`` (Starlette sets it before running its stack).
        self._app = app if isinstance(getattr(app, "routes", None), list) else None

    def __call__(self, scope: Scope) -> tuple[str, dict[str, Any]]:
        route = self.route(scope)
        if scope.get("type") == "websocket":
            return (route, {_HTTP_ROUTE: route}) if route else ("websocket", {})
        method = sanitize_method(str(scope.get("method") or "").strip()) or "HTTP"
        if method == "_OTHER":
            method = "HTTP"
        if route:
            return f"{method} {route}", {_HTTP_ROUTE: route}
        return method, {}

    def route(self, scope: Scope) -> str | None:
        """The template of the route that will take this request, or None when there is none or no router."""
        app = self._app if self._app is not None else scope.get("app")
        routes = getattr(app, "routes", None)
        if not routes:
            return None
        try:
            _, template = _match(routes, scope, "", 0)
        except Exception:  # a route's matcher failing is the router's business, not the span name's
            return None
        return template or None


def _match(routes: Iterable[Any], scope: Scope, prefix: str, depth: int) -> tuple[int, str | None]:
    """(match level, template) of the route among ``routes`` the router would pick; (0, None) for none."""
    partial: tuple[int, str | None] | None = None
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            # A FastAPI included router: its own matches() runs the inner matching and then forgets
            # which route won, so its routes are matched here instead (templates include its prefix).
            level, template = _match(_included(route), scope, prefix, depth + 1) if depth < _MAX_DEPTH else (0, None)
        else:
            level, child = route.matches(scope)
            level = level.value
            template = _resolve(route, child, scope, prefix, depth) if level else None
        if level == _FULL:
            return level, template
        if level == _PARTIAL and partial is None:
            partial = (level, template)
    return partial or (0, None)


def _resolve(route: Any, child: Scope, scope: Scope, prefix: str, depth: int) -> str | None:
    """The template of a matched route; a mount or host route goes on into what it routes to."""
    target = getattr(route, "starlette_route", None) or route  # FastAPI's view of a route inside a router
    path = getattr(target, "path", None)
    if not hasattr(target, "routes"):
        return prefix + path if isinstance(path, str) else None
    inner = prefix + path if isinstance(path, str) else prefix  # a Host route has no path
    routes = target.routes
    if not routes:
        return inner or None  # a mounted app with no routes (static files, a plain ASGI app): the mount
    if depth >= _MAX_DEPTH:
        return None
    level, template = _match(routes, {**scope, **child}, inner, depth + 1)
    return template if level else None  # the mounted app has no such route: its 404, method-only name


def _included(router: Any) -> Iterable[Any]:
    if _iter_route_contexts is not None:
        return _iter_route_contexts([router])  # type: ignore[no-any-return]
    return router.effective_route_contexts()  # type: ignore[no-any-return]  # pragma: no cover
