"""instrument_asgi names server spans by route template, under a real uvicorn server and httpx client.

Pins down issue 8 defect 8: ``GET /items/{item_id}`` with ``http.route`` for every id (one ``stats``
row, not one per id), through Starlette mounts and FastAPI included routers; the method alone for a
404 and for a plain ASGI app (HTTP semantic conventions: ``{method}`` when no route is known); a
websocket named by its route.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from otel_lens import Lens, configure, instrument_asgi, lens_route, open_store
from tests._facade_helpers import otel_globals_restored, serve_in_thread, spans


@pytest.fixture
def lens(db_path: Path) -> Iterator[Lens]:
    with otel_globals_restored():
        yield configure(database=str(db_path), sweep_interval=0)


def server_spans(db_path: Path) -> list[tuple[str, Any]]:
    """(name, http.route) of every stored SERVER span, oldest first."""
    return [(s["name"], s["attributes"].get("http.route")) for s in spans(db_path) if s["kind"] == 1]


async def text(request: Request) -> Response:
    return PlainTextResponse(f"{request.url.path} {dict(request.path_params)}")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


def starlette_app() -> Starlette:
    tenant = Starlette(routes=[Route("/reports/{report_id}", text)])
    return Starlette(
        routes=[
            Route("/items/{item_id:int}", lens_route("GET /items")(text)),
            Route("/items/{item_id:int}", text, methods=["DELETE"]),
            Mount("/sub/{tenant}", routes=[Route("/things/{thing_id}", text)]),
            Mount("/apps", app=tenant),
            Host("api.example.test", app=Starlette(routes=[Route("/v1/{name}", text)])),
            WebSocketRoute("/ws/{room}", echo),
        ]
    )


def test_starlette_spans_are_named_by_route_template(lens: Lens, db_path: Path) -> None:
    """Path params, a mount with a param, a mounted app, a host route and a 405 are named by their full
    template with http.route; a 404 is named by the method alone; ``stats`` has one row per route."""
    with serve_in_thread(instrument_asgi(starlette_app())) as url:
        for item in (5, 13, 21):
            assert httpx.get(f"{url}/items/{item}").status_code == 200
        assert httpx.get(f"{url}/sub/acme/things/9").text == "/sub/acme/things/9 {'tenant': 'acme', 'thing_id': '9'}"
        assert httpx.get(f"{url}/apps/reports/77").status_code == 200
        assert httpx.get(f"{url}/v1/x", headers={"host": "api.example.test"}).status_code == 200
        assert httpx.post(f"{url}/items/5").status_code == 405
        assert httpx.get(f"{url}/nothing/here/42").status_code == 404
        assert httpx.get(f"{url}/apps/nothing").status_code == 404  # the mounted app's own 404
    lens.force_flush()
    assert server_spans(db_path) == [
        *[("GET /items/{item_id:int}", "/items/{item_id:int}")] * 3,
        ("GET /sub/{tenant}/things/{thing_id}", "/sub/{tenant}/things/{thing_id}"),
        ("GET /apps/reports/{report_id}", "/apps/reports/{report_id}"),
        ("GET /v1/{name}", "/v1/{name}"),
        ("POST /items/{item_id:int}", "/items/{item_id:int}"),
        ("GET", None),
        ("GET", None),
    ]
    with open_store(str(db_path)) as store:
        keys = [row.key for row in store.stats()]
    assert [k for k in keys if k.startswith("GET /items/")] == ["GET /items/{item_id:int}"]  # one row, not one per id


def test_websocket_span_is_named_by_its_route(lens: Lens, db_path: Path) -> None:
    """A websocket connection's server span is named by its route template, with http.route; one with
    no route (refused) is named ``websocket``, not by its raw path."""
    with serve_in_thread(instrument_asgi(starlette_app())) as url:
        with connect(url.replace("http://", "ws://") + "/ws/lobby", open_timeout=30) as socket:
            socket.send("hi")
            assert socket.recv(timeout=30) == "hi"
        with pytest.raises(InvalidStatus):
            connect(url.replace("http://", "ws://") + "/no-such-socket/1", open_timeout=30)
    lens.force_flush()
    assert server_spans(db_path) == [("/ws/{room}", "/ws/{room}"), ("websocket", None)]


def fastapi_app() -> FastAPI:
    app = FastAPI()
    users = APIRouter(prefix="/users")
    posts = APIRouter(prefix="/{user_id}/posts")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @posts.get("/{post_id}")
    async def post(user_id: str, post_id: int) -> dict[str, Any]:
        return {"user_id": user_id, "post_id": post_id}

    users.include_router(posts)
    app.include_router(users)
    app.mount("/static", Starlette(routes=[Route("/{name}", text)]))
    return app


def test_fastapi_spans_are_named_by_route_template(lens: Lens, db_path: Path) -> None:
    """FastAPI routes, nested included routers (their prefixes in the template) and a mounted app are
    named by template; a 404 by the method alone; the app still answers as before."""
    with serve_in_thread(instrument_asgi(fastapi_app())) as url:
        assert httpx.get(f"{url}/items/5").json() == {"item_id": 5}
        assert httpx.get(f"{url}/items/13").json() == {"item_id": 13}
        assert httpx.get(f"{url}/users/ann/posts/3").json() == {"user_id": "ann", "post_id": 3}
        assert httpx.get(f"{url}/static/logo").status_code == 200
        assert httpx.get(f"{url}/items/not-a-number").status_code == 422
        assert httpx.get(f"{url}/nope").status_code == 404
    lens.force_flush()
    assert server_spans(db_path) == [
        ("GET /items/{item_id}", "/items/{item_id}"),
        ("GET /items/{item_id}", "/items/{item_id}"),
        ("GET /users/{user_id}/posts/{post_id}", "/users/{user_id}/posts/{post_id}"),
        ("GET /static/{name}", "/static/{name}"),
        ("GET /items/{item_id}", "/items/{item_id}"),
        ("GET", None),
    ]


def test_plain_asgi_app_is_named_by_method_only(lens: Lens, db_path: Path) -> None:
    """A plain ASGI callable has no routes: its spans are named ``GET``, never the raw path, and the
    path is still stored in the span's URL attributes."""

    async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    with serve_in_thread(instrument_asgi(plain)) as url:
        assert httpx.get(f"{url}/orders/1234").text == "ok"
    lens.force_flush()
    (server,) = [s for s in spans(db_path) if s["kind"] == 1]
    assert server["name"] == "GET" and "http.route" not in server["attributes"]
    attributes = server["attributes"]
    assert "/orders/1234" in str(attributes.get("url.path", attributes.get("http.target")))


def test_a_route_whose_matching_fails_still_answers(lens: Lens, db_path: Path) -> None:
    """Naming is best effort: a route whose matches() raises gives the method-only name; the
    request itself is the router's business as before (here a 500 from the same route)."""

    class Broken(Route):
        calls = 0

        def matches(self, scope: Any) -> Any:
            Broken.calls += 1
            if Broken.calls == 1:  # the naming pass
                raise RuntimeError("matcher failed")
            return super().matches(scope)

    app = Starlette(routes=[Broken("/x/{n}", text)])
    with serve_in_thread(instrument_asgi(app)) as url:
        assert httpx.get(f"{url}/x/1").status_code == 200
    lens.force_flush()
    assert server_spans(db_path) == [("GET", None)]


def _answering(template: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("", headers={"x-template": template})

    return endpoint


def test_names_are_the_routes_the_router_runs(lens: Lens, db_path: Path) -> None:
    """Leaf routes (Starlette's Route and WebSocketRoute, FastAPI's APIRoute) are matched for the name
    without their matches(): the name must still be the template of the route the router then runs,
    for routes that differ only by converter or by method, HEAD on a GET route (Starlette adds HEAD),
    and a method no route allows (405: the first route the path matches)."""
    routes = [
        ("/items/{item_id:int}", ["GET"]),
        ("/items/{name}", ["POST"]),
        ("/items/{name}", ["GET", "DELETE"]),
        ("/files/{rest:path}", None),
    ]
    app = Starlette(routes=[Route(path, _answering(path), methods=methods) for path, methods in routes])
    requests = [("GET", "/items/7"), ("GET", "/items/seven"), ("POST", "/items/7"), ("HEAD", "/items/7")]
    requests += [("DELETE", "/items/x"), ("GET", "/files/a/b.txt"), ("PATCH", "/items/7")]
    expected = []
    with serve_in_thread(instrument_asgi(app)) as url:
        for method, path in requests:
            response = httpx.request(method, f"{url}{path}")
            template = response.headers.get("x-template")
            if response.status_code == 405:  # the router ran no endpoint: the first route the path matched
                assert (method, path) == ("PATCH", "/items/7")
                template = "/items/{item_id:int}"
            expected.append((f"{method} {template}", template))
    lens.force_flush()
    assert server_spans(db_path) == expected
    assert expected[1] == ("GET /items/{name}", "/items/{name}") and expected[2] == (
        "POST /items/{name}",
        "/items/{name}",
    )
