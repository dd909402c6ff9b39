"""The suite's PostgreSQL fixtures, on :mod:`otel_lens.testing`'s throwaway server.

When the server binaries are missing, a PostgreSQL test FAILS with the command to install them;
``OTEL_LENS_SKIP_POSTGRES=1`` turns that into a skip (for a laptop without PostgreSQL, never in CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from otel_lens.testing import INSTALL_HINT, PostgresServer, find_bindir, running_postgres

# Read at import, before the suite's autouse fixture strips OTEL_* variables from each test's environment.
SKIP_POSTGRES = os.environ.get("OTEL_LENS_SKIP_POSTGRES", "").strip().lower() in ("1", "true", "yes")
running_server = running_postgres  # the name the PostgreSQL tests use
_SKIP_HINT = "; or set OTEL_LENS_SKIP_POSTGRES=1 to skip the PostgreSQL tests on this machine (CI must not)"

__all__ = ["SKIP_POSTGRES", "PostgresServer", "find_bindir", "postgres_server", "postgres_url", "running_server"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The suite's PostgreSQL server, started on first use and stopped at the end of the session."""
    if find_bindir() is None:
        if SKIP_POSTGRES:
            pytest.skip("PostgreSQL tests skipped: OTEL_LENS_SKIP_POSTGRES=1 and no server binaries")
        pytest.fail(INSTALL_HINT + _SKIP_HINT, pytrace=False)
    with running_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database on the suite's server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
