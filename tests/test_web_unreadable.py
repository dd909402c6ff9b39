"""``otel-lens serve`` on a database it cannot read: a foreign SQLite file or a directory (what a new user tried).

``serve`` says so in one line at start (a missing database stays "nothing stored yet": a writer may create it),
names the database by its absolute path, the API marks the 503 ``"permanent"``, and the Traces and Logs pages
show the one-line reason in the page (escaped) and stop their live feed instead of "reconnecting…" forever.
Real ``otel-lens serve`` subprocesses, real SQLite files, Debian's Chromium via Playwright.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests._web import HOSTILE_NAME, serve
from tests.test_web_browser import Page, browser

__all__ = ["browser"]


def _foreign(path: Path) -> Path:
    """An SQLite database of some other program (one table of its own)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    db.close()
    return path


def test_serve_names_an_unreadable_database_at_start_and_the_api_says_it_is_permanent(tmp_path: Path) -> None:
    """A foreign file and a directory: one warning line at start with the reason, the absolute path in the
    "reading" line, and a 503 with ``"permanent": true``; a missing database gets no warning and a not-ready 503.
    The foreign file is left as it was."""
    foreign = _foreign(tmp_path / "foreign.db")
    before = foreign.read_bytes()
    (tmp_path / "adir").mkdir()
    cases = {"foreign.db": "is not an otel-lens database", "adir": "is a directory", "nothere.db": None}
    for name, reason in cases.items():
        with serve(name, "--no-otlp", cwd=tmp_path) as viewer:
            with viewer.client() as client:
                answer = client.get("/api/traces")
            lines = "".join(viewer.stderr_lines)
        assert f"(reading {tmp_path / name};" in lines, lines  # absolute, as the other messages name it
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["database"] == str(tmp_path / name)
        warnings = [line for line in viewer.stderr_lines if "warning" in line]
        if reason is None:
            assert warnings == [] and body.get("not_ready") is True and "permanent" not in body
            continue
        assert len(warnings) == 1 and reason in warnings[0] and str(tmp_path / name) in warnings[0], warnings
        assert body.get("permanent") is True and reason in body["error"] and "not_ready" not in body
    assert foreign.read_bytes() == before


def test_the_traces_and_logs_pages_say_why_and_stop_the_live_feed(browser: Any, tmp_path: Path) -> None:
    """On a foreign database whose name is HTML: the page shows "Cannot read this database" with the API's one-line
    reason as text (no markup made of it), the status corner does not say "live feed reconnecting…", the live
    button says it is off, and the page never opened /api/live (a feed that gets a 503 would reconnect forever)."""
    database = _foreign(tmp_path / f"{HOSTILE_NAME}.db")
    with serve(database, "--no-otlp") as viewer:
        with viewer.client() as client:
            reason = client.get("/api/traces").json()["error"]
        for path in ("/", "/logs"):
            opened = Page(browser, viewer)
            live: list[str] = []
            opened.page.on(
                "request", lambda request, live=live: live.append(request.url) if "/live" in request.url else None
            )
            try:
                p = opened.go(path)
                notice = p.locator("#cannot-read")
                notice.wait_for()
                p.wait_for_function("() => document.querySelector('button.live').textContent === 'Live: off'")
                assert "Cannot read this database" in str(notice.text_content())
                assert p.locator("#cannot-read .error-text").text_content() == reason
                assert HOSTILE_NAME in reason and p.locator("#cannot-read img").count() == 0
                assert p.evaluate("() => window.__pwned") is None
                assert "reconnecting" not in str(p.locator("#status").text_content())
                assert p.locator("button.live").is_disabled()
                assert live == [], live
            finally:
                opened.context.close()
            assert [e for e in opened.errors if "503" not in e] == [], opened.errors
