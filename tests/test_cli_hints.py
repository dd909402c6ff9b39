"""The one-line hints of ``otel-lens session`` and ``otel-lens usage``: said when something is missing, never else.

Spans are made by the real SDK (SpanFactory) and stored by the real exporter; the CLI runs as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from otel_lens.cli._usage import PRICES_HINT
from otel_lens.query import CAPTURE_HINT
from otel_lens.settings import Settings
from otel_lens.testing import SpanFactory
from tests._sessions_helpers import MODEL, export, turn

# genai-prices is installed here (the dev extra): this runs the CLI as if it were not (its import fails).
_WITHOUT_GENAI_PRICES = (
    "import sys; sys.modules['genai_prices'] = None; from otel_lens.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _cli(database: Path, *args: str, genai_prices: bool = True) -> subprocess.CompletedProcess[str]:
    program = ["-m", "otel_lens"] if genai_prices else ["-c", _WITHOUT_GENAI_PRICES]
    return subprocess.run(
        [sys.executable, *program, *args, "--database", str(database)],
        capture_output=True, text=True, timeout=120, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Session "full" (content stored, a priced model), session "bare" (a turn without content, and a turn of a
    model no table prices); and a price table for MODEL."""
    folder = tmp_path_factory.mktemp("hints")
    database = folder / "lens.db"
    settings = Settings.load(environ={}, database=str(database), sweep_interval=0)
    factory = SpanFactory("agents")
    export(
        settings,
        turn(factory, {"session.id": "full"}, question="what is up"),
        turn(factory, {"session.id": "bare"}),
        turn(factory, {"session.id": "bare"}, question="and now", llm_attributes={"gen_ai.request.model": "zz-x1"}),
    )
    prices = folder / "prices.json"
    prices.write_text(json.dumps({MODEL: {"input": 0.15, "output": 0.6}}))
    return database, prices


def test_session_says_how_to_capture_content_and_get_prices_only_when_missing(store: tuple[Path, Path]) -> None:
    """``session ID`` ends with the capture hint when a model turn has neither question nor answer, and with
    the prices hint when a turn's cost is ``?``; a session with content and prices has neither line."""
    database, prices = store
    bare = _cli(database, "session", "bare", "--prices", str(prices), "--no-bundled-prices")
    assert bare.returncode == 0, bare.stderr
    text = " ".join(bare.stdout.split())  # rich may wrap a long line
    assert text.count(" ".join(CAPTURE_HINT.split())) == 1
    assert text.count(" ".join(PRICES_HINT.split())) == 1
    assert "$?" in text
    full = _cli(database, "session", "full", "--prices", str(prices), "--no-bundled-prices")
    assert full.returncode == 0, full.stderr
    assert "user: what is up" in full.stdout
    assert "no message content" not in full.stdout and "cost unknown" not in full.stdout


def test_usage_says_how_to_get_prices_only_when_a_cost_is_unknown(store: tuple[Path, Path]) -> None:
    """``usage`` without genai-prices installed and no --prices has no cost column: one line (stderr) says how to
    get prices (not when the user turned prices off with --no-bundled-prices); with a table pricing every model
    it says nothing; with a model the table lacks, the ``?`` legend and the hint."""
    database, prices = store
    none = _cli(database, "usage", "--since", "100000d", genai_prices=False)
    assert none.returncode == 0, none.stderr
    assert "cost" not in none.stdout
    assert " ".join(none.stderr.split()).count(" ".join(PRICES_HINT.split())) == 1
    off = _cli(database, "usage", "--since", "100000d", "--no-bundled-prices")
    assert off.returncode == 0 and "cost" not in off.stdout and off.stderr == ""
    priced = _cli(database, "usage", "--since", "100000d", "--prices", str(prices), "--no-bundled-prices")
    assert priced.returncode == 0 and "cost unknown" in priced.stderr  # zz-x1 has no price
    database_priced = json.loads(
        _cli(database, "usage", "--since", "100000d", "--prices", str(prices), "--no-bundled-prices", "--json").stdout
    )
    assert {row["model"] for row in database_priced if row["cost"] is None} == {"zz-x1"}
    (prices.parent / "all.json").write_text(
        json.dumps({MODEL: {"input": 1, "output": 1}, "zz-x1": {"input": 1, "output": 1}})
    )
    every = _cli(database, "usage", "--since", "100000d", "--prices", str(prices.parent / "all.json"))
    assert every.returncode == 0, every.stderr
    assert "cost" in every.stdout and "cost unknown" not in every.stderr
