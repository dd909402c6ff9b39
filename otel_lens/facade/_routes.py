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
# Methods sanitize_method() always keeps as they are (RFC 9110, 5789, and QUERY).
_KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"))


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
        method = scope.get("method") or ""
        if method not in _KNOWN_METHODS:  # sanitize_method reads the environment at each call: only for the odd ones
            method = sanitize_method(str(method).strip()) or "HTTP"
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
    path = _route_path(scope)
    kind_of_scope = scope.get("type")
    for route in routes:
        kind = _kinds.get(type(route))
        if kind is None:
            kind = _kinds[type(route)] = _kind_of(type(route))
        if kind in (_HTTP_LEAF, _WEBSOCKET_LEAF):
            # What Route/WebSocketRoute.matches() decide, without the path params and child scope they
            # build: the scope type, the regex, then (HTTP) the method; the template needs none of those.
            if kind_of_scope != ("http" if kind == _HTTP_LEAF else "websocket") or route.path_regex.match(path) is None:
                continue
            methods = route.methods if kind == _HTTP_LEAF else None
            level = _PARTIAL if methods and scope.get("method") not in methods else _FULL
            template = _resolve(route, {}, scope, prefix, depth)
        elif kind == _INCLUDED:
            # A FastAPI included router: its own matches() runs the inner matching and then forgets
            # which route won, so its routes are matched here instead (templates include its prefix).
            level, template = _match(_included(route), scope, prefix, depth + 1) if depth < _MAX_DEPTH else (0, None)
        else:
            regex = getattr(route, "path_regex", None) if kind == _REGEX else _context_regex(route) if kind else None
            if regex is not None and regex.match(path) is None:
                continue  # what matches() would find, without its dict building: most routes end here
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
    """The routes of a FastAPI included router, each with its whole path."""
    try:  # FastAPI keeps these built (rebuilt when routes change): nothing is allocated per request
        contexts: Iterable[Any] = router.effective_route_contexts()
    except Exception:  # pragma: no cover - a FastAPI that changed it: the public (FastAPI >= 0.137.2), allocating view
        from fastapi.routing import iter_route_contexts

        contexts = iter_route_contexts([router])
    return contexts


# -- the cheap first test ---------------------------------------------------------------------
# Route matching costs: Starlette's matches() builds the converted path params and a child scope for
# every route it tries. For the route classes whose matches() is decided by ``path_regex`` against
# the route path (Starlette's Route, WebSocketRoute and Mount; FastAPI's APIRoute and
# APIWebSocketRoute), a regex that does not match settles it; only the few that match are asked.
# Any other class (a Host, a subclass with its own matches()) is always asked. Classes are sorted
# once, on first sight. The leaf routes' matches() (Route, WebSocketRoute and FastAPI's subclasses of
# them, which only add the route to the child scope) is decided here in full: a route that matches
# leads nowhere further, so its child scope is not needed.

_ASK, _REGEX, _CONTEXT, _INCLUDED, _HTTP_LEAF, _WEBSOCKET_LEAF = 0, 1, 2, 3, 4, 5
_REGEX_DECIDED = (_REGEX, _HTTP_LEAF, _WEBSOCKET_LEAF)
_kinds: dict[type, int] = {}
_regex_deciders: set[Any] = set()
_http_leaves: set[Any] = set()
_websocket_leaves: set[Any] = set()
_effective_context: type | None = None
_api_route: type | None = None
_get_route_path: Any = None


def _load() -> None:
    global _effective_context, _api_route, _get_route_path
    from starlette import routing

    _get_route_path = getattr(routing, "get_route_path", None)
    if _get_route_path is None:  # pragma: no cover - an old Starlette: every route is asked, on the plain path
        _get_route_path = _plain_path
        return
    _regex_deciders.update((routing.Route.matches, routing.WebSocketRoute.matches, routing.Mount.matches))
    _http_leaves.add(routing.Route.matches)
    _websocket_leaves.add(routing.WebSocketRoute.matches)
    try:
        from fastapi import routing as fastapi_routing
    except ImportError:
        pass
    else:
        _regex_deciders.update((fastapi_routing.APIRoute.matches, fastapi_routing.APIWebSocketRoute.matches))
        # APIRoute.matches defers to an effective route context only inside an included router, whose
        # routes are matched through _CONTEXT here; at the top level it is Route.matches plus the route.
        _http_leaves.add(fastapi_routing.APIRoute.matches)
        _websocket_leaves.add(fastapi_routing.APIWebSocketRoute.matches)
        _effective_context = getattr(fastapi_routing, "_EffectiveRouteContext", None)
        _api_route = fastapi_routing.APIRoute


def _plain_path(scope: Scope) -> str:  # pragma: no cover - see _load
    return str(scope.get("path", ""))


def _route_path(scope: Scope) -> str:
    if _get_route_path is None:
        _load()
    return str(_get_route_path(scope))


def _kind_of(cls: type) -> int:
    if hasattr(cls, "effective_route_contexts"):
        return _INCLUDED
    matches = getattr(cls, "matches", None)
    if matches in _http_leaves:
        return _HTTP_LEAF
    if matches in _websocket_leaves:
        return _WEBSOCKET_LEAF
    if matches in _regex_deciders:
        return _REGEX
    if _effective_context is not None and cls is _effective_context:
        return _CONTEXT
    return _ASK


def _context_regex(route: Any) -> Any:
    """A route inside a FastAPI included router: an APIRoute's own regex decides, else its Starlette route's."""
    starlette_route = getattr(route, "starlette_route", None)
    if starlette_route is not None:
        kind = _kinds.get(type(starlette_route))
        if kind is None:
            kind = _kinds[type(starlette_route)] = _kind_of(type(starlette_route))
        return getattr(starlette_route, "path_regex", None) if kind in _REGEX_DECIDED else None
    if _api_route is not None and isinstance(getattr(route, "original_route", None), _api_route):
        return getattr(route, "path_regex", None)
    return None
