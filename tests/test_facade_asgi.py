"""instrument_asgi + lens_route under a real uvicorn server and httpx client (Starlette and FastAPI).

Pins down the stored tree (server span → lens_route span → lens_fn spans, logs under their spans),
redaction on disk (RELIABILITY 20) and body capture (RELIABILITY 22).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from otel_lens import Lens, Logger, configure, instrument_asgi, lens_fn, lens_route
from tests._facade_helpers import bodies, logs, otel_globals_restored, raw_bytes, serve_in_thread, spans

log = Logger("tests.asgi")
SECRET = "s3cr3t-value-42"


@lens_fn
def search(term: str) -> list[str]:
    log.info("searching %s", term)
    return [term.upper()]


@lens_fn("engine.rank")
async def rank(items: list[str]) -> list[str]:
    return sorted(items)


@pytest.fixture
def lens(db_path: Path) -> Iterator[Lens]:
    with otel_globals_restored():
        yield configure(database=str(db_path), sweep_interval=0)


def starlette_app() -> Starlette:
    @lens_route("GET /grep")
    async def grep(request: Request) -> Response:
        found = await rank(search(request.query_params.get("q", "")))
        return JSONResponse({"found": found})

    @lens_route("POST /echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type=request.headers.get("content-type"))

    @lens_route("GET /sync")
    def sync(request: Request) -> Response:
        search("sync")
        return PlainTextResponse("ok")

    @lens_route("GET /stream")
    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(200):
                yield (f"{i:04d}" * 256).encode()  # 1 KiB per chunk, 200 KiB in all

        return StreamingResponse(chunks(), media_type="text/plain")

    @lens_route("GET /binary")
    async def binary(request: Request) -> Response:
        return Response(bytes(range(256)) * 4, media_type="image/png")

    @lens_route("GET /fail")
    async def fail(request: Request) -> Response:
        raise RuntimeError("route failed")

    routes = [
        Route("/grep", grep),
        Route("/echo", echo, methods=["POST"]),
        Route("/sync", sync),
        Route("/stream", stream),
        Route("/binary", binary),
        Route("/fail", fail),
    ]
    return Starlette(routes=routes)


def limit_dependency(limit: int = 10) -> int:
    return limit


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/grep")
    @lens_route("GET /grep")
    async def grep(q: str, limit: Annotated[int, Depends(limit_dependency)]) -> dict[str, Any]:
        found = await rank(search(q))
        return {"found": found[:limit], "limit": limit}

    @app.get("/sync")
    @lens_route("GET /sync")
    def sync(q: str = "x") -> dict[str, Any]:
        return {"found": search(q)}

    @app.get("/missing")
    @lens_route("GET /missing")
    async def missing() -> None:
        raise HTTPException(status_code=404, detail="no such thing")

    return app


def tree(db_path: Path, route: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The server span the lens_route span descends from, the route span, and the spans under the route span.

    On Starlette the route span is the server span's child; recent FastAPI versions put their own
    ``fastapi.endpoint`` span in between, so the route span is found by walking up its ancestors.
    """
    stored = spans(db_path)
    by_id = {s["span_id"]: s for s in stored}
    (route_span,) = [s for s in stored if s["attributes"].get("lens.route") == route]
    ancestor = by_id[route_span["parent_span_id"]]
    while ancestor["kind"] != 1:
        ancestor = by_id[ancestor["parent_span_id"]]
    children = [s for s in stored if s["parent_span_id"] == route_span["span_id"]]
    return ancestor, route_span, children


@pytest.mark.parametrize("make_app", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def test_stored_tree_server_route_functions_and_logs(lens: Lens, db_path: Path, make_app: Any) -> None:
    """A request stores server span → lens_route span → lens_fn spans, with the log under its lens_fn span."""
    app = instrument_asgi(make_app())
    with serve_in_thread(app) as url:
        response = httpx.get(f"{url}/grep", params={"q": "needle"}, headers={"x-lens-source": "cli"})
    assert response.status_code == 200 and response.json()["found"] == ["NEEDLE"]
    lens.force_flush()
    server, route, children = tree(db_path, "GET /grep")
    assert server["kind"] == 1 and server["parent_span_id"] is None  # SERVER, root
    assert route["attributes"]["lens.source"] == "cli"
    assert route["attributes"]["lens.route"] == "GET /grep"
    assert sorted(s["name"] for s in children) == ["engine.rank", "search"]
    (search_span,) = [s for s in children if s["name"] == "search"]
    (record,) = [entry for entry in logs(db_path) if entry["body"] == "searching needle"]
    assert record["span_id"] == search_span["span_id"] and record["trace_id"] == server["trace_id"]
    assert {s["trace_id"] for s in (server, route, *children)} == {server["trace_id"]}
    # receive/send spans are off by default: no per-message spans
    assert not [s for s in spans(db_path) if s["name"].endswith((" http send", " http receive"))]
    # One server span per request, also on FastAPI (whose own request tracing must see OpenTelemetry's
    # middleware and stay off), with the route span straight under it.
    assert route["parent_span_id"] == server["span_id"] and len(spans(db_path)) == 4


@pytest.mark.parametrize("make_app", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def test_sync_endpoints_are_children_of_the_server_span(lens: Lens, db_path: Path, make_app: Any) -> None:
    """A sync endpoint (run in a thread pool) still nests under the server span."""
    app = instrument_asgi(make_app())
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/sync").status_code == 200
    lens.force_flush()
    server, _, children = tree(db_path, "GET /sync")
    assert server["kind"] == 1
    assert [s["name"] for s in children] == ["search"]


def test_fastapi_dependency_injection_and_openapi_still_work(lens: Lens, db_path: Path) -> None:
    """FastAPI sees the endpoint's own parameters: query validation, Depends and the OpenAPI schema work."""
    app = instrument_asgi(fastapi_app())
    with serve_in_thread(app) as url:
        ok = httpx.get(f"{url}/grep", params={"q": "a", "limit": 1})
        invalid = httpx.get(f"{url}/grep")  # q is required
        schema = httpx.get(f"{url}/openapi.json").json()
        missing = httpx.get(f"{url}/missing")
    assert ok.json() == {"found": ["A"], "limit": 1}
    assert invalid.status_code == 422
    parameters = {p["name"] for p in schema["paths"]["/grep"]["get"]["parameters"]}
    assert parameters == {"q", "limit"}
    assert missing.status_code == 404
    lens.force_flush()
    (route,) = [s for s in spans(db_path) if s["attributes"].get("lens.route") == "GET /missing"]
    assert route["attributes"]["http.response.status_code"] == 404
    assert route["status_code"] == 0  # a 404 is the route answering, not failing


def test_lens_route_without_instrumentation_is_a_root_span(lens: Lens, db_path: Path) -> None:
    """Without instrument_asgi the route span is a root and still records x-lens-source."""
    with serve_in_thread(starlette_app()) as url:
        httpx.get(f"{url}/grep", params={"q": "x"}, headers={"x-lens-source": "web"})
    lens.force_flush()
    (route,) = [s for s in spans(db_path) if s["attributes"].get("lens.route") == "GET /grep"]
    assert route["parent_span_id"] is None and route["attributes"]["lens.source"] == "web"


def test_route_exception_is_recorded(lens: Lens, db_path: Path) -> None:
    """An exception in the endpoint marks the route span ERROR with an exception event; the client gets a 500."""
    with serve_in_thread(instrument_asgi(starlette_app())) as url:
        assert httpx.get(f"{url}/fail").status_code == 500
    lens.force_flush()
    (route,) = [s for s in spans(db_path) if s["attributes"].get("lens.route") == "GET /fail"]
    assert route["status_code"] == 2 and route["events"][0][0] == "exception"


def test_secrets_are_redacted_on_disk(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RELIABILITY 20: secrets in headers, query and JSON bodies never reach the db or -wal, sanitize vars unset."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", ".*")
    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0, capture_bodies=True, redact="session_ref")
        app = starlette_app()

        @lens_route("POST /login")
        async def login(request: Request) -> Response:
            await request.body()
            response = JSONResponse({"token": SECRET + "-t", "ok": True})
            response.set_cookie("sid", SECRET + "-c")
            return response

        app.router.routes.append(Route("/login", login, methods=["POST"]))
        app = instrument_asgi(app)
        with serve_in_thread(app) as url:
            response = httpx.post(
                f"{url}/login?api_key={SECRET}-q&page=2",
                content=json.dumps(
                    {"user": "ann", "password": SECRET + "-p", "nested": {"session_ref": SECRET + "-r"}}
                ),
                headers={
                    "content-type": "application/json",
                    "authorization": f"Bearer {SECRET}-a",
                    "x-api-key": SECRET + "-x",
                    "cookie": f"sid={SECRET}-k",
                    "proxy-authorization": SECRET + "-y",
                },
            )
        assert response.json()["token"] == SECRET + "-t"  # the app's bytes are unchanged
        lens.force_flush()
        stored = raw_bytes(db_path)
        assert stored  # the check below looks at real bytes
        assert SECRET.encode() not in stored
        (server,) = [s for s in spans(db_path) if s["kind"] == 1]
        assert "page=2" in server["attributes"].get("url.query", server["attributes"].get("http.url", ""))
        lens.shutdown()
    assert SECRET.encode() not in raw_bytes(db_path)


def test_body_capture_caps_flags_and_keeps_the_app_bytes(db_path: Path) -> None:
    """RELIABILITY 22: bodies are capped with a truncation flag; streams are passed through whole; binary skipped."""
    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0, capture_bodies=True, max_body_size="4KiB")
        app = instrument_asgi(starlette_app())
        payload = json.dumps({"items": list(range(3000))}).encode()
        with serve_in_thread(app) as url:
            echoed = httpx.post(f"{url}/echo", content=payload, headers={"content-type": "application/json"})
            streamed = httpx.get(f"{url}/stream")
            binary = httpx.get(f"{url}/binary")
            small = httpx.post(f"{url}/echo", content=b"short text", headers={"content-type": "text/plain"})
        assert echoed.content == payload
        assert streamed.content == b"".join((f"{i:04d}" * 256).encode() for i in range(200))
        assert binary.content == bytes(range(256)) * 4
        assert small.content == b"short text"
        lens.force_flush()
        stored_bodies = bodies(db_path)
        by_route = {s["name"]: s for s in spans(db_path) if s["kind"] == 1}
        (echo,) = [
            s["attributes"]
            for s in spans(db_path)
            if s["kind"] == 1 and s["attributes"].get("lens.body.request.size") == len(payload)
        ]
        assert echo["lens.body.request.truncated"] is True and echo["lens.body.request.size"] == len(payload)
        request_body = stored_bodies[echo["lens.body.request"]]
        assert request_body["size"] <= 4096 and request_body["encoding"] == "zlib"
        assert payload.decode().startswith(request_body["text"][:100])
        stream = by_route["GET /stream"]["attributes"]
        assert stream["lens.body.response.size"] == 200 * 1024 and stream["lens.body.response.truncated"] is True
        assert stored_bodies[stream["lens.body.response"]]["size"] <= 4096
        binary_attrs = by_route["GET /binary"]["attributes"]
        assert binary_attrs["lens.body.response.skipped"] == "binary" and "lens.body.response" not in binary_attrs
        # small bodies: stored whole, uncompressed, no truncation flag, the same body once (deduplicated)
        (small_attrs,) = [
            s["attributes"]
            for s in spans(db_path)
            if s["kind"] == 1 and s["attributes"].get("lens.body.request.size") == 10
        ]
        assert small_attrs["lens.body.request"] == small_attrs["lens.body.response"]
        assert stored_bodies[small_attrs["lens.body.request"]]["text"] == "short text"
        assert stored_bodies[small_attrs["lens.body.request"]]["encoding"] == "identity"


def test_body_capture_is_off_by_default(lens: Lens, db_path: Path) -> None:
    """Without OTEL_EXPORTER_LENS_CAPTURE_BODIES no body is stored."""
    with serve_in_thread(instrument_asgi(starlette_app())) as url:
        httpx.post(f"{url}/echo", content=b"hello", headers={"content-type": "text/plain"})
    lens.force_flush()
    assert bodies(db_path) == {}


def test_lifespan_and_non_http_scopes_pass_through(lens: Lens, db_path: Path) -> None:
    """Lifespan startup runs (the app's own handler sees it) and produces no span; websocket scopes reach the app."""
    started: list[str] = []
    seen_scopes: list[str] = []

    async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen_scopes.append(scope["type"])
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    started.append("up")
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"plain"})

    wrapped = instrument_asgi(plain_app)
    assert wrapped is not plain_app
    with serve_in_thread(wrapped) as url:
        assert httpx.get(url).text == "plain"
    lens.force_flush()
    assert started == ["up"] and seen_scopes[0] == "lifespan"
    # a plain ASGI app has no routes: the span is named by the method alone (HTTP semconv), not the raw path
    assert [s["name"] for s in spans(db_path)] == ["GET"]


def test_fastapi_query_secrets_never_reach_the_store(lens: Lens, db_path: Path) -> None:
    """FastAPI's own request spans stay off under instrument_asgi, so no unredacted url.query is stored."""
    app = instrument_asgi(fastapi_app())
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/grep", params={"q": "x", "api_key": SECRET, "token": SECRET}).status_code == 200
    lens.force_flush()
    assert SECRET.encode() not in raw_bytes(db_path)
    assert [s["name"] for s in spans(db_path) if s["kind"] == 1] == ["GET /grep"]


def test_excluded_urls_variable_is_honoured(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_PYTHON_ASGI_EXCLUDED_URLS keeps working: excluded paths store nothing, others are traced."""
    monkeypatch.setenv("OTEL_PYTHON_ASGI_EXCLUDED_URLS", "sync,healthz")
    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0)
        app = instrument_asgi(starlette_app())
        with serve_in_thread(app) as url:
            assert httpx.get(f"{url}/sync").status_code == 200
            assert httpx.get(f"{url}/grep", params={"q": "a"}).status_code == 200
        lens.force_flush()
        server_spans = [s["name"] for s in spans(db_path) if s["kind"] == 1]
    assert server_spans == ["GET /grep"]


@pytest.mark.parametrize("capture", [False, True], ids=["no-capture", "capture"])
def test_url_secrets_leave_the_span_before_the_apps_request_hook(db_path: Path, capture: bool) -> None:
    """The URL redaction runs in OpenTelemetry's request hook (with body capture off otel-lens adds no
    layer inside its middleware). Secrets leave the server span before anything else sees it: the
    app's own ``server_request_hook`` (still called) and another exporter on the same provider get the
    redacted query, not the raw one, with or without body capture."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    seen: list[dict[str, Any]] = []

    def hook(span: Any, scope: dict[str, Any]) -> None:
        seen.append(dict(span.attributes))

    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0, redact="session_ref", capture_bodies=capture)
        assert lens.tracer_provider is not None
        memory = InMemorySpanExporter()
        lens.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
        app = instrument_asgi(starlette_app(), server_request_hook=hook)
        with serve_in_thread(app) as url:
            query = {"q": "a", "api_key": SECRET, "session_ref": SECRET}
            assert httpx.get(f"{url}/grep", params=query).json() == {"found": ["A"]}
        lens.force_flush()
        (server,) = [s for s in memory.get_finished_spans() if s.kind is SpanKind.SERVER]
        attributes = dict(server.attributes or {})
        lens.shutdown()
    assert len(seen) == 1 and "q=a" in str(seen[0]) and SECRET not in str(seen[0])
    assert "q=a" in str(attributes) and SECRET not in str(attributes)
    assert server.name == "GET /grep"
