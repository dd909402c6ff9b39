"""The viewer's pages: one HTML shell each, filled by its ES module from the JSON API (one source of truth).

The shell carries no stored data and no inline script; what it does carry (the trace id of the path) is
escaped. Each page keeps its state (filters, search, selection) in its URL, so a link shows the same view.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

_CURRENT = ' aria-current="page"'
_NAV = (
    ("/", "Traces", "traces"),
    ("/logs", "Logs", "logs"),
    ("/stats", "Stats", "stats"),
    ("/usage", "Usage", "usage"),
    ("/sessions", "Sessions", "sessions"),
)


def shell(title: str, page: str, data: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    """The page ``page`` (its module is ``/static/<page>.js``); ``data`` become ``data-*`` attributes of <main>."""
    current = {"trace": "traces", "diff": "traces", "session": "sessions"}.get(page, page)
    links = "".join(f'<a href="{href}"{_CURRENT if key == current else ""}>{label}</a>' for href, label, key in _NAV)
    attributes = "".join(f' data-{key}="{html.escape(value, quote=True)}"' for key, value in (data or {}).items())
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{html.escape(title)} · otel-lens</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<script type="module" src="/static/{page}.js"></script>
</head>
<body>
<header class="top"><a class="brand" href="/">otel-lens</a><nav>{links}</nav>
<span id="status" class="status" role="status" aria-live="polite"></span></header>
<main id="app" data-page="{page}"{attributes}></main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status)


async def _traces(request: Request) -> Response:
    return shell("Traces", "traces")


async def _trace(request: Request) -> Response:
    return shell("Trace", "trace", {"trace-id": request.path_params["trace_id"]})


async def _diff(request: Request) -> Response:
    # The trace ids (?a=&b= or ?previous=) are read by diff.js from the URL: its state, like every page's.
    return shell("Compare traces", "diff")


async def _logs(request: Request) -> Response:
    return shell("Logs", "logs")


async def _stats(request: Request) -> Response:
    return shell("Stats", "stats")


async def _usage(request: Request) -> Response:
    return shell("Usage", "usage")


async def _sessions(request: Request) -> Response:
    return shell("Sessions", "sessions")


async def _session(request: Request) -> Response:
    return shell("Session", "session", {"session-id": request.path_params["session_id"]})


async def not_found(request: Request) -> Response:
    return shell("Not found", "notfound", {"path": request.url.path}, status=404)


def page_routes() -> list[Route]:
    return [
        Route("/", _traces, methods=["GET"]),
        Route("/traces/{trace_id}", _trace, methods=["GET"]),
        Route("/diff", _diff, methods=["GET"]),
        Route("/logs", _logs, methods=["GET"]),
        Route("/stats", _stats, methods=["GET"]),
        Route("/usage", _usage, methods=["GET"]),
        Route("/sessions", _sessions, methods=["GET"]),
        Route("/sessions/{session_id:path}", _session, methods=["GET"]),
    ]
