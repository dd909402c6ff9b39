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


_UNAVAILABLE_APP = """
import logging, sys
from otel_lens import Logger, StoreError, configure, lens_fn
lens = configure(database={database!r}, sweep_interval=0)
log = Logger("app")

@lens_fn
def handle(n: int) -> int:
    log.info("handled %d", n)
    logging.getLogger("app.stdlib").warning("stdlib still prints")
    return n * 2

assert handle(21) == 42
try:
    lens.store
except StoreError as exc:
    print("store:", exc)
else:
    raise SystemExit("lens.store should say why nothing is stored")
assert lens.force_flush()
lens.shutdown()
print("app ran")
"""


def test_unavailable_storage_warns_once_and_the_app_runs(tmp_path: Path) -> None:
    """Smaller ones: a database whose directory cannot be created (its parent is a file), a file that is not
    an otel-lens database, a directory given as the database, or an unwritable directory does not stop the app: exit 0, one otel-lens warning line naming the path and why, no
    traceback; decorators and Logger keep working and ``lens.store`` raises StoreError saying why."""
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "notes.db").write_text("my own notes, not a database\n" * 10)
    (tmp_path / "a-dir").mkdir()
    cases = [  # the database, the path the warning must name, and why
        (str(tmp_path / "a-file" / "sub" / "lens.db"), str(tmp_path / "a-file"), "is not a directory"),
        (str(tmp_path / "notes.db"), str(tmp_path / "notes.db"), "not an otel-lens database"),
        (str(tmp_path / "a-dir"), str(tmp_path / "a-dir"), "is a directory"),
        ("/proc/self/lens.db", "/proc/self", "not writable"),  # an unwritable directory, even for root
    ]
    for database, named, why in cases:
        result = _run(_UNAVAILABLE_APP.format(database=database), tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        warnings = [line for line in lines if "otel-lens" in line]
        assert len(warnings) == 1, lines
        assert named in warnings[0]
        assert why in warnings[0] and "not stored" in warnings[0]
        assert any(line.endswith(" INF handled 21") for line in lines), lines  # the Logger still writes
        assert "stdlib still prints" in lines
        assert len(lines) == 3, lines
        out = result.stdout.splitlines()
        assert out[-1] == "app ran" and out[0].startswith("store: ") and why in out[0]
    assert (tmp_path / "notes.db").read_text() == "my own notes, not a database\n" * 10


def test_a_bad_setting_still_fails_fast_in_one_line(tmp_path: Path) -> None:
    """A setting that does not parse is the developer's mistake: configure() raises SettingsError naming it."""
    result = _run(
        f"""
        from otel_lens import SettingsError, configure
        try:
            configure(database={str(tmp_path / "lens.db")!r}, retention="forever-ish")
        except SettingsError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "retention" in result.stdout and len(result.stdout.splitlines()) == 1
    assert not (tmp_path / "lens.db").exists()
