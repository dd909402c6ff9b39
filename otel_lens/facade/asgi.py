"""``instrument_asgi`` and ``lens_route``: HTTP server spans with redaction and body capture, and named route spans.

``instrument_asgi`` puts OpenTelemetry's own ASGI middleware in front of the app (its variables,
such as ``OTEL_PYTHON_ASGI_EXCLUDED_URLS``, keep working), naming spans by route template
(``_routes``), with otel-lens extras inside it (``_extras``): secrets removed from the stored URL
and captured headers, and, when enabled, request and response bodies captured up to a cap. Where
OpenTelemetry's middleware already traces the app (``_stack``), only the extras are added, inside it.

Flush at shutdown: when the app answers the ASGI lifespan ``shutdown`` (or its lifespan ends after
being asked to shut down), the middleware force-flushes the global tracer and logger providers,
bounded in time, before passing the answer on. Lifespan shutdown comes after every connection has
closed, so each request's spans and logs are queued by then. This is what stores them under
uvicorn (>= 0.29), which re-raises SIGTERM with the default action after its graceful shutdown, so
``atexit`` never runs. ``configure()`` also installs a SIGTERM handler, but only where SIGTERM is
still the default when it runs: the single-process ``uvicorn app:app`` imports the app before
installing its own handler (so it restores and re-raises into ours), but uvicorn's ``--workers``
processes and other servers import the app with their handler already in place, and an app with its
own providers has no configure() at all. Both stay: the second flush finds nothing queued.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast, overload

from opentelemetry import context, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.http import get_custom_headers

from otel_lens._keys import ROUTE, SOURCE
from otel_lens._redact import Redactor
from otel_lens.facade import _state
from otel_lens.facade._asgi_types import AsgiOptions, MiddlewareAppT
from otel_lens.facade._extras import LensExtras, current_scope, header
from otel_lens.facade._lifespan import ASGIApp, Receive, Scope, Send, lifespan_flushing
from otel_lens.facade._routes import RouteNamer
from otel_lens.facade._spans import add_attributes, detach, fail, tracer
from otel_lens.facade._stack import in_chain, otel_entry, user_middleware
from otel_lens.settings import Settings

if TYPE_CHECKING:
    from typing_extensions import Unpack

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SANITIZE_ENV = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"
_EXCLUDED_URLS_ENV = "OTEL_PYTHON_ASGI_EXCLUDED_URLS"
_WRAPPED = "_otel_lens_middleware"  # on a wrapped app: the LensMiddleware instrument_asgi returned


@overload
def instrument_asgi(app: MiddlewareAppT, **options: Unpack[AsgiOptions]) -> MiddlewareAppT: ...
@overload
def instrument_asgi(app: ASGIApp, **options: Unpack[AsgiOptions]) -> ASGIApp: ...
def instrument_asgi(app: Any, **options: Unpack[AsgiOptions]) -> Any:
    """Trace every HTTP request of an ASGI app and store it; returns the app to serve.

    Starlette and FastAPI apps get the middleware added in place (the same app object is
    returned); any other ASGI callable is wrapped. Server spans are named by route template
    (``GET /items/{item_id}``, with ``http.route``), or by the method alone when no route is known.
    Lifespan scopes pass through (and flush at shutdown).

    Once is enough: calling it again on the same app returns that app and adds nothing. When
    OpenTelemetry's middleware already traces the app (the FastAPI or Starlette instrumentation,
    ``opentelemetry-instrument``, ``FastAPIInstrumentor.instrument_app``, before or after this
    call), its server span is the request's only one and otel-lens only adds redaction and body
    capture inside it.

    Args:
        app: a plain ASGI app, a Starlette or a FastAPI app.
        **options: ``capture_bodies``, ``max_body_size`` and ``redact`` override the settings;
            ``exclude_spans`` defaults to ``["receive", "send"]`` (per-message spans cost a third
            of the throughput and say little; pass ``[]`` to get them back); anything else goes to
            OpenTelemetry's ``OpenTelemetryMiddleware`` (``default_span_details`` replaces the
            route naming; a ``server_request_hook`` gets the span with URL secrets already removed).
    """
    if isinstance(app, LensMiddleware):
        return app
    entries = user_middleware(app)
    if entries is not None:
        if any(getattr(entry, "cls", None) is LensMiddleware for entry in entries):
            return app
        otel_index = otel_entry(entries)
        app.add_middleware(LensMiddleware, **options)
        if otel_index is not None:
            # add_middleware put ours first (outermost); it belongs inside OpenTelemetry's, where its span is.
            entries.insert(otel_index + 1, entries.pop(0))
        return app
    wrapped = getattr(app, _WRAPPED, None)
    if isinstance(wrapped, LensMiddleware):
        return wrapped
    lens, otel = in_chain(app, LensMiddleware)
    if lens is not None:
        return app
    wrapper = LensMiddleware(app, _traced_by=otel, **options)
    # A second call with the same app returns this wrapper; an app that takes no attributes still gets
    # one span a request when wrapped twice (the inner wrapper sees the outer one's span).
    with contextlib.suppress(AttributeError, TypeError):
        setattr(app, _WRAPPED, wrapper)
    return wrapper


class LensMiddleware:
    """OpenTelemetry's ASGI middleware around otel-lens' redaction and body capture (plain ASGI shape).

    Per request, when a server span is already current (OpenTelemetry's middleware runs further
    out, as FastAPI's instrumentation puts it outside the whole stack), only the extras run.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        capture_bodies: bool | None = None,
        max_body_size: int | str | None = None,
        redact: str | list[str] | None = None,
        exclude_spans: list[str] | None = None,
        _traced_by: OpenTelemetryMiddleware | None = None,
        **otel_options: Any,
    ) -> None:
        base, _ = _state.current()
        given = Settings.load(environ={}, capture_bodies=capture_bodies, max_body_size=max_body_size, redact=redact)
        capture = base.capture_bodies if capture_bodies is None else given.capture_bodies
        limit = base.max_body_size if max_body_size is None else given.max_body_size
        redactor = Redactor((*base.redact, *given.redact))
        body_limit = limit if capture else 0
        self._inner = app
        self._extras = LensExtras(app, redactor, body_limit)
        self._otel: OpenTelemetryMiddleware | None = None
        # ``.app`` leads to OpenTelemetry's middleware, so frameworks that look for it in their stack
        # (FastAPI turns its own request tracing off when it is there) find it: one server span a request.
        self.app: Any = app
        if _traced_by is not None:
            # A built chain OpenTelemetry's middleware already traces: the extras go inside it, once.
            if not isinstance(_traced_by.app, LensExtras):
                _traced_by.app = LensExtras(_traced_by.app, redactor, body_limit)
            return
        sanitize = otel_options.pop("http_capture_headers_sanitize_fields", None) or get_custom_headers(_SANITIZE_ENV)
        # The middleware takes excluded URLs only as an argument; the variable is read by the framework
        # instrumentors, which otel-lens replaces, so it is read here.
        excluded = otel_options.pop("excluded_urls", None) or os.environ.get(_EXCLUDED_URLS_ENV) or None
        otel_options.setdefault("default_span_details", RouteNamer(app))
        # The URL redaction runs in the middleware's request hook, on the span it has just made (before
        # the app's own hook sees it); inside it, the extras are only there to capture bodies, so without
        # capture there is no extra layer and span look-up in every request.
        otel_options["server_request_hook"] = _with_redaction(self._extras, otel_options.get("server_request_hook"))
        inner: ASGIApp = LensExtras(app, redactor, body_limit, redact_url=False) if body_limit > 0 else app
        self._otel = OpenTelemetryMiddleware(
            inner,
            excluded_urls=excluded,
            exclude_spans=["receive", "send"] if exclude_spans is None else exclude_spans,  # type: ignore[arg-type]
            http_capture_headers_sanitize_fields=[*sanitize, *redactor.header_fields()],
            **otel_options,
        )
        self.app = self._otel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            if self._otel is None or current_scope.get() is scope:
                # Traced further in (a foreign middleware with our extras inside it), or a second
                # LensMiddleware inside this request's first one: nothing more to add.
                await self._inner(scope, receive, send)
                return
            current = trace.get_current_span()
            if current.get_span_context().is_valid and (
                not current.is_recording() or getattr(current, "kind", None) is SpanKind.SERVER
            ):
                # OpenTelemetry's middleware further out started this request's span (or left it
                # unsampled): a second one would be an INTERNAL copy of it.
                await self._extras(scope, receive, send)
                return
            token = current_scope.set(scope)  # the extras set it too; without capture they are not in the chain
            try:
                await self._otel(scope, receive, send)
            finally:
                current_scope.reset(token)
        elif kind == "lifespan":
            await lifespan_flushing(self._inner, scope, receive, send)
        else:
            await self._inner(scope, receive, send)


def _with_redaction(extras: LensExtras, hook: Callable[[Any, Scope], None] | None) -> Callable[[Any, Scope], None]:
    """A ``server_request_hook`` removing secrets from the URL attributes, then running the app's own hook."""

    def redacting_hook(span: Any, scope: Scope) -> None:
        extras.redact_request(span, scope)
        if hook is not None:
            hook(span, scope)

    return redacting_hook


def _lens_source(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The ``x-lens-source`` header of the request being handled, from a Request argument or the ASGI scope."""
    for value in (*args, *kwargs.values()):
        scope = getattr(value, "scope", None)
        if isinstance(scope, dict) and scope.get("type") in ("http", "websocket"):
            return header(scope.get("headers"), b"x-lens-source")
    scope = current_scope.get()
    return header(scope.get("headers"), b"x-lens-source") if scope is not None else None


def _route_start(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> trace.Span:
    attributes: dict[str, Any] = {ROUTE: name}
    source = _lens_source(args, kwargs)
    if source is not None:
        attributes[SOURCE] = source
    return tracer().start_span(name, attributes=attributes)


def _route_result(span: trace.Span, result: Any) -> None:
    status = getattr(result, "status_code", None)
    if isinstance(status, int):
        add_attributes(span, {"http.response.status_code": status})
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def _route_error(span: trace.Span, exc: BaseException) -> None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status < 500:
        # An HTTPException for a client error is the route answering, not failing.
        add_attributes(span, {"http.response.status_code": status})
        span.record_exception(exc, escaped=True)
        return
    if isinstance(status, int):
        add_attributes(span, {"http.response.status_code": status})
    fail(span, exc)


def lens_route(name: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Trace an ASGI endpoint (Starlette or FastAPI, sync or async) as a span called ``name``.

    The span is a child of the server span when the app is instrumented, a root otherwise; the
    ``x-lens-source`` request header is recorded as ``lens.source``, the response status as
    ``http.response.status_code``. The endpoint's signature is kept, so FastAPI's dependency
    injection sees the original parameters.

    Args:
        name: the span name, e.g. ``"GET /grep"``.
    """

    def decorator(endpoint: Callable[_P, _R]) -> Callable[_P, _R]:
        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                span = _route_start(name, args, kwargs)
                ctx = trace.set_span_in_context(span)
                token = context.attach(ctx)
                try:
                    result = await endpoint(*args, **kwargs)
                except BaseException as exc:
                    _route_error(span, exc)
                    raise
                else:
                    _route_result(span, result)
                    return result
                finally:
                    detach(token)
                    span.end()

            return cast(Callable[_P, _R], async_wrapper)

        @functools.wraps(endpoint)
        def sync_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            span = _route_start(name, args, kwargs)
            token = context.attach(trace.set_span_in_context(span))
            try:
                result = endpoint(*args, **kwargs)
            except BaseException as exc:
                _route_error(span, exc)
                raise
            else:
                _route_result(span, result)
                return result
            finally:
                detach(token)
                span.end()

        return sync_wrapper

    return decorator
