"""Shared fixtures: isolated OTel environment, a real SQLite file per test, deterministic ids."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.testing import IncrementalIdGenerator
from tests._postgres import postgres_server, postgres_url  # noqa: F401  (fixtures: a real server the suite starts)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's OTEL_* variables or writes under their home directory."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "lens.db"


@pytest.fixture
def sqlite_settings(db_path: Path) -> Settings:
    """Settings on a fresh SQLite file with the background sweeper off (tests sweep explicitly)."""
    return Settings.load(environ={}, database=str(db_path), sweep_interval=0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """The database a backend-neutral test writes to: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Backend-neutral settings with the background sweeper off (tests sweep explicitly)."""
    return Settings.load(environ={}, database=database_url, sweep_interval=0)


@pytest.fixture
def span_exporter(settings: Settings) -> Iterator[LensSpanExporter]:
    exporter = LensSpanExporter(settings)
    yield exporter
    exporter.shutdown()


@pytest.fixture
def tracer_provider(span_exporter: LensSpanExporter) -> Iterator[TracerProvider]:
    """A real TracerProvider exporting synchronously to the test's database, with incremental ids."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": "test-service"}),
        id_generator=IncrementalIdGenerator(),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()
