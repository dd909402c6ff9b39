"""``stats`` tells apart spans that share a name: by kind and service, in the read API, --json and the table."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import SpanKind
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_lens import configure, instrument_asgi, lens_route, open_store
from otel_lens.cli import main
from otel_lens.cli._views import render_stats
from otel_lens.settings import Settings
from tests._facade_helpers import otel_globals_restored, serve_in_thread
from tests._read_helpers import recorder

LONG_ROUTE = "GET /api/v1/organizations/{organization_id}/projects/{project_id}/members/{member_id}"


def test_readme_route_span_and_its_server_span_are_two_rows(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's lens_route("GET /grep") span and the server span GET /grep (real Starlette, uvicorn, httpx)."""

    @lens_route("GET /grep")
    async def grep(request: Request) -> Response:
        return JSONResponse({"q": request.query_params.get("q")})

    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0)
        app = instrument_asgi(Starlette(routes=[Route("/grep", grep)]))
        with serve_in_thread(app) as url:
            for _ in range(3):
                assert httpx.get(f"{url}/grep", params={"q": "x"}).status_code == 200
        lens.force_flush()
        lens.shutdown()
    assert main(["stats", "--json", "--since", "1h", "--database", str(db_path)]) == 0
    rows = [row for row in json.loads(capsys.readouterr().out) if row["name"] == "GET /grep"]
    assert sorted((row["kind"], row["count"]) for row in rows) == [("INTERNAL", 3), ("SERVER", 3)]
    assert all(row["service"] == rows[0]["service"] for row in rows)
    assert main(["stats", "--since", "1h", "--database", str(db_path)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("GET /grep")]
    assert sorted(line[2] for line in lines) == ["internal", "server"]


def test_same_name_in_two_services_and_kinds(sqlite_settings: Settings) -> None:
    """By name, rows are (name, kind, service) with their own counts and percentiles; by service, one per service."""
    with recorder(sqlite_settings) as rec:
        for index in range(4):
            rec.end(rec.span("gateway", "GET /health", index * 10, index * 10 + 1, kind=SpanKind.SERVER))
        rec.end(rec.span("billing", "GET /health", 100, 150, kind=SpanKind.SERVER, error="down"))
        rec.end(rec.span("billing", "GET /health", 200, 202, kind=SpanKind.CLIENT))
    with open_store(sqlite_settings.database) as store:
        rows = store.stats(since=None)
        by_service = store.stats(since=None, by="service")
    assert [(r.key, r.kind, r.service, r.count, r.error_count, r.p99_ms) for r in rows] == [
        ("GET /health", "SERVER", "gateway", 4, 0, 1.0),
        ("GET /health", "CLIENT", "billing", 1, 0, 2.0),
        ("GET /health", "SERVER", "billing", 1, 1, 50.0),
    ]
    assert rows[0].as_dict() == {
        "name": "GET /health", "kind": "SERVER", "service": "gateway", "count": 4, "error_count": 0,
        "error_rate": 0.0, "p50_ms": 1.0, "p95_ms": 1.0, "p99_ms": 1.0,
        "exact": False, "histogram": [[0.98304, 1.015808, 4]],
    }  # fmt: skip
    assert [(r.key, r.count, r.error_count) for r in by_service] == [("gateway", 4, 0), ("billing", 2, 1)]
    assert set(by_service[0].as_dict()) == {"service", "kind", "count", "error_count", "error_rate",
                                            "p50_ms", "p95_ms", "p99_ms", "exact", "histogram"}  # fmt: skip
    assert by_service[0].as_dict()["kind"] is None


def terminal_stats(settings: Settings, width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False)
    with open_store(settings.database) as store:
        render_stats(store.stats(since=None), console, "name")
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_stats_wrap_long_names_instead_of_cutting(sqlite_settings: Settings, width: int) -> None:
    """At 80 and 120 columns a long route is shown whole (wrapped in its column), numbers whole, lines fit."""
    with recorder(sqlite_settings) as rec:
        rec.end(rec.span("payments-service-eu-west", LONG_ROUTE, 0, 1234, kind=SpanKind.SERVER))
        rec.end(rec.span("shop", "GET /grep", 0, 5))
    lines = terminal_stats(sqlite_settings, width)
    assert all(len(line) <= width for line in lines)
    assert "…" not in "".join(lines)
    numbers = re.compile(r"\s+\d+\s+\d+\s+[\d.]+%\s+\S+\s+\S+\s+\S+$")
    assert [numbers.search(line) is not None for line in lines[2:]].count(True) == 2
    assert any(line.endswith("1.23s  1.23s  1.23s") for line in lines)
    # The name column (up to the kind column when there is one), read down; wrapping drops only spaces.
    cut = lines[0].index("kind") if "kind" in lines[0] else None
    labels = "".join(numbers.sub("", line)[:cut].strip() for line in lines[2:]).replace(" ", "")
    labels += "".join(line[cut:] for line in lines[2:]) if cut else ""
    assert LONG_ROUTE.replace(" ", "") in labels and "payments-service-eu-west" in labels
    assert "server" in labels and "internal" in labels
    assert lines[0].split()[-7:] == ["count", "errors", "error", "rate", "p50", "p95", "p99"]
