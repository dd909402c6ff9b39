"""The web viewer's test helpers: a demo store written through the real SDK and exporters, and a real
``otel-lens serve`` subprocess (uvicorn) on a free port."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings

MS = 10**6
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">'
HOSTILE_VALUE = "</td><script>window.__pwned=2</script>"
_URL = re.compile(r"viewer at (http://\S+)")


class Demo:
    """Writes spans and logs with explicit times (``start`` ns) through real providers and exporters."""

    def __init__(self, database: str) -> None:
        self.settings = Settings.load(environ={}, database=database, sweep_interval=0)
        self._providers: dict[str, TracerProvider] = {}
        self._loggers: dict[str, LoggerProvider] = {}

    def tracer(self, service: str) -> trace.Tracer:
        if service not in self._providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=False)
            provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(self.settings)))
            self._providers[service] = provider
        return self._providers[service].get_tracer("demo", "1.0")

    def span(
        self,
        service: str,
        name: str,
        start: int,
        end: int,
        parent: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: dict[str, Any] | None = None,
        error: str | None = None,
        children: list[tuple[Any, ...]] | None = None,
    ) -> Any:
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer(service).start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=start
        )
        for child in children or []:
            child[0](span)
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end)
        return span

    def log(self, service: str, span: Any, at: int, severity: SeverityNumber, body: Any) -> None:
        if service not in self._loggers:
            provider = LoggerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=False)
            provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(self.settings)))
            self._loggers[service] = provider
        self._loggers[service].get_logger("app").emit(
            timestamp=at, observed_timestamp=at, severity_number=severity, severity_text=severity.name, body=body,
            context=trace.set_span_in_context(span) if span is not None else None,
        )  # fmt: skip

    def request(self, start: int, user: int, fail: bool = False) -> str:
        """A checkout request: server span, auth, a DB query, a payment call (failing with a stack trace)."""
        tracer = self.tracer("shop")
        root = tracer.start_span("POST /checkout", kind=SpanKind.SERVER, start_time=start,
                                 attributes={"http.request.method": "POST", "http.route": "/checkout",
                                             "user.id": user, "http.response.status_code": 502 if fail else 200})  # fmt: skip
        ctx = trace.set_span_in_context(root)
        auth = tracer.start_span("authenticate", context=ctx, start_time=start + 1 * MS, attributes={"user.id": user})
        auth.end(end_time=start + 4 * MS)
        db = tracer.start_span("SELECT cart", context=ctx, kind=SpanKind.CLIENT, start_time=start + 5 * MS,
                               attributes={"db.system.name": "sqlite", "db.query.text": "SELECT * FROM cart WHERE user = ?"})  # fmt: skip
        self.log("shop", db, start + 6 * MS, SeverityNumber.INFO, f"cart of user {user}: 3 items")
        db.end(end_time=start + (8 + (user * 7) % 11) * MS)
        pay = self.tracer("payments").start_span("charge card", context=ctx, kind=SpanKind.CLIENT,
                                                 start_time=start + 20 * MS,
                                                 attributes={"rpc.method": "Charge", "payment.card": "visa-4242"})  # fmt: skip
        if fail:
            pay.add_event("exception", {"exception.type": "PaymentError", "exception.message": "card declined",
                                        "exception.stacktrace": 'Traceback (most recent call last):\n  File "pay.py", line 12, in charge\n    raise PaymentError("card declined")\nPaymentError: card declined'},
                          timestamp=start + 140 * MS)  # fmt: skip
            pay.set_status(Status(StatusCode.ERROR, "card declined"))
            self.log("payments", pay, start + 141 * MS, SeverityNumber.ERROR, {"event": "payment failed", "code": 51})
        pay.end(end_time=start + (150 + (user * 37) % 80) * MS)
        if fail:
            root.set_status(Status(StatusCode.ERROR, "upstream failed"))
        root.end(end_time=start + (160 + (user * 37) % 90) * MS)  # durations spread, as real ones are
        return f"{root.get_span_context().trace_id:032x}"

    def chat(self, start: int, model: str, tokens: int) -> str:
        span = self.tracer("agent").start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=start,
                                               attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                                           "gen_ai.request.model": model, "gen_ai.response.model": model,
                                                           "gen_ai.usage.input_tokens": tokens, "gen_ai.usage.output_tokens": tokens // 4})  # fmt: skip
        span.end(end_time=start + 900 * MS)
        return f"{span.get_span_context().trace_id:032x}"

    def hostile(self, start: int) -> str:
        tracer = self.tracer("shop")
        root = tracer.start_span(
            HOSTILE_NAME, start_time=start, attributes={"note": HOSTILE_VALUE, HOSTILE_NAME: "key"}
        )
        self.log("shop", root, start + MS, SeverityNumber.WARN, HOSTILE_VALUE)
        root.end(end_time=start + 5 * MS)
        return f"{root.get_span_context().trace_id:032x}"

    def big(self, start: int, spans: int, fan_out: int = 10) -> str:
        """One trace of ``spans`` spans: a tree ``fan_out`` wide, every span 1 ms after its parent starts."""
        tracer = self.tracer("batch")
        root = tracer.start_span("nightly batch", start_time=start, attributes={"batch.size": spans})
        made = [root]
        count = 1
        queue = [root]
        while count < spans:
            parent = queue.pop(0)
            for i in range(fan_out):
                if count >= spans:
                    break
                child = tracer.start_span("process item", context=trace.set_span_in_context(parent),
                                          start_time=start + count * 1000, attributes={"item": count, "lane": i})  # fmt: skip
                made.append(child)
                queue.append(child)
                count += 1
        for span in reversed(made):
            span.end(end_time=start + spans * 1000 + 10 * MS)
        return f"{root.get_span_context().trace_id:032x}"

    def close(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()
        for log_provider in self._loggers.values():
            log_provider.shutdown()


def build_demo(database: str) -> dict[str, str]:
    """A small store of recent traces: checkouts (some failing), GenAI calls over hours, a hostile span."""
    demo = Demo(database)
    now = time.time_ns()
    ids: dict[str, str] = {}
    try:
        for i in range(6):
            ids[f"chat{i}"] = demo.chat(
                now - (5 - i) * 3600 * 10**9 - 60 * 10**9, "gpt-4o" if i % 2 else "gpt-4o-mini", 800 + 300 * i
            )
        for i in range(12):
            ids[f"checkout{i}"] = demo.request(now - (12 - i) * 20 * 10**9, user=40 + i, fail=i in (3, 9))
        ids["failed"] = ids["checkout9"]
        ids["ok"] = ids["checkout10"]
        ids["hostile"] = demo.hostile(now - 5 * 10**9)
    finally:
        demo.close()
    return ids


class Viewer:
    """A running ``otel-lens serve`` subprocess; ``url`` is the base URL it printed."""

    def __init__(self, process: subprocess.Popen[str], url: str, stderr_lines: list[str]) -> None:
        self.process = process
        self.url = url.split("?")[0].rstrip("/")
        self.printed = url
        self.stderr_lines = stderr_lines

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@contextlib.contextmanager
def serve(
    database: str | Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[Viewer]:
    """Start ``otel-lens serve --port 0`` on ``database`` (in ``cwd``, for a relative path); wait until it answers;
    stop it afterwards."""
    # The OTLP receiver on a free port too: tests run in parallel, and 4318 may be anyone's.
    otlp = [] if "--otlp-port" in args or "--no-otlp" in args else ["--otlp-port", "0"]
    otlp += [] if "--grpc-port" in args or "--no-otlp" in args else ["--grpc-port", "0"]  # and 4317
    command = [sys.executable, "-m", "otel_lens", "serve", "--port", "0", "--database", str(database), *otlp, *args]
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environment, cwd=cwd
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = _URL.search(line)
            if match and not url:
                url.append(match.group(1))
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not found.wait(60):
            raise AssertionError(f"serve printed no URL: {''.join(lines)}")
        viewer = Viewer(process, url[0], lines)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(viewer.url + "/static/app.css", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"serve does not answer: {''.join(lines)}") from None
                time.sleep(0.05)
        yield viewer
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)
        if process.stderr is not None:
            process.stderr.close()
