"""Readability of ``show``: exceptions once with their stack, service labels, client URLs, 80 columns, --attributes, times."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from opentelemetry._logs import SeverityNumber
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.trace import SpanKind
from rich.console import Console

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.cli._waterfall import render_trace
from otel_lens.settings import Settings
from tests._read_helpers import build_sample, local_zone, recorder

LONG_ROUTE = "GET /api/v1/organizations/{organization_id}/projects/{project_id}/members/{member_id}"
LONG_SQL = "SELECT " + ", ".join(f"members.column_{i}" for i in range(30)) + " FROM members WHERE id = ?"
LONG_URL = "https://payments.internal.example.com:8443/v2/charges/ch_1234567890/captures"


class PaymentError(Exception):
    """A user-defined exception: the SDK's status says "PaymentError: …", its event the qualified type."""


def charge(depth: int) -> None:
    if depth == 0:
        raise PaymentError("card declined")
    retry(depth - 1)


def retry(depth: int) -> None:
    charge(depth)  # two alternating frames, which Python's traceback does not fold as repeated


def show(settings: Settings, trace_id: str, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    assert main(["show", trace_id, *flags, "--database", settings.database]) == 0
    return capsys.readouterr().out


def on_terminal(settings: Settings, trace_id: str, width: int, every_attribute: bool = False) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False)
    with open_store(settings.database) as store:
        render_trace(store.trace(trace_id), console, every_attribute)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    return lines


def failing_trace(settings: Settings) -> str:
    with recorder(settings) as rec:
        tracer = rec.tracer("shop")
        with pytest.raises(PaymentError), tracer.start_as_current_span("checkout") as span:
            charge(16)
    return f"{span.get_span_context().trace_id:032x}"


def test_user_defined_exception_is_said_once_with_the_end_of_its_stack(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user-defined exception is one ✗ line (not status + event) followed by its innermost frames, bounded."""
    trace_id = failing_trace(sqlite_settings)
    out = show(sqlite_settings, trace_id, capsys)
    problems = [line.strip() for line in out.splitlines() if "✗" in line]
    assert problems == [f"✗ error: {__name__}.PaymentError: card declined"]
    lines = out.splitlines()
    assert any("earlier frames (show --json has the whole stack)" in line for line in lines)
    frames = [line.strip() for line in lines if line.strip().startswith('File "')]
    assert len(frames) == 12 and frames[-1].endswith("in charge")
    assert lines[-1].strip() == 'raise PaymentError("card declined")'
    terminal = on_terminal(sqlite_settings, trace_id, 80)
    assert len([line for line in terminal if 'File "' in line]) == 4
    assert len([line for line in terminal if "✗" in line]) == 1
    assert f"✗error:{__name__}.PaymentError:carddeclined" in joined(terminal)


def test_service_label_where_a_call_crosses_into_another_service(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The root and each span whose service differs from its parent's carry [service]; the others do not."""
    with recorder(sqlite_settings) as rec:
        root = rec.span("gateway", "GET /pay", 0, 100, kind=SpanKind.SERVER)
        call = rec.span("gateway", "POST billing", 1, 90, root, SpanKind.CLIENT)
        served = rec.span("billing", "POST /charge", 2, 80, call, SpanKind.SERVER)
        inner = rec.span("billing", "load card", 3, 10, served)
        for span in (inner, served, call, root):
            rec.end(span)
        trace_id = f"{root.get_span_context().trace_id:032x}"
    lines = show(sqlite_settings, trace_id, capsys).splitlines()
    labelled = {name: f"[{service}]" in line for line in lines for name, service in
                (("GET /pay", "gateway"), ("POST billing", "gateway"), ("POST /charge", "billing"),
                 ("load card", "billing")) if name in line}  # fmt: skip
    assert labelled == {"GET /pay": True, "POST billing": False, "POST /charge": True, "load card": False}


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_http_client_spans_show_method_and_url(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """A requests client span (real opentelemetry-instrumentation-requests) shows its method and URL; a client
    span with only a peer shows server.address:port."""
    with recorder(sqlite_settings) as rec, local_server() as base:
        provider = rec.tracer("app") and rec._providers["app"]
        instrumentor = RequestsInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            with rec.tracer("app").start_as_current_span("sync orders") as root:
                assert requests.get(f"{base}/orders/7", timeout=30).status_code == 200
                with rec.tracer("app").start_as_current_span("query", kind=SpanKind.CLIENT) as query:
                    query.set_attributes({"db.system.name": "postgresql", "server.address": "db.internal",
                                          "server.port": 5432})  # fmt: skip
        finally:
            instrumentor.uninstrument()
    out = show(sqlite_settings, f"{root.get_span_context().trace_id:032x}", capsys)
    (client,) = [line for line in out.splitlines() if "GET  client" in line]
    details = out.splitlines()[out.splitlines().index(client) + 1]
    assert "GET" in details and f"{base}/orders/7" in details
    assert "server.address=db.internal:5432  db.system.name=postgresql" in out


def wide_trace(settings: Settings) -> str:
    with recorder(settings) as rec:
        root = rec.span("payments-service-eu-west", LONG_ROUTE, 0, 500, kind=SpanKind.SERVER,
                        attributes={"http.request.method": "GET", "http.route": LONG_ROUTE})  # fmt: skip
        client = rec.span("payments-service-eu-west", "POST", 10, 200, root, SpanKind.CLIENT,
                          {"http.request.method": "POST", "url.full": LONG_URL, "http.response.status_code": 201,
                           "app.tenant": "acme"})  # fmt: skip
        rec.end(client)
        query = rec.span("payments-service-eu-west", "SELECT members", 210, 260, root, SpanKind.CLIENT,
                         {"db.system.name": "postgresql", "db.query.text": LONG_SQL})  # fmt: skip
        rec.log("payments-service-eu-west", query, 215, SeverityNumber.WARN, "slow query: " + "x" * 30)
        rec.end(query)
        rec.end(root)
        return f"{root.get_span_context().trace_id:032x}"


def joined(lines: list[str]) -> str:
    """The text of wrapped lines read back as one (the wrap drops a space at a break; the rails go)."""
    return "".join(line.replace("│", " ").strip() for line in lines).replace(" ", "")


@pytest.mark.parametrize("width", [80, 120])
def test_show_at_80_and_120_columns_keeps_the_text(sqlite_settings: Settings, width: int) -> None:
    """At 80 and 120 columns every line fits; the route, URL and service are whole and the SQL is readable."""
    trace_id = wide_trace(sqlite_settings)
    lines = on_terminal(sqlite_settings, trace_id, width)
    text = joined(lines)
    assert LONG_ROUTE.replace(" ", "") in text and "[payments-service-eu-west]" in text
    assert f"url.full={LONG_URL}" in text and "http.response.status_code=201" in text
    assert LONG_SQL[:150].replace(" ", "") in text  # a good part of the statement, not 5 characters
    assert "slowquery:" + "x" * 30 in text
    bar_lines = [line for line in lines if "|" in line and ("█" in line)]
    assert len(bar_lines) == 3
    bar = bar_lines[0].split("|")[1]
    assert len(bar) == (12 if width == 80 else 30)
    for line in lines[3:]:
        rail = line[len(bar) + 21 :]  # after the timing columns: the tree, then text
        assert rail == "" or not rail.startswith(" " * (width - len(bar) - 21))


def test_show_attributes_lists_every_attribute(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """show --attributes prints every attribute of every span, whole when piped and wrapped (not cut) at 80."""
    trace_id = wide_trace(sqlite_settings)
    out = show(sqlite_settings, trace_id, capsys, "--attributes")
    for pair in (f"url.full={LONG_URL}", f"db.query.text={LONG_SQL}", f"http.route={LONG_ROUTE}",
                 "http.request.method=POST", "db.system.name=postgresql", "http.response.status_code=201"):  # fmt: skip
        assert pair in out
    assert "app.tenant=acme" in out and "app.tenant" not in show(sqlite_settings, trace_id, capsys)
    terminal = on_terminal(sqlite_settings, trace_id, 80, every_attribute=True)
    assert f"db.query.text={LONG_SQL}".replace(" ", "") in joined(terminal)


def test_text_times_are_local_with_their_offset_and_json_is_utc(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a +05:30 zone logs, traces and show print local times saying +05:30; --json stays UTC with Z."""
    sample = build_sample(sqlite_settings)
    database = ["--database", sqlite_settings.database]
    for _ in local_zone(monkeypatch, "IST-5:30"):
        assert main(["logs", *database]) == 0
        logs = capsys.readouterr().out.splitlines()
        assert logs[-1].startswith("2024-01-01 05:30:00.003+05:30 INF") and logs[-1].endswith("loading user 42")
        assert main(["traces", *database]) == 0
        traces = capsys.readouterr().out.splitlines()
        assert traces[0].startswith("time (+05:30)") and traces[-1].startswith("2024-01-01 05:30:00.000")
        out = show(sqlite_settings, sample.users_trace, capsys)
        assert "started 2024-01-01 05:30:00.000+05:30" in out and "05:30:00.003 INF loading user 42" in out
        assert main(["logs", "--json", *database]) == 0
        assert json.loads(capsys.readouterr().out)[-1]["timestamp"] == "2024-01-01T00:00:00.003000Z"


def test_an_error_status_without_a_message_takes_the_exceptions(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Status ERROR with no description plus an exception event is one ✗ line naming the exception."""
    with recorder(sqlite_settings) as rec:
        span = rec.span("shop", "retry", 0, 5, error="")
        span.add_event("exception", {"exception.type": "TimeoutError", "exception.message": "read timed out"})
        rec.end(span)
    out = show(sqlite_settings, f"{span.get_span_context().trace_id:032x}", capsys)
    assert [line.strip() for line in out.splitlines() if "✗" in line] == ["✗ error: TimeoutError: read timed out"]
