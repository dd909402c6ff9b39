"""``opentelemetry-instrument uvicorn app:app`` with the contrib FastAPI/Starlette instrumentation and an app
that calls instrument_asgi (once or twice): one server span per request, stored by the ``lens`` exporter.

Pins down issue 8 defect 9 on the zero-code path: the instrumentation patches ``fastapi.FastAPI`` (its
middleware wraps the stack built at the first request) or ``starlette.applications.Starlette`` (its
middleware is added when the app is created), so OpenTelemetry's middleware is there before
instrument_asgi runs; the request still gets exactly one SERVER span named by route template with
``http.route``, one lens_route span, query secrets scrubbed and bodies captured.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._facade_helpers import free_port, spans
from tests._reliability import PROCESS_TIMEOUT_S, child_env, write_script
from tests.test_real_asgi_once import check_one_span_each, exercise

pytestmark = pytest.mark.slow

_APP = """
    import os

    from otel_lens import instrument_asgi, lens_route

    if os.environ["APP_KIND"] == "fastapi":
        from fastapi import FastAPI, Request

        app = FastAPI()

        @app.get("/healthz")
        def healthz():
            return "ok"

        @app.get("/items/{item_id}")
        @lens_route("GET /items/{item_id}")
        async def item(item_id: int):
            return {"item_id": item_id}

        @app.post("/items/{item_id}")
        @lens_route("POST /items/{item_id}")
        async def update(item_id: int, request: Request):
            return {"item_id": item_id, "got": (await request.json())["name"]}

    else:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Route

        @lens_route("GET /items/{item_id}")
        async def item(request):
            return JSONResponse({"item_id": int(request.path_params["item_id"])})

        @lens_route("POST /items/{item_id}")
        async def update(request):
            body = await request.json()
            return JSONResponse({"item_id": int(request.path_params["item_id"]), "got": body["name"]})

        async def healthz(request):
            return PlainTextResponse("ok")

        app = Starlette(
            routes=[
                Route("/healthz", healthz),
                Route("/items/{item_id}", item, methods=["GET"]),
                Route("/items/{item_id}", update, methods=["POST"]),
            ]
        )

    for _ in range(int(os.environ["LENS_CALLS"])):
        assert instrument_asgi(app) is app
"""


@contextlib.contextmanager
def instrumented_uvicorn(tmp_path: Path, db_path: Path, kind: str, calls: int, **extra_env: str) -> Iterator[str]:
    """``opentelemetry-instrument uvicorn app:app`` on a free port, ready; stopped with SIGTERM afterwards."""
    write_script(tmp_path, "lens_app.py", _APP)
    port = free_port()
    env = child_env(
        APP_KIND=kind,
        LENS_CALLS=str(calls),
        OTEL_TRACES_EXPORTER="lens",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="routes-app",
        OTEL_EXPORTER_LENS_DATABASE=str(db_path),
        OTEL_EXPORTER_LENS_CAPTURE_BODIES="true",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    env.update(extra_env)
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    command = [str(instrument), sys.executable, "-m", "uvicorn", "lens_app:app", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while True:
            assert server.poll() is None, server.communicate()[1].decode()
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not answer"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=PROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert "Traceback" not in err.decode(), err.decode()


def item_server_spans(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        return sum(1 for s in spans(db_path) if s["kind"] == 1 and "/items/" in s["name"])
    except sqlite3.OperationalError:  # the exporter has not created its tables yet
        return 0


@pytest.mark.parametrize("calls", [1, 2], ids=["instrument_asgi-once", "instrument_asgi-twice"])
@pytest.mark.parametrize("kind", ["fastapi", "starlette"])
def test_opentelemetry_instrument_and_instrument_asgi_give_one_server_span(
    tmp_path: Path, db_path: Path, kind: str, calls: int
) -> None:
    """Under opentelemetry-instrument with the framework's contrib instrumentation active, an app calling
    instrument_asgi stores exactly one SERVER span per request, named by route template with http.route."""
    with instrumented_uvicorn(tmp_path, db_path, kind, calls) as url:
        exercise(url)
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while item_server_spans(db_path) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    probes = {s["trace_id"] for s in spans(db_path) if s["name"].endswith("/healthz")}
    check_one_span_each(db_path, ignore_traces=probes)
    # The contrib instrumentation really ran and made the server spans (instrument_asgi only added its extras).
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        scopes = {
            row[0]
            for row in db.execute(
                "SELECT DISTINCT c.name FROM lens_spans s JOIN lens_scopes c ON c.id = s.scope_id WHERE s.kind = 1"
            )
        }
    assert scopes == {f"opentelemetry.instrumentation.{kind}"}


def test_lifespan_flush_still_works_inside_the_contrib_middleware(tmp_path: Path, db_path: Path) -> None:
    """With the FastAPI instrumentation's middleware outermost, instrument_asgi's lifespan flush still runs:
    a SIGTERM right after the last response, with a batch delay far longer than the test, stores every span."""
    with instrumented_uvicorn(tmp_path, db_path, "fastapi", 1, OTEL_BSP_SCHEDULE_DELAY="600000") as url:
        exercise(url)
    probes = {s["trace_id"] for s in spans(db_path) if s["name"].endswith("/healthz")}
    check_one_span_each(db_path, ignore_traces=probes)
