"""Opening a store: clear errors for bad paths, foreign files left untouched, private file modes (SQLite)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_lens import open_store
from otel_lens.export.spans import LensSpanExporter
from otel_lens.store.database import parse_location
from otel_lens.store.errors import NotALensDatabase, SchemaTooNew, StoreError
from otel_lens.store.migrations import latest_version

_OPEN_AND_REPORT = """
import sys
from otel_lens import LensSpanExporter, StoreError
try:
    LensSpanExporter(database=sys.argv[1], sweep_interval=0).shutdown()
except StoreError as exc:
    print(type(exc).__name__, exc)
else:
    print("opened")
"""


def _open_without_permission_override(database: Path) -> str:
    """Open ``database`` in a child that obeys file modes: as root, drop CAP_DAC_OVERRIDE first."""
    command = [sys.executable, "-c", _OPEN_AND_REPORT, str(database)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test permissions as root"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert "Traceback" not in result.stderr
    return result.stdout.strip()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_database_files_are_private(tmp_path: Path) -> None:
    """A new database, its -wal and -shm are 0600 and a created directory 0700 (scenario 21)."""
    db = tmp_path / "new" / "nested" / "lens.db"
    exporter = LensSpanExporter(database=str(db), sweep_interval=0)
    try:
        provider = TracerProvider(shutdown_on_exit=False)
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("t").start_as_current_span("s"):
            pass
        assert _mode(db) == 0o600
        assert _mode(Path(f"{db}-wal")) == 0o600
        assert _mode(Path(f"{db}-shm")) == 0o600
        assert _mode(tmp_path / "new") == 0o700
        assert _mode(tmp_path / "new" / "nested") == 0o700
    finally:
        exporter.shutdown()


def test_existing_permissions_are_not_loosened_or_tightened(tmp_path: Path) -> None:
    """An existing directory and database keep the modes their owner chose (scenario 21)."""
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o750)
    os.chmod(directory, 0o750)
    db = directory / "lens.db"
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    os.chmod(db, 0o640)
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    assert _mode(directory) == 0o750
    assert _mode(db) == 0o640


def test_path_that_is_a_directory_is_refused_naming_it(tmp_path: Path) -> None:
    """A directory given as the database is a clear error at configuration (scenario 5)."""
    with pytest.raises(StoreError, match=f"{tmp_path}.*is a directory"):
        LensSpanExporter(database=str(tmp_path), sweep_interval=0)


@pytest.mark.parametrize("below", ["lens.db", "sub/lens.db"])
def test_path_below_a_file_is_refused_naming_it(tmp_path: Path, below: str) -> None:
    """A database below a regular file (``junk.db/x.db``, or deeper) is refused saying that file is not a
    directory, not that its directory "is not writable" (what ``junk.db/x.db`` said); nothing is created
    and the file keeps its bytes (scenario 5)."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    database = blocker / below
    with pytest.raises(StoreError) as refused:
        LensSpanExporter(database=str(database), sweep_interval=0)
    assert str(refused.value) == f"database {database}: {blocker} is not a directory"
    assert blocker.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_missing_directory_is_created(tmp_path: Path) -> None:
    """A path in a directory that does not exist yet works: the directory is made (like the default path)."""
    db = tmp_path / "a" / "b" / "lens.db"
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    assert db.exists()


def test_read_only_database_is_refused_at_configuration(tmp_path: Path) -> None:
    """A read-only database file is a clear error when the exporter is made, never when a span ends (scenario 5)."""
    db = tmp_path / "lens.db"
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    os.chmod(db, 0o400)
    assert (
        _open_without_permission_override(db)
        == f"StoreError database {db} is read-only; otel-lens needs read and write access to store spans"
    )


def test_read_only_directory_is_refused_at_configuration(tmp_path: Path) -> None:
    """A directory SQLite cannot write its -wal into is refused up front, naming it (scenario 5)."""
    directory = tmp_path / "ro"
    directory.mkdir()
    os.chmod(directory, 0o500)
    report = _open_without_permission_override(directory / "lens.db")
    assert report.startswith("StoreError")
    assert f"directory {directory} is not writable" in report


def test_read_only_file_system_path_is_refused(tmp_path: Path) -> None:
    """Even as root, a path under /proc (read-only, not a directory SQLite can use) is refused clearly."""
    with pytest.raises(StoreError, match=r"/proc/self|not writable|cannot create"):
        LensSpanExporter(database="/proc/self/lens-test.db", sweep_interval=0)


@pytest.mark.parametrize("suffix", ["-sweep.lock", "-wal", "-shm", "-journal"])
def test_a_databases_companion_file_is_refused_as_a_database(tmp_path: Path, suffix: str) -> None:
    """``OTEL_EXPORTER_LENS_DATABASE=g.db-sweep.lock`` turned the empty lock file into an otel-lens database:
    a path ending in -wal, -shm, -journal or -sweep.lock is refused, writing or reading, in one line naming
    the database beside it; the file keeps its bytes and nothing is created next to it."""
    database = tmp_path / "g.db"
    writer = LensSpanExporter(database=str(database), sweep_interval=0)
    try:
        writer.store.prune()  # a live writer that has swept: -wal, -shm and -sweep.lock are all there
        companion = Path(f"{database}{suffix}")
        if suffix == "-journal":  # a rollback journal, as SQLite leaves one outside WAL mode
            companion.write_bytes(b"")
        before = {p.name: _digest(p) for p in tmp_path.iterdir() if p.name != "g.db-shm" and p.name != "g.db-wal"}
        expected = f"database path {companion} is the {suffix[1:]} file of database {database}, not a database"
        with pytest.raises(StoreError) as refused:
            LensSpanExporter(database=str(companion), sweep_interval=0)
        assert str(refused.value).startswith(expected) and "\n" not in str(refused.value)
        if companion.stat().st_size:  # an empty one reads as "nothing stored yet", no harm done
            with pytest.raises(StoreError, match="not a database"), open_store(companion) as store:
                store.traces()
        after = {p.name: _digest(p) for p in tmp_path.iterdir() if p.name != "g.db-shm" and p.name != "g.db-wal"}
        assert after == before
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            {"g.db", "g.db-wal", "g.db-shm", "g.db-sweep.lock", companion.name}
        )
    finally:
        writer.shutdown()


def test_random_bytes_file_is_refused_and_untouched(tmp_path: Path) -> None:
    """A file that is not SQLite at all is refused; its bytes are unchanged and no -wal appears (scenario 6)."""
    db = tmp_path / "random.bin"
    db.write_bytes(os.urandom(8192))
    before = _digest(db)
    with pytest.raises(NotALensDatabase, match="not an otel-lens database"):
        LensSpanExporter(database=str(db), sweep_interval=0)
    assert _digest(db) == before
    assert not Path(f"{db}-wal").exists()


def test_other_applications_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    """Another app's SQLite database is refused without a byte changed (scenario 6)."""
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = _digest(db)
    with pytest.raises(NotALensDatabase, match="another application"):
        LensSpanExporter(database=str(db), sweep_interval=0)
    assert _digest(db) == before


def test_other_applications_wal_database_gets_no_wal_or_shm(tmp_path: Path) -> None:
    """Refusing another app's WAL-mode database creates no -wal/-shm beside it (scenario 6)."""
    db = tmp_path / "wal-app.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = _digest(db)
    with pytest.raises(NotALensDatabase):
        LensSpanExporter(database=str(db), sweep_interval=0)
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wal-app.db"]


def test_empty_file_is_accepted_as_new(tmp_path: Path) -> None:
    """A zero-byte file (e.g. made by `touch`) becomes an otel-lens database."""
    db = tmp_path / "touched.db"
    db.touch()
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == latest_version()


def test_newer_schema_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    """A database from a newer otel-lens is refused with "upgrade otel-lens", bytes unchanged (scenario 7)."""
    db = tmp_path / "lens.db"
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = _digest(db)
    with pytest.raises(SchemaTooNew, match="upgrade otel-lens"):
        LensSpanExporter(database=str(db), sweep_interval=0)
    assert _digest(db) == before


def test_new_database_has_incremental_auto_vacuum_and_wal(tmp_path: Path) -> None:
    """auto_vacuum=INCREMENTAL is set before the first table, so pruning can shrink the file."""
    db = tmp_path / "lens.db"
    LensSpanExporter(database=str(db), sweep_interval=0).shutdown()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("setting", "kind", "target"),
    [
        ("sqlite:///relative/x.db", "sqlite", str(Path("relative/x.db").absolute())),
        ("sqlite:////abs/x.db", "sqlite", "/abs/x.db"),
        ("postgresql://u:p@db.example:5433/lens", "postgresql", "postgresql://u:p@db.example:5433/lens"),
    ],
)
def test_database_urls(setting: str, kind: str, target: str) -> None:
    location = parse_location(setting)
    assert (location.kind, location.target) == (kind, target)


def test_postgres_location_hides_password() -> None:
    """Messages name a PostgreSQL store without its password."""
    assert "secret" not in str(parse_location("postgresql://user:secret@db:5432/lens"))


@pytest.mark.parametrize("setting", ["", "mysql://x/y", ":memory:", "sqlite://host/x.db"])
def test_unusable_database_settings_are_refused(setting: str) -> None:
    with pytest.raises(StoreError):
        parse_location(setting)


# Another process holds the write lock of a new store (it is being created there) until told to let go,
# or for at most _HOLD_AT_MOST_S: longer than an application's start may wait, shorter than the
# 30 s opening used to wait, so which of the two ended the hold says how long the start waited.
_HOLD_AT_MOST_S = 25.0
_HOLD_WRITE_LOCK = """
import os, sqlite3, sys, time
database, held, release, report, at_most = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
conn = sqlite3.connect(database, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
open(held, "w").close()
deadline = time.monotonic() + at_most
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.02)
ended_by = "release" if os.path.exists(release) else "timeout"
conn.execute("COMMIT")
conn.close()
with open(report, "w") as handle:
    handle.write(ended_by)
"""


def test_start_does_not_wait_long_for_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    """configure()/the distro/an exporter's constructor run in the application's start: opening a store
    whose write lock another process holds waits a short bound only (it used to wait up to 30 s, hanging
    the start), then the store opens at the first export once the lock is free, and nothing is lost."""
    from tests._reliability import SpanFactory, wait_for_file

    db_path = tmp_path / "lens.db"
    held, release, report = tmp_path / "held", tmp_path / "release", tmp_path / "report"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_WRITE_LOCK, db_path, held, release, report, str(_HOLD_AT_MOST_S)]
    )
    try:
        wait_for_file(held)
        exporter = LensSpanExporter(database=str(db_path), sweep_interval=0)  # returns while the lock is held
        release.touch()
        assert holder.wait(60) == 0
        assert report.read_text() == "release", "the exporter's start waited until the other process gave up"
        spans = SpanFactory().traces(2, 3, label="after")
        assert exporter.export(spans).name == "SUCCESS"  # opened (and migrated) at the first export
        exporter.shutdown()
    finally:
        if holder.poll() is None:
            holder.kill()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        assert conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0] == 6
    conn.close()
