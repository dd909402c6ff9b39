"""otel-lens's own diagnostics (configure()'s warnings) reach stderr, never the store as the application's logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _run(args: list[str], tmp_path: Path, script: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if script is not None:
        path = tmp_path / "app.py"
        path.write_text(textwrap.dedent(script))
        args = [str(path), *args]
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env)


def test_configure_twice_warns_on_stderr_and_stores_no_otel_lens_record(tmp_path: Path) -> None:
    """A second configure() with another service_name (and a provider named by the app) warns on stderr, as
    before; `otel-lens logs --json` then holds the application's own records and no otel-lens diagnostic."""
    db = tmp_path / "lens.db"
    result = _run(
        [],
        tmp_path,
        f"""
        import logging
        from otel_lens import configure

        lens = configure(database={str(db)!r}, service_name="first")
        logging.getLogger("app").warning("the app warns")
        configure(database={str(db)!r}, service_name="second")  # ignored: warns
        logging.getLogger("app").warning("the app warns again")
        assert lens.force_flush()
        lens.shutdown()
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("configure() was already called") == 1, result.stderr  # printed once
    listed = _run(["-m", "otel_lens", "logs", "--json", "--database", str(db)], tmp_path)
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    bodies = sorted(str(record["body"]) for record in records)
    assert bodies == ["the app warns", "the app warns again"], records
    assert not [r for r in records if str(r.get("logger") or "").startswith("otel_lens")]


def test_under_opentelemetry_instrument_the_warnings_are_not_stored_either(tmp_path: Path) -> None:
    """Zero-code with the contrib logging bridge (its LoggingHandler, not ours, carries records to the store):
    configure()'s "service_name not applied" and "already called" warnings print on stderr, and the store
    holds only the application's own records."""
    from tests._instrument import INSTRUMENT, instrument_env

    db = tmp_path / "lens.db"
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import logging
            from otel_lens import configure

            configure(service_name="first")  # the instrumented providers name the service already: warns
            logging.getLogger("app").warning("the app warns")
            configure(service_name="second")  # already called: warns
            logging.getLogger("app").warning("the app warns again")
            """
        )
    )
    env = {k: v for k, v in instrument_env(db).items() if k != "OTEL_SERVICE_NAME"}
    result = subprocess.run([INSTRUMENT, sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                            env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "not applied" in result.stderr and "configure() was already called" in result.stderr
    listed = _run(["-m", "otel_lens", "logs", "--json", "--database", str(db)], tmp_path)
    assert listed.returncode == 0, listed.stderr
    bodies = sorted(str(record["body"]) for record in json.loads(listed.stdout))
    assert bodies == ["the app warns", "the app warns again"]
