"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temporary directory.

The server listens on 127.0.0.1 only, on a free port, with its unix socket inside its own directory,
and durability off (a disposable server). :meth:`PostgresServer.create_database` gives each test a
fresh database. PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
system user (``runuser``). The server binaries come from ``$OTEL_LENS_PG_BINDIR``, else the newest
``/usr/lib/postgresql/*/bin``, else ``$PATH``; the driver from the ``postgres`` extra.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

_psycopg: ModuleType | None
try:
    import psycopg as _psycopg
except ImportError:  # the postgres extra is not installed: the server still starts; admin() says what is missing
    _psycopg = None

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them with `apt-get install postgresql` "
    "(or point $OTEL_LENS_PG_BINDIR at their directory)"
)
_SERVER_USER = "postgres"


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: $OTEL_LENS_PG_BINDIR, the newest /usr/lib/postgresql/*/bin, $PATH."""
    given = os.environ.get("OTEL_LENS_PG_BINDIR", "").strip()  # e.g. /usr/lib/postgresql/16/bin
    if given:
        override = Path(given)
        return override if (override / "initdb").exists() and (override / "pg_ctl").exists() else None
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    for candidate in reversed(candidates):
        if os.access(Path(candidate) / "initdb", os.X_OK) and os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One running server; :meth:`create_database` gives a fresh database URL."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="otel-lens-pg-"))
        self.datadir = self.root / "data"
        self.port = 0
        self._names = itertools.count(1)
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(_SERVER_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root, and PostgreSQL refuses root: create the {_SERVER_USER!r} user "
                    "(apt-get install postgresql does) or run the tests as a normal user"
                ) from None
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", _SERVER_USER, "--"]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, check=False, cwd=self.root, timeout=120
        )

    def start(self) -> None:
        result = self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        for attempt in range(5):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                # A disposable test server: durability buys nothing here and costs the suite time.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            result = self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.root / "server.log"),
                "-o", options, "-w", "-t", "60", "start",
            )  # fmt: skip
            if result.returncode == 0:
                return
            if attempt == 4 or "could not bind" not in self.log_tail():
                raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()}\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "server.log").read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement (outside a transaction) on the maintenance database."""
        # Bound at import: a test that hides the driver from the code under test (sys.modules) must not
        # break the fixture's own clean-up.
        if _psycopg is None:
            raise RuntimeError("the PostgreSQL driver is missing: pip install 'psycopg[binary]' (the postgres extra)")
        with _psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"lens_{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a server for the duration of the block (raises RuntimeError when the binaries are missing)."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(INSTALL_HINT)
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
