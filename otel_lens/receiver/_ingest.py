"""The ingest core: a bounded queue of decoded OTLP requests feeding the one thread that writes them.

Every receiver (OTLP/HTTP here, OTLP/gRPC beside it) hands its decoded request to :meth:`Ingest.submit`
(blocking: for a server that runs handlers in threads) or :meth:`Ingest.admit` (a :class:`Ticket` with a
completion callback: for an event loop, which must not block) and answers its client from the
:class:`Outcome`. The contract:

- ``submit`` returns ``stored`` only after the rows are committed: a client told "200"/"OK" never loses
  them, whatever happens to the process afterwards (SIGTERM, kill -9).
- The queue is bounded by rows *and* bytes (RELIABILITY 26, 27): a request that does not fit is refused
  at once with ``busy`` and a ``retry_after_s`` (answer 429 / RESOURCE_EXHAUSTED), never queued without
  limit. A request alone in an empty queue is always admitted, however big (the receiver's body cap
  bounds it), so nothing is refused forever.
- A request still *waiting* in the queue when ``timeout_s`` runs out is withdrawn and answered ``busy``:
  nothing of it is written, so the client's retry stores it once. One already being written is waited
  for (the store's own write deadline bounds that), so an answer never contradicts what was stored.
- ``busy`` also covers a store that cannot write for now (another process holds the lock past the
  deadline, the disk is full, shutting down): answer 503 with Retry-After. ``failed`` is permanent
  (not an otel-lens database, a schema from a newer otel-lens, a bug): answer 500, the client drops it.
- :meth:`Ingest.close` stops admitting, writes everything already queued (the SIGTERM path: the HTTP
  server first stops taking requests and lets the running ones finish), then stops the thread.
  It does not close the write store: whoever acquired it releases it.

Storing is idempotent on (trace id, span id) and on a log record's uid, so a retried request never
stores twice. One thread owns the writes: requests are written in the order they were admitted, one
transaction each (the SQLite write lock admits one writer anyway; see benchmarks/bench_receiver.py).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Literal

from otel_lens._guard import internal
from otel_lens._ratelimit import RateLimitedLog
from otel_lens.export import OtlpBatch
from otel_lens.store.errors import NotALensDatabase, SchemaTooNew, StoreError, one_line
from otel_lens.store.shared import WriteStore

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ROWS", "Ingest", "Kind", "Outcome", "Ticket"]

_logger = logging.getLogger(__name__)

Kind = Literal["traces", "logs"]
DEFAULT_MAX_ROWS = 100_000
"""Rows queued at most (about 20 requests of the SDK's 512-span batches, per client, for 10 clients)."""
DEFAULT_MAX_BYTES = 128 * 1024 * 1024
"""Request bytes queued at most (decompressed payload sizes: a proxy for the rows' memory, which is ~2× that)."""
_DEFAULT_WRITE_TIMEOUT_S = 10.0
_MIN_RETRY_S, _MAX_RETRY_S = 1.0, 30.0
_PERMANENT = (NotALensDatabase, SchemaTooNew)  # StoreErrors that retrying cannot cure


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one submitted request."""

    status: Literal["stored", "busy", "failed"]
    stored: int = 0
    """Rows that were new to the store (a retried request stores 0: it was there already)."""
    retry_after_s: float = 0.0
    """For ``busy``: when to try again (whole seconds, for a Retry-After header)."""
    message: str | None = None
    """For ``busy`` and ``failed``: one line saying why."""
    queue_full: bool = False
    """For ``busy``: True when the queue had no room (HTTP 429), False when the store could not write (503)."""


_SHUTTING_DOWN = Outcome("busy", retry_after_s=_MIN_RETRY_S, message="the receiver is shutting down")


class Ticket:
    """One admitted (or refused) request: wait for its :class:`Outcome`, or withdraw it while it still waits."""

    __slots__ = ("_ingest", "batch", "done", "kind", "nbytes", "on_done", "outcome", "rows", "writing")

    def __init__(self, ingest: Ingest | None, kind: Kind, batch: OtlpBatch, nbytes: int) -> None:
        self._ingest = ingest
        self.kind = kind
        self.batch = batch
        self.rows = len(batch.batch.rows)
        self.nbytes = nbytes
        self.writing = False
        self.outcome: Outcome | None = None
        self.done = threading.Event()
        self.on_done: Callable[[], object] | None = None

    def _finish(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.done.set()
        if self.on_done is not None:
            self.on_done()

    def wait(self, timeout_s: float) -> Outcome:
        """Block until the outcome; at ``timeout_s`` a request still queued is withdrawn (busy, nothing written)."""
        if not self.done.wait(max(timeout_s, 0.0)):
            withdrawn = self.withdraw(f"not written within {timeout_s:g}s")
            if withdrawn is not None:
                return withdrawn
            self.done.wait()  # being written: bounded by the store's write deadline
        assert self.outcome is not None
        return self.outcome

    def withdraw(self, why: str) -> Outcome | None:
        """Take the request out of the queue if nothing of it is written yet (then its busy outcome), else None."""
        return None if self._ingest is None else self._ingest._withdraw(self, why)


class Ingest:
    """A bounded queue plus the writer thread that drains it into ``write_store`` (see the module docstring).

    Args:
        write_store: the store to write to, or a function opening it, called by the writer thread at the
            first write (so a server that receives nothing never creates or touches the database); the
            caller acquires it and later releases it (:attr:`write_store` says whether it was opened).
        max_rows: rows queued at most (0 or less: one request at a time).
        max_bytes: request bytes queued at most (``nbytes`` as given to :meth:`submit`).
        write_timeout_s: how long one write may wait for the database's write lock.
    """

    def __init__(
        self,
        write_store: WriteStore | Callable[[], WriteStore],
        max_rows: int = DEFAULT_MAX_ROWS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        write_timeout_s: float = _DEFAULT_WRITE_TIMEOUT_S,
    ) -> None:
        self._store = write_store if isinstance(write_store, WriteStore) else None
        self._open = None if isinstance(write_store, WriteStore) else write_store
        self._warnings = RateLimitedLog(_logger)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._write_timeout_s = write_timeout_s
        self._queue: collections.deque[Ticket] = collections.deque()
        self._rows = 0
        self._bytes = 0
        self._closing = False
        self._rate = 20_000.0  # rows/s written lately (a moving average), for Retry-After
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="otel-lens-ingest", daemon=True)
        self._thread.start()

    @property
    def write_store(self) -> WriteStore | None:
        """The store written to, once opened."""
        return self._store

    @property
    def queued(self) -> tuple[int, int]:
        """Rows and bytes waiting now (the one being written included)."""
        with self._cond:
            return self._rows, self._bytes

    def full(self) -> Outcome | None:
        """The busy outcome a request would get now because the queue is at its bound (None: there is room).

        Lets a receiver refuse before it reads and decodes a body it could not queue anyway.
        """
        with self._cond:
            if self._closing:
                return _SHUTTING_DOWN
            if self._rows >= self.max_rows or self._bytes >= self.max_bytes:
                return self._queue_full()
            return None

    def submit(self, kind: Kind, parsed: OtlpBatch, timeout_s: float, nbytes: int | None = None) -> Outcome:
        """Queue ``parsed`` and wait until it is committed, refused or withdrawn; never raises for store trouble.

        ``nbytes`` is what the request weighs (its decompressed payload size); by default 512 bytes a row.
        """
        return self.admit(kind, parsed, nbytes).wait(timeout_s)

    def admit(
        self, kind: Kind, parsed: OtlpBatch, nbytes: int | None = None, on_done: Callable[[], object] | None = None
    ) -> Ticket:
        """Queue ``parsed`` without waiting: the ticket is already done when refused (or empty).

        ``on_done`` is called once, from whichever thread settles the outcome (the writer thread, or this
        one when refused at once): an event loop passes ``loop.call_soon_threadsafe(...)`` here.
        """
        rows = len(parsed.batch.rows)
        ticket = Ticket(self, kind, parsed, rows * 512 if nbytes is None else nbytes)
        ticket.on_done = on_done
        if rows == 0:  # nothing to store (all rejected, or an empty request): no queue trip
            ticket._finish(Outcome("stored"))
            return ticket
        with self._cond:
            refused: Outcome | None = _SHUTTING_DOWN if self._closing else None
            if (
                refused is None
                and self._queue
                and (self._rows + rows > self.max_rows or self._bytes + ticket.nbytes > self.max_bytes)
            ):
                refused = self._queue_full()
            if refused is None:
                self._queue.append(ticket)
                self._rows += rows
                self._bytes += ticket.nbytes
                self._cond.notify_all()
        if refused is not None:
            ticket._finish(refused)
        return ticket

    def close(self, timeout_s: float = 30.0) -> bool:
        """Stop admitting, write what is queued, stop the thread; True when everything queued was written."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(max(timeout_s, 0.0))
        if self._thread.is_alive():
            _logger.warning("otel-lens: the OTLP receiver's queue was not written within %.0fs", timeout_s)
            return False
        return True

    def _withdraw(self, ticket: Ticket, why: str) -> Outcome | None:
        with self._cond:
            if ticket.writing or ticket.outcome is not None:
                return None
            self._queue.remove(ticket)
            self._rows -= ticket.rows
            self._bytes -= ticket.nbytes
            outcome = Outcome(
                "busy",
                retry_after_s=self._retry_after(),
                message=f"{why} (the store is slow); nothing of it was stored",
            )
        ticket._finish(outcome)
        return outcome

    def _queue_full(self) -> Outcome:
        """The refusal for a full queue (caller holds the lock)."""
        return Outcome(
            "busy",
            retry_after_s=self._retry_after(),
            message=f"the write queue is full ({self._rows} rows, {self._bytes} bytes waiting)",
            queue_full=True,
        )

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing and drained
                item = self._queue[0]
                item.writing = True
            started = time.monotonic()
            outcome = self._write(item)
            elapsed = time.monotonic() - started
            with self._cond:
                self._queue.popleft()
                self._rows -= item.rows
                self._bytes -= item.nbytes
                if outcome.status == "stored" and elapsed > 0:
                    self._rate = 0.8 * self._rate + 0.2 * (item.rows / elapsed)
            item._finish(outcome)

    def _write(self, item: Ticket) -> Outcome:
        try:
            if self._store is None:
                assert self._open is not None
                with internal():  # creating/migrating the schema is otel-lens' own work: never traced
                    self._store = self._open()
            store = self._store
            write = store.write_spans if item.kind == "traces" else store.write_logs
            with internal():
                return Outcome("stored", stored=write(item.batch.batch, self._write_timeout_s))
        except _PERMANENT as exc:
            self._warnings.warning("permanent", "otel-lens: OTLP %s not stored: %s", item.kind, one_line(exc))
            return Outcome("failed", message=one_line(exc))
        except StoreError as exc:  # busy past the deadline, disk full, closed, connection lost: try later
            self._warnings.warning("store", "otel-lens: OTLP %s not stored yet: %s", item.kind, one_line(exc))
            with self._cond:
                retry = self._retry_after()
            return Outcome("busy", retry_after_s=retry, message=one_line(exc))
        except Exception as exc:  # a bug: say so, keep the thread (and every later request) alive
            _logger.warning("otel-lens: OTLP %s not stored: unexpected %s: %s", item.kind, type(exc).__name__, exc)
            return Outcome("failed", message=f"unexpected {type(exc).__name__}: {one_line(exc)}")

    def _retry_after(self) -> float:
        """Seconds until the queue has likely drained (caller holds the lock), whole, 1-30."""
        return float(min(max(math.ceil(self._rows / max(self._rate, 1.0)), _MIN_RETRY_S), _MAX_RETRY_S))
