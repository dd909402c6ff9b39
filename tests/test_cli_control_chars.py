"""Stored text with terminal control sequences is shown as visible marks by every CLI view, never obeyed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber
from rich.text import Text

from otel_lens.cli._errors import write_error
from otel_lens.cli._safe_text import SafeConsole, safe_text
from tests._web import Demo

_TITLE = "name\x1b]0;TITLE\x07\x1b[2J"
_RED = "hi\x1b[31mRED\x1b]8;;http://evil\x07link\x9b2J"


@pytest.fixture
def hostile_db(tmp_path: Path) -> tuple[Path, str]:
    """A store with a span, its GenAI messages, an attribute and a log whose text holds escape sequences."""
    database = tmp_path / "esc.db"
    demo = Demo(str(database))
    start = time.time_ns() - 10_000_000_000
    messages = [{"role": "user", "parts": [{"type": "text", "content": _RED}]}]
    span = demo.span(
        "esc\x1b[31m",
        _TITLE,
        start,
        start + 5_000_000,
        attributes={
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m\x1b[5m",
            "k": "v\x1b[31mred\r\x08",
            "gen_ai.input.messages": json.dumps(messages),
        },
        error="boom\x1b[2J",
    )
    demo.log("esc\x1b[31m", span, start + 1_000_000, SeverityNumber.ERROR, "log\x1b]0;PWNED\x07 body\x1b[2J")
    demo.close()
    return database, format(span.get_span_context().trace_id, "032x")


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "otel_lens", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_views_print_no_escape_byte(hostile_db: tuple[Path, str]) -> None:
    """``show`` (waterfall, details, transcript), ``traces``, ``logs`` and ``stats`` print no ESC/BEL/C1 byte of stored
    text; the text is there, with ␛ where the ESC was."""
    database, trace_id = hostile_db
    db = str(database)
    outputs = {
        "show": _cli("show", trace_id, "--database", db),
        "traces": _cli("traces", "--database", db),
        "logs": _cli("logs", "--database", db),
        "stats": _cli("stats", "--database", db),
    }
    for command, text in outputs.items():
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, (command, text)
    assert "name␛]0;TITLE␛[2J" in outputs["show"]  # (rich itself drops BEL)
    assert "hi␛[31mRED␛]8;;http://evillink" in outputs["show"]  # the transcript
    assert "log␛]0;PWNED body␛[2J" in outputs["logs"]
    assert "name␛]0;TITLE" in outputs["traces"]


def test_json_output_stays_exact(hostile_db: tuple[Path, str]) -> None:
    """``--json`` keeps stored text byte for byte (JSON escapes the control characters itself)."""
    database, _ = hostile_db
    traces = json.loads(_cli("traces", "--database", str(database), "--json"))
    assert traces[0]["root_name"] == _TITLE


def test_a_terminal_keeps_its_colours_but_not_the_datas() -> None:
    """On a colour terminal rich's own styling still reaches it; an ESC inside the printed data does not."""
    stream = io.StringIO()
    console = SafeConsole(file=stream, force_terminal=True, color_system="standard", highlight=False)
    console.print(Text("x\x1b[2Jy", style="red"))
    written = stream.getvalue()
    assert "\x1b[31m" in written  # rich's colour
    assert "\x1b[2J" not in written and "x␛[2Jy" in written


def test_error_line_and_helper() -> None:
    """The one-line error shows control characters as marks; ``one_line`` fields map newline and tab too."""
    assert safe_text("a\x1b[0m\tb\nc") == "a␛[0m\tb\nc"
    assert safe_text("a\tb\nc\x85", one_line=True) == "a␉b␤c\\x85"
    stream = io.StringIO()
    old, sys.stderr = sys.stderr, stream
    try:
        write_error("no trace x\x1b]0;T\x07")
    finally:
        sys.stderr = old
    assert "\x1b" not in stream.getvalue()


def test_a_name_with_a_newline_stays_one_row(tmp_path: Path) -> None:
    """A span name holding a newline is one row of ``traces`` and one line of the waterfall, with ␤ for it."""
    database = tmp_path / "nl.db"
    demo = Demo(str(database))
    start = time.time_ns() - 10_000_000_000
    span = demo.span("svc", "first\nsecond", start, start + 1_000_000)
    demo.close()
    traces = _cli("traces", "--database", str(database))
    assert "first␤second" in traces and "second" not in traces.replace("first␤second", "")
    shown = _cli("show", format(span.get_span_context().trace_id, "032x"), "--database", str(database))
    assert "first␤second" in shown
