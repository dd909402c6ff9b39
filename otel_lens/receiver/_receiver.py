"""The receiver as ``otel-lens serve`` runs it: the write store, the ingest queue, the redactor, the HTTP app.

One object to open at start and close after the HTTP server has stopped taking requests (SIGTERM:
uvicorn finishes the requests in flight, then :meth:`Receiver.close` writes what is queued and releases
the store). The database is created here when it does not exist yet; the viewer only ever reads it.
"""

from __future__ import annotations

from otel_lens._guard import internal
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

    Raises:
        StoreError: the database cannot be opened or created (the message names it and why).
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
        with internal():  # creating/migrating the schema: otel-lens' own work, never traced
            self.write_store = acquire(settings)
        self.ingest = Ingest(self.write_store, max_rows=max_rows, max_bytes=max_bytes)
        self.redactor = Redactor(settings.redact)
        self.http = OtlpHttpApp(self.ingest, self.redactor, token=token, max_body=max_body)
        self._closed = False

    def close(self, timeout_s: float = _DRAIN_S) -> bool:
        """Write what is queued, then release the store; True when nothing queued was left unwritten."""
        if self._closed:
            return True
        self._closed = True
        drained = self.ingest.close(timeout_s)
        release(self.write_store)
        return drained
