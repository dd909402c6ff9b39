"""Table and tree layout: whole values one line per row when piped; fitted to the width on a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.cli._views import render_traces, short_id_length
from otel_lens.cli._waterfall import render_trace
from otel_lens.settings import Settings
from tests._read_helpers import ChosenIdGenerator, recorder

LONG_ROUTE = "GET /api/v1/organizations/{organization_id}/projects/{project_id}/members/{member_id}"
LONG_SERVICE = "payments-service-eu-west"
LONG_STATEMENT = "SELECT " + ", ".join(f"column_{i}" for i in range(40)) + " FROM members WHERE id = ?"
IDS = [0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x4BF92F3577B3FFFFA3CE929D0E0E4736, 0x0AF7651916CD43DD8448EB211C80319C]


@pytest.fixture
def long_names(sqlite_settings: Settings) -> Settings:
    """Three traces: two with a long route and service whose ids share 12 hex digits, one short."""
    with recorder(sqlite_settings, ChosenIdGenerator(list(IDS))) as rec:
        for index in range(2):
            root = rec.span(LONG_SERVICE, LONG_ROUTE, index * 100, index * 100 + 50,
                            attributes={"http.route": LONG_ROUTE}, error="boom" if index else None)  # fmt: skip
            query = rec.span(LONG_SERVICE, "SELECT members", index * 100 + 1, index * 100 + 9, root,
                             attributes={"db.statement": LONG_STATEMENT})  # fmt: skip
            rec.end(query)
            rec.end(root)
        rec.end(rec.span("shop", "GET /users/{id}", 300, 320))
    return sqlite_settings


def terminal(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=True, color_system=None, highlight=False), out


def test_piped_traces_are_one_whole_line_per_trace(
    long_names: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`otel-lens traces | grep` finds long routes and services whole, one line each, whatever COLUMNS says."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["traces", "--database", long_names.database]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 3  # header, rule, one line per trace
    matching = [line for line in lines if LONG_ROUTE in line]
    assert len(matching) == 2 and all(LONG_SERVICE in line for line in matching)
    assert all(f"{trace_id:032x}" in "".join(lines) for trace_id in IDS)
    assert "…" not in "".join(lines)


@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_terminal_traces_keep_root_span_and_service(long_names: Settings, width: int) -> None:
    """On a terminal time, root span, duration, spans and errors stay visible (the service while there is room
    for it, see tests/test_cli_narrow.py); ids shorten to a unique prefix show accepts."""
    console, out = terminal(width)
    with open_store(long_names.database) as store:
        render_traces(store.traces(), console)
        lines = out.getvalue().splitlines()
        assert all(len(line) <= width for line in lines)
        assert all(title in lines[0] for title in ("time", "root span", "duration", "spans", "errors"))
        assert ("service" in lines[0]) == (width >= 100)
        rows = lines[2:]
        shown = "GET /users/{id}" if width >= 80 else "GET /user…"  # at 60 the name is cut with an ellipsis
        assert any(shown in row and ("shop" in row or width < 100) for row in rows)
        assert all(row.split()[-1] != "" for row in rows)
        short = [word for row in rows for word in row.split() if len(word) >= 12 and word.isalnum()]
        assert sorted(short) == ["0af7651916cd4", "4bf92f3577b34", "4bf92f3577b3f"]  # 12 digits are shared: 13
        for prefix in short:
            assert store.trace(prefix).trace_id.startswith(prefix)
        if width >= 100:
            assert any("GET /api/v1/org" in row and "payments-serv" in row for row in rows)


def test_short_trace_ids_are_12_digits_unless_that_is_ambiguous() -> None:
    """The id column is 12 hex digits, more only when listed ids share their first 12."""
    assert short_id_length(["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"]) == 12
    assert short_id_length(["4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da7a3ce929d0e0e4736"]) == 16
    assert short_id_length(["4bf92f3577b34da6a3ce929d0e0e4736"] * 2) == 12


def test_show_on_a_terminal_wraps_details_under_the_span(long_names: Settings) -> None:
    """On a terminal a long statement wraps under its span within six lines, then ends in "…"; lines fit."""
    console, out = terminal(100)
    with open_store(long_names.database) as store:
        render_trace(store.trace("4bf92f3577b34"), console)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 100 for line in lines)
    (first,) = [index for index, line in enumerate(lines) if "db.statement=SELECT" in line]
    statement = lines[first:]
    assert len(statement) == 6 and statement[-1].endswith("…")
    column = statement[0].index("db.statement")
    assert all(line[:column].strip() == "" and line[column] != " " for line in statement)  # aligned, no rails
    shown = "".join(line.strip() + " " for line in statement).replace("  ", " ")
    assert shown.startswith("db.statement=SELECT column_0, column_1,") and "column_12," in shown


def test_piped_show_prints_attribute_values_whole(long_names: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Piped, show prints long attribute values whole on their line."""
    assert main(["show", "4bf92f3577b34", "--database", long_names.database]) == 0
    out = capsys.readouterr().out
    assert f"db.statement={LONG_STATEMENT}" in out
    assert f"http.route={LONG_ROUTE}" in out
