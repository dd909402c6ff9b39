"""``logs --follow`` before anything is stored: wait for the database to appear instead of failing."""

from __future__ import annotations

import sys
import time

from otel_lens.query import DatabaseNotReady, Store, open_store, parse_location, resolve_database

WAIT_INTERVAL_S = 0.5


def wait_for_store(database: str | None) -> Store:
    """The store at ``database`` once it exists and is an otel-lens database (polling; Ctrl-C stops it).

    Says once on stderr that it is waiting, and only on a terminal: piped stderr stays clean for scripts.

    Raises:
        StoreError: the database is there but cannot be read (foreign, corrupt, locked…).
    """
    resolved = resolve_database(database)
    announced = False
    while True:
        try:
            return open_store(resolved)
        except DatabaseNotReady:
            if not announced and sys.stderr.isatty():
                sys.stderr.write(f"waiting for {parse_location(resolved)} to appear…\n")
                sys.stderr.flush()
            announced = True
        time.sleep(WAIT_INTERVAL_S)
