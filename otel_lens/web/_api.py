"""The JSON API of docs/REFERENCE.md ("The web viewer"): every read goes through the query layer's ``Store``.

Errors are ``{"error": "…"}``: 400 for a bad parameter, 404 for an unknown id or route, 503 while
there is no database yet (``"not_ready"``) or it cannot be read (``"permanent"`` when waiting cannot cure it:
not an otel-lens store, a directory, a newer schema); a bug is a 500 with one line, never a stack trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otel_lens.query import STATS_HISTOGRAMS, AmbiguousTraceId, DatabaseNotReady, Store, TraceNotFound
from otel_lens.store.errors import NotALensDatabase, SchemaTooNew, StoreError
from otel_lens.web._reads import Reads

_logger = logging.getLogger(__name__)
MAX_PAGE = 1000  # a list page holds at most this many rows: the viewer never loads a store unbounded
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_NAMED = re.compile(r"([a-z_]+)=")
# Store errors no retry cures (the receiver's _PERMANENT): the pages say why and stop polling and reconnecting.
_PERMANENT = (NotALensDatabase, SchemaTooNew)


class BadParameter(ValueError):
    """A query parameter that does not parse (its message names it)."""


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error(status: int, message: str, **extra: Any) -> Response:
    return json_response({"error": " ".join(message.split()), **extra}, status)


def text(request: Request, name: str) -> str | None:
    """A parameter's text, ``None`` when absent or empty (an emptied filter box means no filter)."""
    value = request.query_params.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > 4096:
        raise BadParameter(f"{name} is longer than 4096 characters")
    return value.strip()


def limit(request: Request, default: int) -> int:
    value = text(request, "limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadParameter(f"limit={value!r} is not valid; use a whole number from 1 to {MAX_PAGE}")
    return int(value)


def flag(request: Request, name: str) -> bool:
    value = (request.query_params.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadParameter(f"{name}={value!r} is not valid; use 1 or 0")


def failure(request: Request, exc: Exception, database: str | None = None) -> Response:
    """The answer to a read that raised ``exc``; a 503 for a store not created yet names ``database``
    (``"not_ready": true``), so the viewer can say where it waits for data and keep retrying."""
    if isinstance(exc, TraceNotFound):
        return error(404, str(exc.args[0]) if exc.args else str(exc))
    if isinstance(exc, DatabaseNotReady):
        return error(503, str(exc.args[0]) if exc.args else str(exc), not_ready=True, database=database)
    if isinstance(exc, (ValueError, AmbiguousTraceId)):
        message = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
        # "min_duration='5' has no unit…": name the parameter, so the page marks that field.
        named = _NAMED.match(message)
        if named and named.group(1) in request.query_params:
            return error(400, message, parameter=named.group(1))
        return error(400, message)
    if isinstance(exc, _PERMANENT):
        return error(503, str(exc), permanent=True, database=database)
    if isinstance(exc, StoreError):
        return error(503, str(exc))
    # A bug: one line to the client, the traceback to the server log.
    _logger.error("otel-lens viewer: %s failed", request.url.path, exc_info=exc)
    return error(500, f"internal error ({type(exc).__name__})")


Handler = Callable[[Request], Awaitable[Response]]


def answering(reads: Reads, read: Callable[[Request], Callable[[Store], Any]]) -> Handler:
    """An endpoint: ``read(request)`` parses the parameters into a store read, whose result is sent as JSON."""

    async def endpoint(request: Request) -> Response:
        try:
            work = read(request)
            return json_response(await reads(work))
        except Exception as exc:
            return failure(request, exc, reads.label)

    return endpoint


def _traces(request: Request) -> Callable[[Store], Any]:
    status = text(request, "status")
    if flag(request, "errors"):
        status = "error"
    arguments: dict[str, Any] = {
        "service": text(request, "service"),
        "name": text(request, "name"),
        "status": status,
        "since": text(request, "since"),
        "min_duration": text(request, "min_duration"),
        "search": text(request, "q"),
        "before": text(request, "before"),
        "limit": limit(request, 50),
        "running": flag(request, "running"),
    }
    return lambda store: store.trace_page(**arguments).as_dict()


def _trace(request: Request) -> Callable[[Store], Any]:
    trace_id = request.path_params["trace_id"]
    subtree = text(request, "subtree")
    view = text(request, "view") or "full"
    if view not in ("full", "outline"):
        raise BadParameter(f"view={view!r} is not valid; use full or outline")
    if view == "outline":
        if subtree is not None:
            raise BadParameter("subtree= is not valid with view=outline; it cuts the full view")
        return lambda store: store.trace_outline(trace_id)

    def work(store: Store) -> Any:
        data = store.trace_dict(trace_id)
        if subtree is not None:
            return cut_subtree(data, subtree)
        return data

    return work


def cut_subtree(trace: dict[str, Any], span_id: str) -> dict[str, Any]:
    """``{"trace_id", "spans", "logs"}`` of the span ``span_id`` and all below it (spans by start time).

    Cut here, not in the browser: a JS number rounds nanosecond timestamps (2**53 < 1.8e18), so the page copies
    this JSON text as it is and the ns values equal ``otel-lens show --json``'s.
    """
    spans = trace["spans"]
    if not any(span["span_id"] == span_id for span in spans):
        raise BadParameter(f"subtree={span_id!r}: no such span in trace {trace['trace_id']}")
    below: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        below.setdefault(span.get("parent_span_id") or "", []).append(span)
    kept: list[dict[str, Any]] = []
    stack = [span for span in spans if span["span_id"] == span_id]
    while stack:
        span = stack.pop()
        kept.append(span)
        stack.extend(below.get(span["span_id"], []))
    ids = {span["span_id"] for span in kept}
    kept.sort(key=lambda span: span["start_time_unix_nano"])
    logs = [log for log in trace.get("logs", []) if log.get("span_id") in ids]
    return {"trace_id": trace["trace_id"], "spans": kept, "logs": logs}


def _logs(request: Request) -> Callable[[Store], Any]:
    arguments: dict[str, Any] = {
        "trace_id": text(request, "trace"),
        "level": text(request, "level"),
        "since": text(request, "since"),
        "search": text(request, "q"),
        "before": text(request, "before"),
        "limit": limit(request, 200),
    }
    return lambda store: store.log_page(**arguments).as_dict()


def _stats(request: Request) -> Callable[[Store], Any]:
    since, by = text(request, "since") or "24h", text(request, "by") or "name"
    histogram = (text(request, "histogram") or "chart").lower()
    if histogram not in STATS_HISTOGRAMS:  # refused before reading (an empty window would not check it)
        raise ValueError(f"histogram={histogram!r} is not valid; use one of: {', '.join(STATS_HISTOGRAMS)}")
    return lambda store: {"stats": [row.as_dict(histogram) for row in store.stats(since=since, by=by)]}


def _usage(request: Request) -> Callable[[Store], Any]:
    since, by = text(request, "since") or "24h", text(request, "by") or "model"
    series = flag(request, "series")

    def work(store: Store) -> Any:
        result: dict[str, Any] = {"usage": [row.as_dict() for row in store.usage(since=since, by=by)]}
        if series:  # the chart over time: tokens per hour and group
            result["series"] = [point.as_dict() for point in store.usage_series(since=since, by=by)]
        return result

    return work


def _sessions(request: Request) -> Callable[[Store], Any]:
    arguments: dict[str, Any] = {
        "kind": text(request, "kind"),
        "service": text(request, "service"),
        "since": text(request, "since"),
        "until": text(request, "until"),
        "search": text(request, "q"),
        "before": text(request, "before"),
        "limit": limit(request, 50),
    }
    return lambda store: store.sessions(**arguments).as_dict()


def _session(request: Request) -> Callable[[Store], Any]:
    session_id = request.path_params["session_id"]
    kind = text(request, "kind")
    return lambda store: store.session(session_id, kind=kind).as_dict()


async def _unknown(request: Request) -> Response:
    return error(404, f"no API route {request.url.path}")


def api_routes(reads: Reads) -> list[Route]:
    return [
        Route("/api/traces", answering(reads, _traces), methods=["GET"]),
        Route("/api/traces/{trace_id}", answering(reads, _trace), methods=["GET"]),
        Route("/api/logs", answering(reads, _logs), methods=["GET"]),
        Route("/api/stats", answering(reads, _stats), methods=["GET"]),
        Route("/api/usage", answering(reads, _usage), methods=["GET"]),
        Route("/api/sessions", answering(reads, _sessions), methods=["GET"]),
        Route("/api/sessions/{session_id:path}", answering(reads, _session), methods=["GET"]),
        Route("/api/{rest:path}", _unknown, methods=["GET"]),
    ]
