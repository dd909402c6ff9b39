"""instrument_asgi flushes queued spans and logs when the ASGI lifespan shuts down (RELIABILITY 3, SIGTERM under uvicorn).

uvicorn (>= 0.29) re-raises SIGTERM with the default action after its graceful shutdown, so atexit
never runs: here the apps do no flushing of their own, and only instrument_asgi's lifespan hook
can store what is still queued (the batch delay is ten minutes).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens import instrument_asgi
from tests._facade_helpers import otel_globals_restored
from tests._instrument import listening
from tests._reliability import child_env, finish, wait_until, write_script

_REQUESTS = 20

# configure() + instrument_asgi on a Starlette app: server span, lens_route span, lens_fn span and a log per request.
_CONFIGURED_APP = """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from otel_lens import Logger, configure, instrument_asgi, lens_fn, lens_route

    configure()
    log = Logger("lifespan-test")


    @lens_fn
    def work(path):
        log.info("handled %s", path)
        return path


    @lens_route("GET /item")
    async def item(request):
        return PlainTextResponse(work(request.url.path) and "ok")


    app = instrument_asgi(Starlette(routes=[Route("/{rest:path}", item)]))
"""

# The application's own SDK providers with the lens exporters, a plain ASGI app whose lifespan
# answers without flushing: one server span, one child span and a log per request.
_OWN_PROVIDERS_APP = """
    import logging
    from opentelemetry import _logs, trace
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_lens import LensLogExporter, LensSpanExporter, instrument_asgi

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(LensSpanExporter(), schedule_delay_millis=600_000))
    trace.set_tracer_provider(tracer_provider)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(LensLogExporter(), schedule_delay_millis=600_000))
    _logs.set_logger_provider(logger_provider)
    logger = logging.getLogger("lifespan-test")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    tracer = trace.get_tracer("lifespan-test")


    async def plain(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        with tracer.start_as_current_span("handle"):
            logger.info("handled %s", scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


    app = instrument_asgi(plain)
"""


def _serve_and_terminate(tmp_path: Path, db_path: Path, source: str, *options: str) -> tuple[int, int, int, str]:
    """Serve ``source`` with the uvicorn CLI, send the requests, SIGTERM it; returns stored spans, logs, stderr."""
    write_script(tmp_path, "app.py", source)
    sock = tmp_path / "app.sock"
    env = child_env(
        OTEL_EXPORTER_LENS_DATABASE=str(db_path),
        OTEL_EXPORTER_LENS_SWEEP_INTERVAL="0s",
        OTEL_BSP_SCHEDULE_DELAY="600000",
        OTEL_BLRP_SCHEDULE_DELAY="600000",
        OTEL_METRICS_EXPORTER="none",
    )
    command = [sys.executable, "-m", "uvicorn", "app:app", "--uds", str(sock), "--lifespan", "on"]
    server = subprocess.Popen(
        [*command, *options, "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The socket file exists a moment before uvicorn listens on it (with --workers, the supervisor binds it).
        wait_until(lambda: listening(sock) or server.poll() is not None, what="uvicorn listening")
        assert server.poll() is None, server.communicate()[1]
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://app") as client:
            for number in range(_REQUESTS):
                assert client.get(f"/item/{number}").text == "ok"
    finally:
        server.send_signal(signal.SIGTERM)
        code, out, err = finish(server)
    assert out == "" and "Traceback" not in err, err
    with sqlite3.connect(db_path) as conn:
        stored_spans = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
        stored_logs = conn.execute("SELECT count(*) FROM lens_logs").fetchone()[0]
    return code, stored_spans, stored_logs, err


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_uvicorn_stores_what_configure_queued(tmp_path: Path, db_path: Path, workers: int) -> None:
    """Scenario 3: configure()+instrument_asgi under `uvicorn app:app [--workers 2]`, SIGTERM: all queued data is stored.

    With one process, configure()'s own SIGTERM handler (installed at import, restored and re-raised
    by uvicorn) would flush too; uvicorn's worker processes import the app while uvicorn's handler is
    in place, so there only the lifespan flush stores anything.
    """
    code, stored_spans, stored_logs, _ = _serve_and_terminate(
        tmp_path, db_path, _CONFIGURED_APP, "--workers", str(workers)
    )
    assert code == (-signal.SIGTERM if workers == 1 else 0)  # one process re-raises; the supervisor exits
    assert (stored_spans, stored_logs) == (_REQUESTS * 3, _REQUESTS)


@pytest.mark.slow
def test_sigterm_under_uvicorn_stores_what_the_apps_own_providers_queued(tmp_path: Path, db_path: Path) -> None:
    """Scenario 3: an app's own batch processors (lens exporters) behind instrument_asgi are flushed on SIGTERM."""
    code, stored_spans, stored_logs, _ = _serve_and_terminate(tmp_path, db_path, _OWN_PROVIDERS_APP)
    assert code == -signal.SIGTERM  # uvicorn re-raised the signal with the default action: no atexit ran
    assert (stored_spans, stored_logs) == (_REQUESTS * 2, _REQUESTS)


@pytest.fixture
def queued() -> Iterator[InMemorySpanExporter]:
    """A global provider whose batch processor keeps spans queued until flushed (restored afterwards)."""
    with otel_globals_restored():
        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
        trace.set_tracer_provider(provider)
        yield exporter
        provider.shutdown()


async def _drive_lifespan(app: Any, messages: list[dict[str, Any]], seen: list[tuple[Any, int]], exporter: Any) -> None:
    """Feed ``messages`` to the app's lifespan; record each reply with how many spans were exported by then."""
    inbox = list(messages)

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        seen.append((message, len(exporter.get_finished_spans())))

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)


def test_lifespan_shutdown_flushes_before_the_reply_and_passes_messages_unchanged(
    queued: InMemorySpanExporter,
) -> None:
    """The spans queued before shutdown are exported before the server gets the reply; replies are the same objects."""
    replies = [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send(replies[0])
        trace.get_tracer("t").start_span("queued").end()
        assert (await receive())["type"] == "lifespan.shutdown"
        await send(replies[1])

    seen: list[tuple[Any, int]] = []
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    asyncio.run(_drive_lifespan(instrument_asgi(app), messages, seen, queued))
    assert [message for message, _ in seen] == replies
    assert all(message is reply for (message, _), reply in zip(seen, replies, strict=True))
    assert [count for _, count in seen] == [0, 1]  # flushed after startup's reply, before shutdown's


def test_lifespan_that_fails_during_shutdown_still_flushes_and_raises_unchanged(queued: InMemorySpanExporter) -> None:
    """An app whose lifespan raises after being asked to shut down: spans are flushed, its exception propagates."""
    boom = RuntimeError("shutdown failed")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        trace.get_tracer("t").start_span("queued").end()
        await receive()
        raise boom

    seen: list[tuple[Any, int]] = []
    with pytest.raises(RuntimeError) as info:
        asyncio.run(
            _drive_lifespan(
                instrument_asgi(app), [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}], seen, queued
            )
        )
    assert info.value is boom
    assert len(queued.get_finished_spans()) == 1


def test_lifespan_startup_alone_does_not_flush(queued: InMemorySpanExporter) -> None:
    """Only shutdown flushes: a lifespan that starts and then ends without being asked to shut down leaves the queue."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        trace.get_tracer("t").start_span("queued").end()
        await send({"type": "lifespan.startup.complete"})

    seen: list[tuple[Any, int]] = []
    asyncio.run(_drive_lifespan(instrument_asgi(app), [{"type": "lifespan.startup"}], seen, queued))
    assert len(queued.get_finished_spans()) == 0
