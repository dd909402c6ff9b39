"""The receiver as ``otel-lens serve`` runs it: the write store, the ingest queue, the redactor, the HTTP app.

One object to open at start and close after the HTTP server has stopped taking requests (SIGTERM:
uvicorn finishes the requests in flight, then :meth:`Receiver.close` writes what is queued and releases
the store). The database is created by the receiver (at its first write) when it does not exist yet; the viewer only
ever reads it.
"""

from __future__ import annotations

from otel_lens._redact import Redactor
from otel_lens.receiver._body import DEFAULT_MAX_BODY
from otel_lens.receiver._http import OtlpHttpApp
from otel_lens.receiver._ingest import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, Ingest
from otel_lens.settings import Settings
from otel_lens.store.shared import acquire, release

__all__ = ["Receiver"]

_DRAIN_S = 30.0


class Receiver:
    """OTLP into ``settings.database`` with that settings' redaction and retention.

    The database is opened (created, migrated) at the first request that has something to store; until
    then it is not touched. A database that cannot be opened is answered per request (503, or 500 when
    it is not an otel-lens database) and logged on stderr, rate-limited.
    """

    def __init__(
        self,
        settings: Settings,
        token: str | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.settings = settings
        # Opened at the first request by the writer thread: serving a store nobody sends to leaves it untouched.
        self.ingest = Ingest(lambda: acquire(settings), max_rows=max_rows, max_bytes=max_bytes)
        self.redactor = Redactor(settings.redact)
        self.http = OtlpHttpApp(self.ingest, self.redactor, token=token, max_body=max_body)
        self._closed = False

    def close(self, timeout_s: float = _DRAIN_S) -> bool:
        """Write what is queued, then release the store; True when nothing queued was left unwritten."""
        if self._closed:
            return True
        self._closed = True
        drained = self.ingest.close(timeout_s)
        store = self.ingest.write_store
        if store is not None:
            release(store)
        return drained
