"""The viewer's one read-only store handle: opened lazily (the viewer may start before anything is stored),
used by one request at a time, and every read run off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from otel_lens.query import DatabaseNotReady, Store, StoreError, open_store, parse_location

_T = TypeVar("_T")


class Reads:
    """Runs read functions against the store of ``database``; only :class:`~otel_lens.query.Store` reads,
    never ``prune``: the viewer never writes."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.label = database_label(database)
        self._store: Store | None = None
        # The store's connection and id caches are shared: one read at a time keeps them consistent
        # (reads are milliseconds; the viewer serves one person).
        self._lock = threading.Lock()

    def _open(self) -> Store:
        if self._store is None:
            self._store = open_store(self.database)  # DatabaseNotReady until a writer created it
        return self._store

    def call(self, work: Callable[[Store], _T]) -> _T:
        with self._lock:
            return work(self._open())

    async def __call__(self, work: Callable[[Store], _T]) -> _T:
        return await run_in_threadpool(self.call, work)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def database_label(database: str) -> str:
    """``database`` as messages show it: a file as its absolute path, a URL without its password."""
    try:
        return str(parse_location(database))
    except StoreError:  # an empty setting or an unknown scheme: opening it says what is wrong
        return database


__all__ = ["DatabaseNotReady", "Reads", "database_label"]
