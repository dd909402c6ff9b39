"""configure() in a real process: otel-lens's own SQL stays out of the app's logs and the store, storage trouble
never stops the app, and the resource of the app's own providers is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests._facade_helpers import logs, spans


def _run(script: str, tmp_path: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(script))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, env=env)


def test_lens_sql_never_reaches_the_apps_log_handlers_nor_the_store(tmp_path: Path) -> None:
    """Defect 3: with ``basicConfig(level=DEBUG)``, nothing otel-lens runs on its database (open and migrate,
    the writer, the sweeper thread, the read API, prune) prints a peewee line or is stored as a log record;
    the application's own peewee queries still log (and are stored) as before."""
    db = tmp_path / "lens.db"
    result = _run(
        f"""
        import fcntl, logging, os, time
        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
        import peewee
        from otel_lens import configure, lens_fn

        lens = configure(database={str(db)!r}, service_name="d3", sweep_interval="1s")
        own = peewee.SqliteDatabase({str(tmp_path / "app.db")!r})

        class AppItem(peewee.Model):
            name = peewee.TextField()
            class Meta:
                database = own
                table_name = "app_items"

        @lens_fn
        def work() -> None:
            own.create_tables([AppItem])
            AppItem.create(name="x")
            logging.getLogger("app").info("app says hi")

        work()
        assert lens.force_flush()
        # The sweeper thread: wait (bounded) for its first pass to take and give back its lock file.
        lock = {str(db)!r} + "-sweep.lock"
        deadline = time.monotonic() + 60
        while not os.path.exists(lock):
            assert time.monotonic() < deadline, "the sweeper never ran"
            time.sleep(0.05)
        fd = os.open(lock, os.O_RDWR)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                assert time.monotonic() < deadline, "the sweep never ended"
                time.sleep(0.05)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        store = lens.store
        assert store.traces() and store.logs(level="debug") is not None
        store.stats(since="1h")
        store.prune()
        with lens.tracer_provider.get_tracer("t").start_as_current_span("read inside a span"):
            store.logs()
        assert lens.force_flush()
        lens.shutdown()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    peewee_lines = [line for line in result.stderr.splitlines() if line.startswith("peewee ")]
    assert peewee_lines, "the application's own peewee queries must still log"
    assert all("app_items" in line for line in peewee_lines), [x for x in peewee_lines if "app_items" not in x]
    stored = logs(db)
    assert any(entry["body"] == "app says hi" for entry in stored)
    stored_peewee = [str(entry["body"]) for entry in stored if entry["logger"] == "peewee"]
    assert stored_peewee, "the application's peewee records are stored like any other"
    assert all("app_items" in body for body in stored_peewee), [b for b in stored_peewee if "app_items" not in b]
    assert {span["name"] for span in spans(db)} == {"work", "read inside a span"}
