"""The suite's PostgreSQL fixture: without server binaries, PostgreSQL tests fail loudly unless skipping was asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
_TEST = """
from tests._postgres import postgres_server, postgres_url  # noqa: F401

def test_needs_postgres(postgres_url):
    assert postgres_url.startswith("postgresql://")
"""


def _run_without_binaries(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_needs_pg.py").write_text(_TEST)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(
        PYTHONPATH=str(_ROOT), OTEL_LENS_PG_BINDIR=str(tmp_path / "no-postgres-here"), PATH="/nonexistent", **env
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path / "test_needs_pg.py")],
        capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=120, check=False,
    )  # fmt: skip


def test_missing_server_binaries_fail_the_postgres_tests_with_the_install_command(tmp_path: Path) -> None:
    """No initdb/pg_ctl and no opt-out: the PostgreSQL test errors, naming `apt-get install postgresql`."""
    result = _run_without_binaries(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "apt-get install postgresql" in result.stdout
    assert "1 error" in result.stdout or "1 failed" in result.stdout


@pytest.mark.parametrize("value", ["1", "true"])
def test_opt_out_variable_turns_the_failure_into_a_skip(tmp_path: Path, value: str) -> None:
    """OTEL_LENS_SKIP_POSTGRES=1 (never set in CI) skips the PostgreSQL tests when the binaries are missing."""
    result = _run_without_binaries(tmp_path, OTEL_LENS_SKIP_POSTGRES=value)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "OTEL_LENS_SKIP_POSTGRES" in result.stdout
