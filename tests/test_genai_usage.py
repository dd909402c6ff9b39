"""GenAI token usage is read from every naming convention in use, once per span, and the schema v2 migration.

Spans go through a real TracerProvider into LensSpanExporter and are read back with ``open_store``
(SQLite and PostgreSQL); the migration runs on a store file written by the otel-lens before it.
"""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens import open_store
from otel_lens._genai_usage import USAGE_KEYS, genai_usage
from otel_lens.export.spans import LensSpanExporter
from otel_lens.query.results import UsageRow
from otel_lens.settings import Settings
from otel_lens.store.migrations import latest_version

_FIXTURES = Path(__file__).parent / "fixtures"


def _store_spans(settings: Settings, *spans: dict[str, Any]) -> None:
    exporter = LensSpanExporter(settings)
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        for index, attributes in enumerate(spans):
            with provider.get_tracer("genai").start_as_current_span(f"chat {index}", attributes=attributes):
                pass
    finally:
        provider.shutdown()


def _by_model(settings: Settings) -> dict[str, UsageRow]:
    with open_store(settings.database) as store:
        return {row.key: row for row in store.usage(since=None, by="model", bundled_prices=False)}


def _counts(row: UsageRow) -> tuple[int, ...]:
    return (
        row.span_count,
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_creation_tokens,
        row.reasoning_tokens,
    )


def test_openinference_token_counts_model_and_provider_are_counted(settings: Settings) -> None:
    """OpenInference's llm.token_count.* (with cache and reasoning details), llm.model_name and llm.provider
    make a usage row like the GenAI semconv names do."""
    _store_spans(
        settings,
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.system": "openai",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.token_count.prompt": 1200,
            "llm.token_count.completion": 300,
            "llm.token_count.total": 1500,
            "llm.token_count.prompt_details.cache_read": 1000,
            "llm.token_count.prompt_details.cache_write": 20,
            "llm.token_count.completion_details.reasoning": 120,
        },
    )
    row = _by_model(settings)["gpt-4o-mini-2024-07-18"]
    assert _counts(row) == (1, 1200, 300, 1000, 20, 120)
    with open_store(settings.database) as store:
        assert [r.key for r in store.usage(since=None, by="provider", bundled_prices=False)] == ["openai"]


def test_semconv_cache_and_reasoning_tokens_are_counted(settings: Settings) -> None:
    """gen_ai.usage.cache_read.input_tokens, …cache_creation.input_tokens and …reasoning.output_tokens are kept
    per hour beside input and output tokens."""
    _store_spans(
        settings,
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.usage.input_tokens": 900,
            "gen_ai.usage.output_tokens": 80,
            "gen_ai.usage.cache_read.input_tokens": 500,
            "gen_ai.usage.cache_creation.input_tokens": 300,
            "gen_ai.usage.reasoning.output_tokens": 50,
        },
    )
    assert _counts(_by_model(settings)["claude-sonnet-4"]) == (1, 900, 80, 500, 300, 50)


def test_openllmetry_names_are_counted_and_a_total_fills_the_missing_side(settings: Settings) -> None:
    """OpenLLMetry's gen_ai.usage.prompt_tokens, cache_read_input_tokens / cache_creation_input_tokens and
    llm.usage.total_tokens count; a span with only a prompt count and a total gets output = total - prompt,
    one with only a total counts it as input."""
    _store_spans(
        settings,
        {
            "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-3-5-haiku",
            "gen_ai.usage.prompt_tokens": 400,
            "llm.usage.total_tokens": 470,
            "gen_ai.usage.cache_read_input_tokens": 100,
            "gen_ai.usage.cache_creation_input_tokens": 40,
            "llm.usage.reasoning_tokens": 7,
        },
        {"gen_ai.system": "openai", "gen_ai.request.model": "only-total", "llm.usage.total_tokens": 90},
    )
    rows = _by_model(settings)
    assert _counts(rows["claude-3-5-haiku"]) == (1, 400, 70, 100, 40, 7)
    assert _counts(rows["only-total"]) == (1, 90, 0, 0, 0, 0)


def test_a_span_carrying_two_conventions_is_counted_once(settings: Settings) -> None:
    """An instrumentation that sets the GenAI semconv and the OpenInference names on one span is not counted
    twice: each quantity is taken from one name (semconv first)."""
    _store_spans(
        settings,
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "llm.model_name": "gpt-4o",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
            "gen_ai.usage.cache_read.input_tokens": 60,
            "llm.token_count.prompt": 100,
            "llm.token_count.completion": 10,
            "llm.token_count.total": 110,
            "llm.token_count.prompt_details.cache_read": 60,
            "llm.token_count.completion_details.reasoning": 4,
        },
    )
    rows = _by_model(settings)
    assert list(rows) == ["gpt-4o-2024-08-06"]
    assert _counts(rows["gpt-4o-2024-08-06"]) == (1, 100, 10, 60, 0, 4)


def test_spans_without_usage_and_odd_values() -> None:
    """Only the input/output/total names make a span a usage span; bad numbers count as absent, never raise."""
    assert genai_usage({"gen_ai.usage.cache_read.input_tokens": 5, "llm.model_name": "m"}) is None
    assert genai_usage({"http.method": "GET"}) is None
    odd = genai_usage({"llm.token_count.prompt": "12", "llm.token_count.completion": True, "llm.token_count.total": -3})
    assert odd is not None and (odd.input_tokens, odd.output_tokens) == (12, 0)
    assert all(key.startswith(("gen_ai.usage.", "llm.")) for key in USAGE_KEYS)


def _v1_store(tmp_path: Path) -> Path:
    path = tmp_path / "v1.db"
    path.write_bytes(gzip.decompress((_FIXTURES / "store_schema_v1.db.gz").read_bytes()))
    return path


def test_a_version_1_sqlite_store_is_migrated_once_and_keeps_its_usage(tmp_path: Path) -> None:
    """A store written by the otel-lens before reasoning tokens (schema 1) gains lens_usage.reasoning_tokens
    (0 for its old rows), keeps its totals, counts reasoning tokens from then on, and is migrated only once."""
    path = _v1_store(tmp_path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    settings = Settings.load(environ={}, database=str(path), sweep_interval=0, retention="0", max_size="0")
    _store_spans(
        settings,
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "o3-mini",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 30,
            "gen_ai.usage.reasoning.output_tokens": 25,
        },
    )
    rows = _by_model(settings)
    assert _counts(rows["gpt-4o"]) == (1, 100, 40, 30, 0, 0)  # written by the old version
    assert _counts(rows["o3-mini"]) == (1, 10, 30, 0, 0, 25)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        migrated = conn.execute("SELECT value FROM lens_meta WHERE key = 'migrated_to_2'").fetchone()
        column = [c for c in conn.execute("PRAGMA table_info(lens_usage)") if c[1] == "reasoning_tokens"]
    assert migrated is not None
    assert [(c[2], c[3], c[4]) for c in column] == [("BIGINT", 1, "0")]  # type, NOT NULL, DEFAULT 0
    LensSpanExporter(settings).shutdown()  # opened again: nothing to do
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM lens_meta WHERE key = 'migrated_to_2'").fetchone() == migrated


def test_a_new_store_has_the_same_reasoning_column_as_a_migrated_one(tmp_path: Path) -> None:
    """A store created at version 2 gets reasoning_tokens from the model with the migration's NOT NULL DEFAULT 0,
    so both kinds of store accept an insert that leaves the column out."""
    path = tmp_path / "new.db"
    LensSpanExporter(database=str(path), sweep_interval=0).shutdown()
    with sqlite3.connect(path) as conn:
        column = [c for c in conn.execute("PRAGMA table_info(lens_usage)") if c[1] == "reasoning_tokens"]
        conn.execute(
            "INSERT INTO lens_usage (bucket_ns, service, provider, model, span_count, input_tokens, output_tokens, "
            "cache_read_tokens, cache_creation_tokens) VALUES (0, 's', 'p', 'm', 1, 1, 1, 0, 0)"
        )
        assert conn.execute("SELECT reasoning_tokens FROM lens_usage").fetchone() == (0,)
    assert [(c[3], c[4]) for c in column] == [(1, "0")]


@pytest.mark.postgres
def test_a_version_1_postgres_store_is_migrated_once(postgres_url: str) -> None:
    """On PostgreSQL a schema-1 store (lens_usage without reasoning_tokens, schema_version 1) gets the column
    NOT NULL DEFAULT 0 with its rows kept, and schema_version 2, exactly once."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    _store_spans(
        settings, {"gen_ai.request.model": "m1", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 6}
    )
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # back to what version 1 made
        conn.execute("ALTER TABLE lens_usage DROP COLUMN reasoning_tokens")
        conn.execute("UPDATE lens_meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute("DELETE FROM lens_meta WHERE key = 'migrated_to_2'")
    _store_spans(
        settings,
        {"gen_ai.request.model": "m2", "gen_ai.usage.input_tokens": 1, "gen_ai.usage.reasoning.output_tokens": 9},
    )
    rows = _by_model(settings)
    assert _counts(rows["m1"]) == (1, 5, 6, 0, 0, 0)
    assert _counts(rows["m2"]) == (1, 1, 0, 0, 0, 9)
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SELECT value FROM lens_meta WHERE key = 'schema_version'").fetchone()
        column = conn.execute(
            "SELECT is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = 'lens_usage' AND column_name = 'reasoning_tokens' AND table_schema = current_schema()"
        ).fetchall()
        steps = conn.execute("SELECT count(*) FROM lens_meta WHERE key = 'migrated_to_2'").fetchone()
    assert version == (str(latest_version()),)
    assert column == [("NO", "0")]
    assert steps == (1,)
