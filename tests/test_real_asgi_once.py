"""One server span per request, whoever else traces the app: real uvicorn, httpx and contrib instrumentations.

Pins down issue 8 defect 9: ``instrument_asgi`` called twice, ``FastAPIInstrumentor.instrument_app``
or ``StarletteInstrumentor.instrument_app`` before or after it, or an app already wrapped in
OpenTelemetry's middleware by hand, each give exactly one SERVER span (no INTERNAL copy), named by
route template with ``http.route``, one ``lens_route`` span, and otel-lens' extras still working
inside the other middleware: query-string secrets scrubbed on disk, bodies captured.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_lens import instrument_asgi, lens_route
from otel_lens.facade.asgi import LensMiddleware
from tests._facade_helpers import bodies, otel_globals_restored, raw_bytes, serve_in_thread, spans

SECRET = "s3cr3t-once-77"


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    @lens_route("GET /items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/items/{item_id}")
    @lens_route("POST /items/{item_id}")
    async def update(item_id: int, request: Request) -> dict[str, Any]:
        return {"item_id": item_id, "got": (await request.json())["name"]}

    return app


def starlette_app() -> Starlette:
    @lens_route("GET /items/{item_id}")
    async def item(request: Request) -> Response:
        return JSONResponse({"item_id": int(request.path_params["item_id"])})

    @lens_route("POST /items/{item_id}")
    async def update(request: Request) -> Response:
        return JSONResponse({"item_id": int(request.path_params["item_id"]), "got": (await request.json())["name"]})

    return Starlette(
        routes=[Route("/items/{item_id}", item, methods=["GET"]), Route("/items/{item_id}", update, methods=["POST"])]
    )


def exercise(url: str) -> None:
    """Three requests: two ids (one with secrets in its query string) and a JSON POST with a secret in it."""
    assert httpx.get(f"{url}/items/5").json() == {"item_id": 5}
    assert httpx.get(f"{url}/items/13", params={"api_key": SECRET, "page": "2"}).json() == {"item_id": 13}
    body = json.dumps({"name": "widget", "password": SECRET})
    posted = httpx.post(f"{url}/items/7", content=body, headers={"content-type": "application/json"})
    assert posted.json() == {"item_id": 7, "got": "widget"}


TEMPLATE_NAMED = [
    ("GET /items/{item_id}", "/items/{item_id}"),
    ("GET /items/{item_id}", "/items/{item_id}"),
    ("POST /items/{item_id}", "/items/{item_id}"),
]


def check_one_span_each(
    db_path: Path, named: list[tuple[str, Any]] = TEMPLATE_NAMED, ignore_traces: set[str] | frozenset[str] = frozenset()
) -> None:
    """Exactly one SERVER span per request, ``named`` (by template with http.route); no INTERNAL copy of
    it; one lens_route span each; no secret anywhere on disk; the POST's bodies captured on its server span.
    Spans of ``ignore_traces`` (readiness probes) are left out."""
    stored = [s for s in spans(db_path) if s["trace_id"] not in ignore_traces]
    server = [s for s in stored if s["kind"] == 1]
    assert [(s["name"], s["attributes"].get("http.route")) for s in server] == named
    assert len({s["trace_id"] for s in server}) == 3
    http_internal = [
        s
        for s in stored
        if s["kind"] != 1
        and s["name"].startswith(("GET /items/", "POST /items/"))
        and not s["name"].endswith((" http send", " http receive"))  # the contrib's per-message spans, its choice
    ]
    assert [s["attributes"].get("lens.route") for s in http_internal] == [
        "GET /items/{item_id}",
        "GET /items/{item_id}",
        "POST /items/{item_id}",
    ]  # only the lens_route spans: no second HTTP span
    assert SECRET.encode() not in raw_bytes(db_path)
    assert "page=2" in json.dumps(server[1]["attributes"])  # the query string is kept, only its secret scrubbed
    posted = server[2]["attributes"]
    stored_bodies = bodies(db_path)
    assert json.loads(stored_bodies[posted["lens.body.request"]]["text"]) == {
        "name": "widget",
        "password": "[REDACTED]",
    }
    assert stored_bodies[posted["lens.body.response"]]["text"] == '{"item_id":7,"got":"widget"}'


@pytest.fixture
def capturing(db_path: Path) -> Iterator[Any]:
    from otel_lens import configure

    with otel_globals_restored():
        yield configure(database=str(db_path), sweep_interval=0, capture_bodies=True)


@pytest.mark.parametrize("make_app", [fastapi_app, starlette_app], ids=["fastapi", "starlette"])
def test_instrument_asgi_twice_is_one_middleware(capturing: Any, db_path: Path, make_app: Any) -> None:
    """A second instrument_asgi call returns the same app and adds no second middleware or span."""
    app = make_app()
    assert instrument_asgi(app) is app and instrument_asgi(app) is app
    assert [m.cls for m in app.user_middleware].count(LensMiddleware) == 1
    with serve_in_thread(app) as url:
        exercise(url)
    capturing.force_flush()
    check_one_span_each(db_path)


def test_instrument_asgi_twice_on_a_plain_app_returns_the_first_wrapper(capturing: Any, db_path: Path) -> None:
    """On a wrapped (non-Starlette) app, calling again with the app or with the wrapper returns the same wrapper."""
    inner = starlette_app()
    inner.build_middleware_stack()
    inner.middleware_stack = inner.build_middleware_stack()  # started: add_middleware is no longer possible
    first = instrument_asgi(inner)
    assert isinstance(first, LensMiddleware)
    assert instrument_asgi(inner) is first and instrument_asgi(first) is first
    with serve_in_thread(first) as url:
        exercise(url)
    capturing.force_flush()
    check_one_span_each(db_path)


def fastapi_instrumentor(app: Any) -> Callable[[], None]:
    FastAPIInstrumentor.instrument_app(app)
    return lambda: FastAPIInstrumentor.uninstrument_app(app)


def starlette_instrumentor(app: Any) -> Callable[[], None]:
    StarletteInstrumentor.instrument_app(app)
    return lambda: StarletteInstrumentor.uninstrument_app(app)


@pytest.mark.parametrize("order", ["instrumentor-first", "lens-first"])
@pytest.mark.parametrize(
    ("make_app", "instrument"),
    [(fastapi_app, fastapi_instrumentor), (starlette_app, starlette_instrumentor)],
    ids=["FastAPIInstrumentor", "StarletteInstrumentor"],
)
def test_contrib_instrumentor_and_instrument_asgi_in_either_order(
    capturing: Any, db_path: Path, make_app: Any, instrument: Any, order: str
) -> None:
    """The contrib instrumentor's middleware makes the only server span (FastAPI's wraps the stack it
    builds at the first request, so this is seen per request); otel-lens adds redaction and body capture inside it."""
    app = make_app()
    if order == "instrumentor-first":
        undo = instrument(app)
        assert instrument_asgi(app) is app
    else:
        assert instrument_asgi(app) is app
        undo = instrument(app)
    try:
        with serve_in_thread(app) as url:
            exercise(url)
    finally:
        undo()
    capturing.force_flush()
    check_one_span_each(db_path)


def test_app_wrapped_by_hand_in_otel_middleware(capturing: Any, db_path: Path) -> None:
    """An app already wrapped in OpenTelemetryMiddleware by hand gets otel-lens' extras inside that
    middleware, not a second one around it; the span names stay that middleware's (raw paths here)."""
    inner = starlette_app()
    traced = OpenTelemetryMiddleware(inner)
    app = instrument_asgi(traced)
    assert instrument_asgi(traced) is app
    with serve_in_thread(app) as url:
        exercise(url)
    capturing.force_flush()
    check_one_span_each(db_path, [("GET /items/5", None), ("GET /items/13", None), ("POST /items/7", None)])
