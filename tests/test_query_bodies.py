"""Captured bodies on the read side: Store.trace() and show resolve sha256 references to the stored text."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.cli._waterfall import render_trace
from otel_lens.facade._capture import body_attributes
from otel_lens.settings import Settings
from tests._read_helpers import recorder

REQUEST = '{"user": "ada", "items": [1, 2, 3]}'
RESPONSE = "\n".join(f"line {i}: " + "x" * 60 for i in range(100))  # > 1 KiB: stored zlib-compressed


def _store_trace_with_bodies(settings: Settings) -> str:
    with recorder(settings) as rec:
        attributes = {
            "http.route": "/orders",
            **body_attributes("request", REQUEST, "application/json", len(REQUEST), False),
            **body_attributes("response", RESPONSE, "text/plain", 90_000, True),
        }
        span = rec.span("shop", "POST /orders", 0, 10, attributes=attributes)
        rec.end(span)
        return f"{span.get_span_context().trace_id:032x}"


def test_trace_resolves_body_references_to_text(settings: Settings) -> None:
    """Store.trace() replaces each sha256 reference by the decoded body (compressed or not); siblings stay."""
    trace_id = _store_trace_with_bodies(settings)
    with open_store(settings.database) as store:
        (span,) = store.trace(trace_id).spans
        assert span.attributes["lens.body.request"] == REQUEST
        assert span.attributes["lens.body.response"] == RESPONSE
        assert span.attributes["lens.body.request.content_type"] == "application/json"
        assert span.attributes["lens.body.response.size"] == 90_000
        assert span.attributes["lens.body.response.truncated"] is True
        assert span.missing_bodies == ()
        (exported,) = list(store.iter_trace_spans())
        assert exported[0].attributes["lens.body.request"] == REQUEST


def test_show_json_carries_the_body_text(sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """show --json has the bodies' text where the store keeps only a reference."""
    trace_id = _store_trace_with_bodies(sqlite_settings)
    assert main(["show", trace_id, "--json", "--database", sqlite_settings.database]) == 0
    (span,) = json.loads(capsys.readouterr().out)["spans"]
    assert span["attributes"]["lens.body.request"] == REQUEST
    assert span["attributes"]["lens.body.response"] == RESPONSE


def test_show_prints_bodies_under_their_span_bounded_when_piped(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped, show prints each body under its span with its content type, whole up to 2 KiB, then a note."""
    trace_id = _store_trace_with_bodies(sqlite_settings)
    assert main(["show", trace_id, "--database", sqlite_settings.database]) == 0
    out = capsys.readouterr().out
    assert "request body (application/json, 35B):" in out
    assert REQUEST in out
    assert "response body (text/plain, 87.9KiB, truncated when captured):" in out
    assert "line 0: " + "x" * 60 in out and "line 99:" not in out
    assert f"… {len(RESPONSE) - 2048:,} more characters (show --json prints the whole body)" in out
    assert "sha256:" not in out


def test_show_on_a_terminal_keeps_a_few_lines_of_a_body(sqlite_settings: Settings) -> None:
    """On a terminal a body shows its first lines, each cut to the width, and says how many more there are."""
    trace_id = _store_trace_with_bodies(sqlite_settings)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None, highlight=False)
    with open_store(sqlite_settings.database) as store:
        render_trace(store.trace(trace_id), console)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert any("line 5: xxxx" in line and line.endswith("x…") for line in lines)  # cut to the width
    assert not any("line 6: " in line for line in lines)
    assert any("… 94 more lines (show --json for all)" in line for line in lines)


def test_a_swept_body_shows_as_no_longer_stored(sqlite_settings: Settings, db_path: Path) -> None:
    """A body whose row retention deleted keeps its reference, is listed as missing and shows as such."""
    trace_id = _store_trace_with_bodies(sqlite_settings)
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM lens_bodies WHERE size = ?", (len(REQUEST),))
    conn.close()
    with open_store(db_path) as store:
        detail = store.trace(trace_id)
    (span,) = detail.spans
    assert span.missing_bodies == ("lens.body.request",)
    assert span.attributes["lens.body.request"].startswith("sha256:")
    assert span.attributes["lens.body.response"] == RESPONSE
    out = io.StringIO()
    render_trace(detail, Console(file=out, width=120, highlight=False))
    assert "request body (application/json, 35B) (body no longer stored)" in out.getvalue()


def test_bodies_of_a_trace_are_read_in_one_query(sqlite_settings: Settings, db_path: Path) -> None:
    """All bodies of a trace come from one SELECT on lens_bodies, however many spans carry them."""
    with recorder(sqlite_settings) as rec:
        root = rec.span("shop", "batch", 0, 100)
        for index in range(20):
            body = body_attributes("request", f"body {index}", "text/plain", 6, False)
            rec.end(rec.span("shop", f"item {index}", index, index + 1, root, attributes=body))
        rec.end(root)
        trace_id = f"{root.get_span_context().trace_id:032x}"
    statements: list[str] = []
    original = sqlite3.Connection.execute

    with open_store(db_path) as store:
        import peewee

        real_execute_sql = peewee.SqliteDatabase.execute_sql

        def counting(self: peewee.SqliteDatabase, sql: str, *args: object, **kwargs: object) -> object:
            statements.append(sql)
            return real_execute_sql(self, sql, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(peewee.SqliteDatabase, "execute_sql", counting)
            spans = store.trace(trace_id).spans
    assert sorted(s.attributes["lens.body.request"] for s in spans if s.name != "batch") == sorted(
        f"body {i}" for i in range(20)
    )
    assert sum("lens_bodies" in sql for sql in statements) == 1
    assert original is sqlite3.Connection.execute
