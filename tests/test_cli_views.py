"""Golden outputs of the CLI's text views (plain text off a terminal) and the shape of its --json output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_lens.cli import main
from otel_lens.settings import Settings
from tests._read_helpers import Sample, build_sample, local_zone

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def utc_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Text views print local time: the goldens are written in UTC (+00:00)."""
    yield from local_zone(monkeypatch, "UTC0")


_UPDATE = os.environ.get("LENS_UPDATE_GOLDEN") == "1"  # regenerate after an intended change of a view


@pytest.fixture
def sample(settings: Settings, monkeypatch: pytest.MonkeyPatch, utc_zone: None) -> Sample:
    monkeypatch.setenv("COLUMNS", "120")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "CLICOLOR_FORCE"):
        monkeypatch.delenv(name, raising=False)
    return build_sample(settings)


def run(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> str:
    code = main([*argv, "--database", settings.database])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return out


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if _UPDATE:
        path.write_text(text, encoding="utf-8")
    assert "\x1b[" not in text, "no escape codes when stdout is not a terminal"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("traces.txt", ["traces"]),
        ("traces_errors.txt", ["traces", "--errors"]),
        ("logs.txt", ["logs"]),
        ("logs_warn.txt", ["logs", "--level", "warn"]),
        ("stats.txt", ["stats", "--since", "100000d"]),
        ("stats_service.txt", ["stats", "--since", "100000d", "--by", "service"]),
        ("usage.txt", ["usage", "--since", "100000d", "--no-bundled-prices"]),
    ],
)
def test_list_views_match_golden_text(
    sample: Sample, settings: Settings, capsys: pytest.CaptureFixture[str], name: str, argv: list[str]
) -> None:
    """traces, logs, stats and usage print the expected plain tables for a known store."""
    golden(name, run(capsys, settings, *argv))


def test_show_waterfall_of_a_failing_trace(
    sample: Sample, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """show draws the tree with bars, the errors and exception, key attributes and the span's log under it."""
    golden("show_checkout.txt", run(capsys, settings, "show", sample.checkout_trace))


def test_show_waterfall_of_a_nested_trace(
    sample: Sample, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """show nests children under parents in start order, each with its logs."""
    golden("show_users.txt", run(capsys, settings, "show", sample.users_trace))


def test_usage_with_a_price_table(
    sample: Sample, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """usage --prices adds a cost column: cached input at the cache rate, the rest at the input rate."""
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o": {"input": 2.5, "output": 10, "cache_read": 1.25}}))
    argv = ("usage", "--since", "100000d", "--prices", str(prices), "--no-bundled-prices")
    golden("usage_prices.txt", run(capsys, settings, *argv))
    rows = json.loads(run(capsys, settings, *argv, "--json"))
    assert rows[0]["cost"] == pytest.approx((200 * 2.5 + 1000 * 1.25 + 300 * 10) / 1e6)
    assert (rows[0]["price_key"], rows[0]["price_match"]) == ("gpt-4o", "prefix")  # gpt-4o-2024-08-06


def test_json_output_of_every_reading_command(
    sample: Sample, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints the docs/REFERENCE.md shapes: lists of trace summaries and logs, show's {trace_id, spans, logs}."""
    traces = json.loads(run(capsys, settings, "traces", "--json"))
    assert [t["trace_id"] for t in traces] == [sample.chat_trace, sample.checkout_trace, sample.users_trace]
    assert set(traces[0]) == {
        "trace_id",
        "root_name",
        "service",
        "start_time",
        "duration_ms",
        "span_count",
        "error_count",
        "state",
    }
    shown = json.loads(run(capsys, settings, "show", sample.users_trace[-6:].rjust(32, "0"), "--json"))
    assert set(shown) == {"trace_id", "spans", "logs"} and len(shown["spans"]) == 4 and len(shown["logs"]) == 2
    assert {s["status"]["code"] for s in shown["spans"]} == {"UNSET"}
    logs = json.loads(run(capsys, settings, "logs", "--json", "--trace", sample.checkout_trace))
    assert [log["body"] for log in logs] == [{"event": "payment failed", "code": 51}]
    stats = json.loads(run(capsys, settings, "stats", "--json", "--since", "100000d", "--by", "service"))
    assert {row["service"]: row["count"] for row in stats} == {"shop": 6, "agent": 1}
    usage = json.loads(
        run(capsys, settings, "usage", "--json", "--since", "100000d", "--by", "provider", "--no-bundled-prices")
    )
    assert usage == [
        {"provider": "openai", "span_count": 1, "input_tokens": 1200, "output_tokens": 300,
         "cache_read_tokens": 1000, "cache_creation_tokens": 0, "reasoning_tokens": 0, "total_tokens": 1500,
         "cost": None, "price_key": None, "price_match": None}
    ]  # fmt: skip
