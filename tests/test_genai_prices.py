"""Which price a GenAI model gets (the user's table, then genai-prices) and how ``usage`` shows it.

Rules pinned here (documented in ``otel_lens/query/prices.py`` and the README): the most specific key
wins; a key prices a longer model name only when a version/date suffix follows it; a provider key
wins only between equally specific keys; genai-prices fills in, offline, what the table does not name.
"""

from __future__ import annotations

import io
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from rich.console import Console

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.cli._usage import compact, render_usage
from otel_lens.export.spans import LensSpanExporter
from otel_lens.query import PriceTable
from otel_lens.settings import Settings

_PRICE = {"input": 1.0, "output": 2.0}


def _store(settings: Settings, *calls: tuple[str, str, int, int]) -> None:
    exporter = LensSpanExporter(settings)
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        for system, model, inp, out in calls:
            attributes = {"gen_ai.provider.name": system, "gen_ai.request.model": model,
                          "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out}  # fmt: skip
            with provider.get_tracer("genai").start_as_current_span(f"chat {model}", attributes=attributes):
                pass
    finally:
        provider.shutdown()


def test_the_most_specific_key_wins_over_a_provider_key() -> None:
    """With openai/gpt-4o and gpt-4o-mini in the table, gpt-4o-mini-2025-01-01 of openai is priced as gpt-4o-mini:
    the longest model part wins; the provider key only beats a bare key of the same model."""
    table = PriceTable({"openai/gpt-4o": {"input": 2.5, "output": 10}, "gpt-4o-mini": {"input": 0.15, "output": 0.6}})
    found = table.match("openai", "gpt-4o-mini-2025-01-01")
    assert found is not None and (found.key, found.kind) == ("gpt-4o-mini", "prefix")
    assert table.price("openai", "gpt-4o-mini-2025-01-01") == table.price("", "gpt-4o-mini")
    tie = PriceTable({"gpt-4o": {"input": 1, "output": 1}, "OpenAI/gpt-4o": {"input": 2, "output": 2}})
    assert tie.match("openai", "gpt-4o-2024-08-06").key == "OpenAI/gpt-4o"  # type: ignore[union-attr]
    assert tie.match("azure.ai.openai", "gpt-4o").key == "gpt-4o"  # type: ignore[union-attr]
    assert tie.match("openai", "GPT-4o").kind == "exact"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("key", "model", "priced"),
    [
        ("gpt-4o", "gpt-4o-2024-08-06", True),
        ("gpt-4o", "gpt-4o-20240806", True),
        ("gpt-4", "gpt-4-0613", True),
        ("gemini-1.5-pro", "gemini-1.5-pro-002", True),
        ("claude-sonnet-4", "claude-sonnet-4@20250514", True),
        ("llama3.1", "llama3.1:8b", True),
        ("anthropic.claude-3-5-sonnet", "anthropic.claude-3-5-sonnet-20241022-v2:0", True),
        ("mistral-large", "mistral-large-latest", True),
        ("gpt-4o", "gpt-4o-mini", False),
        ("gpt-4o", "gpt-4o-mini-2024-07-18", False),
        ("gpt-4o", "gpt-4o-audio-preview", False),
        ("gpt-4", "gpt-4-32k", False),
        ("claude-3", "claude-3-5-sonnet", False),
        ("gpt-3", "gpt-3.5-turbo", False),
        ("o1", "o1-mini", False),
    ],
)
def test_a_prefix_prices_only_version_and_date_suffixes(key: str, model: str, priced: bool) -> None:
    """A key prices a longer model name only when what follows is a version/date suffix, never another model."""
    assert (PriceTable({key: _PRICE}).price("", model) is not None) is priced


def test_usage_rows_say_which_key_priced_them(settings: Settings) -> None:
    """store.usage gives each row the key that priced it and whether by prefix; an unpriced model has cost None."""
    _store(settings, ("openai", "gpt-4o-mini-2025-01-01", 1000, 100), ("openai", "gpt-4o", 10, 1),
           ("openai", "gpt-4o-mini", 5, 5), ("acme", "house-model", 1, 1))  # fmt: skip
    table = PriceTable({"openai/gpt-4o": {"input": 2.5, "output": 10}, "gpt-4o-mini": {"input": 0.15, "output": 0.6}})
    with open_store(settings.database) as store:
        rows = {row.key: row for row in store.usage(since=None, prices=table, bundled_prices=False)}
    dated = rows["gpt-4o-mini-2025-01-01"]
    assert (dated.price_key, dated.price_match) == ("gpt-4o-mini", "prefix")
    assert dated.cost == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    assert (rows["gpt-4o"].price_key, rows["gpt-4o"].price_match) == ("openai/gpt-4o", "exact")
    assert (rows["house-model"].cost, rows["house-model"].price_key, rows["house-model"].price_match) == (
        None,
        None,
        None,
    )


genai_prices = pytest.importorskip("genai_prices")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: genai-prices must be read from its bundled data."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_without_a_table_genai_prices_gives_the_cost_offline(settings: Settings, no_network: None) -> None:
    """With genai-prices installed and no table, usage has a cost for a known model (the package's own price for
    the same counts), keyed genai-prices:<provider>/<model>, without touching the network."""
    _store(settings, ("openai", "gpt-4o-2024-08-06", 1200, 300), ("acme", "house-model", 1, 1))
    with open_store(settings.database) as store:
        rows = {row.key: row for row in store.usage(since=None)}
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1200, output_tokens=300), "gpt-4o-2024-08-06", provider_id="openai"
    )
    gpt = rows["gpt-4o-2024-08-06"]
    assert gpt.cost == pytest.approx(float(expected.total_price)) and gpt.cost > 0
    assert gpt.price_key == f"genai-prices:{expected.provider.id}/{expected.model.id}" == "genai-prices:openai/gpt-4o"
    assert gpt.price_match == "exact"  # genai-prices lists gpt-4o-2024-08-06 by name
    assert rows["house-model"].cost is None


def test_the_users_table_overrides_genai_prices(settings: Settings, tmp_path: Path, no_network: None) -> None:
    """A model in --prices is priced by the table; the others by genai-prices; --no-bundled-prices turns it off."""
    _store(settings, ("openai", "gpt-4o", 1_000_000, 0), ("anthropic", "claude-3-5-haiku-20241022", 10, 10))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o": {"input": 99, "output": 99}}))
    with open_store(settings.database) as store:
        rows = {row.key: row for row in store.usage(since=None, prices=prices)}
        bare = {row.key: row for row in store.usage(since=None, prices=prices, bundled_prices=False)}
    assert (rows["gpt-4o"].cost, rows["gpt-4o"].price_key) == (pytest.approx(99.0), "gpt-4o")
    assert str(rows["claude-3-5-haiku-20241022"].price_key).startswith("genai-prices:anthropic/claude-3-5-haiku")
    assert rows["claude-3-5-haiku-20241022"].cost is not None
    assert bare["claude-3-5-haiku-20241022"].cost is None


def _run(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> tuple[str, str]:
    assert main([*argv, "--database", settings.database]) == 0
    out, err = capsys.readouterr()
    return out, err


def test_usage_prints_the_price_key_and_a_total_row(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: None
) -> None:
    """usage (piped) prints every number whole, the key that priced each row ("(prefix)" spelled out), a total
    row of tokens and cost; --json rows carry price_key, price_match and reasoning_tokens."""
    _store(settings, ("openai", "gpt-4o-2024-08-06", 1_234_567, 89_012), ("openai", "gpt-4o-mini", 1000, 10))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o": {"input": 2, "output": 8}, "gpt-4o-mini": {"input": 1, "output": 1}}))
    out, _ = _run(capsys, settings, "usage", "--since", "1000d", "--prices", str(prices))
    lines = out.splitlines()
    assert "price key" in lines[0] and "cost" in lines[0]
    assert re.search(r"gpt-4o-2024-08-06 .* 1,234,567 .* 89,012 .* gpt-4o \(prefix\) +3\.1812$", out, re.M)
    assert re.search(r"gpt-4o-mini .* gpt-4o-mini +0\.0010$", out, re.M)
    total = (1_234_567 * 2 + 89_012 * 8 + 1010) / 1e6
    assert re.fullmatch(rf"total +2 +1,235,567 +89,022 .* 1,324,589 +{total:,.4f}", lines[-1])
    rows = json.loads(_run(capsys, settings, "usage", "--since", "1000d", "--prices", str(prices), "--json")[0])
    assert {(r["model"], r["price_key"], r["price_match"], r["reasoning_tokens"]) for r in rows} == {
        ("gpt-4o-2024-08-06", "gpt-4o", "prefix", 0),
        ("gpt-4o-mini", "gpt-4o-mini", "exact", 0),
    }


def test_usage_on_an_80_column_terminal_cuts_no_number(settings: Settings, no_network: None) -> None:
    """At 80 columns big counts are written compactly (1.23M) and nothing is cut with an ellipsis; the price keys
    move under the table when they do not fit beside it."""
    _store(settings, ("anthropic", "claude-sonnet-4-20250514", 987_654_321, 123_456_789),
           ("openai", "gpt-4o-mini-2024-07-18", 12_000, 3_400))  # fmt: skip
    with open_store(settings.database) as store:
        rows = store.usage(since=None)
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    render_usage(rows, console, "model", priced=True, notes=console)
    text = buffer.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for count in (987_654_321, 123_456_789, 12_000, 3_400, 987_666_321):
        assert compact(count) in text
    assert "genai-prices:anthropic/claude-sonnet-4" in text
    assert re.search(r"^total .* \d[\d,.]*$", text, re.M)  # the total cost is there, uncut


def test_compact_numbers() -> None:
    """compact keeps 3 significant digits past 9,999 and never exceeds 6 characters."""
    assert [compact(n) for n in (0, 9_999, 10_000, 123_456, 999_499, 999_500, 1_234_567, 45_600_000_000)] == [
        "0", "9,999", "10.0k", "123k", "999k", "1.00M", "1.23M", "45.6G"
    ]  # fmt: skip
