"""``open_store()``: the read API over one otel-lens database, shared by the CLI and the web viewer.

Every method reads through a read-only connection and never creates or changes a file; ``prune``
is the one exception and goes through the same shared write store the exporters use.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from otel_lens._guard import internal
from otel_lens._units import parse_duration, unitless
from otel_lens.query import (
    _aggregates,
    _bundled_prices,
    _filters,
    _logs,
    _pages,
    _sessions,
    _trace_json,
    _trace_outline,
    _traces,
    _usage,
)
from otel_lens.query._bodies import resolve_bodies
from otel_lens.query._decode import Lookups
from otel_lens.query._filters import Since
from otel_lens.query._live import LiveFeed
from otel_lens.query._messages import with_transcripts
from otel_lens.query._pages import LogPage, TracePage
from otel_lens.query._reader import Reader
from otel_lens.query._session_turns import SessionDetail, session_detail
from otel_lens.query._sessions import SessionPage
from otel_lens.query._usage_series import UsagePoint, usage_series
from otel_lens.query.prices import PriceTable
from otel_lens.query.results import LogRecord, SpanRecord, StatRow, TraceDetail, TraceSummary, UsageRow
from otel_lens.settings import Settings, SettingsError, default_database_path
from otel_lens.store import shared
from otel_lens.store.database import Location, parse_location
from otel_lens.store.errors import StoreError
from otel_lens.store.schema import Models
from otel_lens.store.sweeper import PruneSummary

_EXPORT_PAGE = 200
_T = TypeVar("_T")
_EXPORT_LOG_PAGE = 1000  # log records per ExportLogsServiceRequest line of `otel-lens export`
_PRUNE_VARIABLES = ("OTEL_EXPORTER_LENS_RETENTION", "OTEL_EXPORTER_LENS_MAX_SIZE")


def open_store(database: str | os.PathLike[str] | None = None) -> Store:
    """Open an otel-lens database for reading.

    Args:
        database: a file path, ``sqlite:///path`` or ``postgresql://…``; when omitted,
            ``OTEL_EXPORTER_LENS_DATABASE``, else the default path.

    Raises:
        StoreError: the database is missing, locked, corrupt, not an otel-lens database, or newer
            than this otel-lens (``str(error)`` is a one-line reason).
    """
    return Store(resolve_database(database))


def resolve_database(database: str | os.PathLike[str] | None = None) -> str:
    """The database :func:`open_store` reads: ``database``, else ``OTEL_EXPORTER_LENS_DATABASE``, else the default."""
    if database is None or not os.fspath(database).strip():
        database = os.environ.get("OTEL_EXPORTER_LENS_DATABASE", "").strip() or str(default_database_path())
    return os.fspath(database)


class _OwnReader(Reader):
    """A :class:`Reader` whose every query runs as otel-lens's own work (see ``_guard``): with the
    application's logging at DEBUG, peewee's SQL records of these reads are dropped rather than printed
    through its handlers and stored, and an instrumented sqlite3/psycopg does not trace them."""

    def __init__(self, location: Location) -> None:
        with internal():  # opening checks the schema (and, on PostgreSQL, sets the session read-only)
            super().__init__(location)

    def run(self, work: Callable[[Models], _T]) -> _T:
        with internal():
            return super().run(work)


def _spans_with_bodies(
    models: Any, lookups: Lookups, trace_ids: list[bytes], running: bool = False
) -> list[SpanRecord]:
    return resolve_bodies(models, _traces.spans_of(models, lookups, trace_ids, running))


def _until(until: Since) -> int | None:
    """The end of a window as Unix nanoseconds; its error names ``until`` (the parser's says ``since``)."""
    try:
        return _filters.cutoff_ns(until)
    except ValueError as exc:
        raise ValueError(str(exc).replace("since=", "until=", 1)) from None


class Store:
    """Queries over one database. Use :func:`open_store`; close it (or use ``with``) when done."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.location = parse_location(database)
        self._reader = _OwnReader(self.location)
        self._lookups = Lookups()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    # -- traces ---------------------------------------------------------------------------------

    def traces(
        self,
        service: str | None = None,
        name: str | None = None,
        status: str | None = None,
        since: Since = None,
        min_duration: str | float | None = None,
        limit: int | None = 50,
        running: bool = False,
    ) -> list[TraceSummary]:
        """Recent traces, newest first; each says its ``state`` (running, abandoned or ended).

        Args:
            service: only traces whose root span's service is this.
            name: only traces whose root span has this name.
            status: ``"error"`` (a span failed) or ``"ok"`` (none did).
            since: only traces started in this window (``"1h"``, seconds, a timedelta or a datetime).
            min_duration: only traces at least this long (``"100ms"`` or seconds).
            limit: at most this many (``None`` for all).
            running: only traces with a span running now (stored while open; see ``RunningSpanProcessor``).

        Raises:
            ValueError: a filter does not parse (the message names it).
        """
        arguments: dict[str, Any] = {
            "running": bool(running),
            "service": service,
            "name": name,
            "status": None if status is None else _filters.choose(status, _filters.TRACE_STATUSES, "status"),
            "cutoff": _filters.cutoff_ns(since),
            "min_duration": _filters.duration_ns(min_duration),
            "limit": _filters.check_limit(limit),
        }
        return self._reader.run(lambda m: _traces.list_traces(m, **arguments))

    def trace_page(
        self,
        service: str | None = None,
        name: str | None = None,
        status: str | None = None,
        since: Since = None,
        min_duration: str | float | None = None,
        search: str | None = None,
        before: str | None = None,
        limit: int = 50,
        running: bool = False,
    ) -> TracePage:
        """One page of :meth:`traces` (same filters, plus ``search`` in the root name or service), newest
        first, starting after the cursor ``before`` (a previous page's ``next``); ``running``: only traces
        with a span running now.

        Raises:
            ValueError: a filter or the cursor does not parse.
        """
        checked = _filters.check_limit(limit)
        assert checked is not None
        arguments: dict[str, Any] = {
            "service": service,
            "name": name,
            "status": None if status is None else _filters.choose(status, _filters.TRACE_STATUSES, "status"),
            "cutoff": _filters.cutoff_ns(since),
            "min_duration": _filters.duration_ns(min_duration),
            "limit": checked + 1,  # one more tells whether a next page exists
            "before": _pages.parse_trace_cursor(before),
            "keyset": True,
            "search": search or None,
            "running": bool(running),
        }
        found = self._reader.run(lambda m: _traces.list_traces(m, **arguments))
        more = len(found) > checked
        found = found[:checked]
        return _pages.TracePage(found, _pages.trace_cursor(found[-1]) if more else None)

    def trace(self, trace_id: str) -> TraceDetail:
        """One trace with its spans (by start time) and logs (by time); a unique id prefix is accepted.

        Raises:
            ValueError: ``trace_id`` is not hex.
            TraceNotFound: no stored trace has this id or prefix.
            AmbiguousTraceId: several stored traces start with this prefix.
        """
        prefix = _filters.trace_id_prefix(trace_id)

        def work(models: Any) -> TraceDetail:
            wanted = _traces.resolve_trace_id(models, prefix)
            summary = _traces.trace_summary(models, wanted)
            spans = _spans_with_bodies(models, self._lookups, [wanted], running=True)
            logs = _traces.logs_of(models, self._lookups, wanted)
            return TraceDetail(summary, with_transcripts(spans, logs), logs)

        return self._reader.run(work)

    def trace_dict(self, trace_id: str) -> dict[str, Any]:
        """``trace(trace_id).as_dict()`` plus ``"summary"`` (the trace list row's shape), built from the stored
        JSON without a :class:`SpanRecord` per span where that gives the same JSON (several times faster on big
        traces); same errors as :meth:`trace`."""
        prefix = _filters.trace_id_prefix(trace_id)
        return self._reader.run(lambda models: _trace_json.trace_dict(models, self._lookups, prefix))

    def trace_outline(self, trace_id: str) -> dict[str, Any]:
        """What a waterfall draws of one trace, as parallel arrays (no attributes): the shape of
        ``/api/traces/{id}?view=outline`` in docs/REFERENCE.md; same errors as :meth:`trace`."""
        prefix = _filters.trace_id_prefix(trace_id)
        return self._reader.run(lambda models: _trace_outline.trace_outline(models, self._lookups, prefix))

    def trace_count(self, since: Since = None) -> int:
        """How many traces started in the window (all when ``since`` is None)."""
        cutoff = _filters.cutoff_ns(since)
        return self._reader.run(lambda m: _traces.count_traces(m, cutoff))

    def iter_trace_spans(self, since: Since = None, trace_id: str | None = None) -> Iterator[list[SpanRecord]]:
        """The spans of each trace in the window, one list per trace, oldest trace first, read in pages."""
        if trace_id is not None:
            yield [span for span in self.trace(trace_id).spans if span.state == "ended"]  # OTLP has no open spans
            return
        cutoff = _filters.cutoff_ns(since)
        after: tuple[int, bytes] | None = None
        while True:
            page = self._reader.run(
                functools.partial(_traces.trace_page, cutoff=cutoff, after=after, size=_EXPORT_PAGE)
            )
            if not page:
                return
            ids = [key[1] for key in page]
            spans = self._reader.run(functools.partial(_spans_with_bodies, lookups=self._lookups, trace_ids=ids))
            by_trace: dict[str, list[SpanRecord]] = {}
            for span in spans:
                by_trace.setdefault(span.trace_id, []).append(span)
            for key in ids:
                found = by_trace.get(key.hex())
                if found:
                    yield found
            after = page[-1]

    def iter_log_pages(
        self, since: Since = None, trace_id: str | None = None, page: int = _EXPORT_LOG_PAGE
    ) -> Iterator[list[LogRecord]]:
        """Every log record in the window (or of one trace) in arrival order, ``page`` records at a time."""
        cutoff = _filters.cutoff_ns(since)
        prefix = None if trace_id is None else _filters.trace_id_prefix(trace_id)
        wanted: bytes | None = None
        if prefix is not None:
            wanted = (
                bytes.fromhex(prefix)
                if len(prefix) == 32
                else self._reader.run(lambda m: _traces.resolve_trace_id(m, prefix))
            )
        after = 0
        while True:
            found = self._reader.run(
                functools.partial(
                    _logs.list_logs, lookups=self._lookups, trace_id=wanted, min_severity=None, cutoff=cutoff,
                    search=None, limit=page, after_id=after,
                )
            )  # fmt: skip
            if not found:
                return
            yield found
            after = found[-1].id

    # -- logs -----------------------------------------------------------------------------------

    def logs(
        self,
        trace_id: str | None = None,
        level: str | int | None = None,
        since: Since = None,
        search: str | None = None,
        limit: int | None = 200,
        after_id: int | None = None,
    ) -> list[LogRecord]:
        """Log records, newest first (or, with ``after_id``, those stored after it in arrival order).

        Args:
            trace_id: only records of this trace (a unique prefix of a stored trace's id is accepted).
            level: only records at this level or above (``debug``, ``info``, ``warn``, ``error``, ``fatal``).
            since: only records in this window.
            search: only records whose body, attributes or event name contain this text (case-insensitive,
                taken literally).
            limit: at most this many (``None`` for all).
            after_id: only records with a larger :attr:`LogRecord.id` (what ``logs --follow`` polls with).

        Raises:
            ValueError: a filter does not parse (the message names it).
            TraceNotFound, AmbiguousTraceId: a ``trace_id`` prefix matches no or several traces.
        """
        prefix = None if trace_id is None else _filters.trace_id_prefix(trace_id)
        arguments: dict[str, Any] = {
            "min_severity": _filters.severity_floor(level),
            "cutoff": _filters.cutoff_ns(since),
            "search": search,
            "limit": _filters.check_limit(limit),
            "after_id": after_id,
        }

        def work(models: Any) -> list[LogRecord]:
            wanted = None
            if prefix is not None:
                # A whole id is taken as given: logs may carry the id of a trace whose spans were not stored.
                wanted = bytes.fromhex(prefix) if len(prefix) == 32 else _traces.resolve_trace_id(models, prefix)
            return _logs.list_logs(models, self._lookups, trace_id=wanted, **arguments)

        return self._reader.run(work)

    def log_page(
        self,
        trace_id: str | None = None,
        level: str | int | None = None,
        since: Since = None,
        search: str | None = None,
        before: str | None = None,
        limit: int = 200,
    ) -> LogPage:
        """One page of :meth:`logs` (same filters), newest first, after the cursor ``before``.

        Raises:
            ValueError: a filter or the cursor does not parse.
            TraceNotFound, AmbiguousTraceId: a ``trace_id`` prefix matches no or several traces.
        """
        checked = _filters.check_limit(limit)
        assert checked is not None
        cursor = _pages.parse_log_cursor(before)
        filters = self._log_filters(trace_id, level, since, search)

        def work(models: Any) -> list[LogRecord]:
            return _logs.list_logs(models, self._lookups, limit=checked + 1, before=cursor, **filters(models))

        found = self._reader.run(work)
        more = len(found) > checked
        found = found[:checked]
        return _pages.LogPage(found, _pages.log_cursor(found[-1]) if more else None)

    def _log_filters(
        self, trace_id: str | None, level: str | int | None, since: Since, search: str | None
    ) -> Callable[[Any], dict[str, Any]]:
        """The validated keyword filters of ``list_logs`` (the trace id resolved inside the read)."""
        prefix = None if trace_id is None else _filters.trace_id_prefix(trace_id)
        fixed = {"min_severity": _filters.severity_floor(level), "cutoff": _filters.cutoff_ns(since), "search": search}

        def resolve(models: Any) -> dict[str, Any]:
            wanted = None
            if prefix is not None:
                wanted = bytes.fromhex(prefix) if len(prefix) == 32 else _traces.resolve_trace_id(models, prefix)
            return {"trace_id": wanted, **fixed}

        return resolve

    def live(
        self,
        traces: bool = True,
        logs: bool = True,
        trace_id: str | None = None,
        level: str | int | None = None,
        search: str | None = None,
    ) -> LiveFeed:
        """A feed of what is stored from now on: each ``poll()`` gives the traces that gained spans and the
        new log records (those matching the log filters), each record once, also under PostgreSQL's
        out-of-order commits (see ``otel_lens.query._live``).

        Raises:
            ValueError: a filter does not parse.
            TraceNotFound, AmbiguousTraceId: a ``trace_id`` prefix matches no or several traces.
        """
        resolve = self._log_filters(trace_id, level, None, search)
        log_filters = self._reader.run(resolve)
        return LiveFeed(self._reader.run, self._lookups, traces=traces, logs=logs, log_filters=log_filters)

    def last_log_id(self) -> int:
        """The arrival id of the newest stored log record (0 when there is none)."""
        return self._reader.run(_logs.last_log_id)

    # -- aggregates -----------------------------------------------------------------------------

    def stats(self, since: Since = "24h", by: str = "name") -> list[StatRow]:
        """Count, error rate and nearest-rank p50/p95/p99 latency per span ``by`` ``"name"`` or ``"service"``.

        Raises:
            ValueError: ``since`` or ``by`` does not parse.
        """
        group = _filters.choose(by, _filters.STATS_GROUPS, "by")
        cutoff = _filters.cutoff_ns(since)
        return self._reader.run(lambda m: _aggregates.span_stats(m, group, cutoff))

    def usage(
        self,
        since: Since = "24h",
        by: str = "model",
        prices: PriceTable | str | os.PathLike[str] | None = None,
        bundled_prices: bool = True,
    ) -> list[UsageRow]:
        """GenAI token usage per ``by`` ``"model"``, ``"provider"`` or ``"service"``, with its cost.

        Models are priced by ``prices`` (a :class:`PriceTable` or its file) first, then, unless
        ``bundled_prices`` is False, by the genai-prices package when installed (``otel-lens[prices]``).
        The totals are kept per hour at export time, so the window is rounded down to a whole hour.

        Raises:
            ValueError: ``since``, ``by`` or the price table does not parse.
        """
        group = _filters.choose(by, _filters.USAGE_GROUPS, "by")
        cutoff = _filters.cutoff_ns(since)
        table = prices if isinstance(prices, PriceTable) or prices is None else PriceTable.load(prices)
        bundled = _bundled_prices.bundled_prices() if bundled_prices else None
        return self._reader.run(lambda m: _usage.usage_totals(m, group, cutoff, table, bundled))

    def usage_series(self, since: Since = "24h", by: str = "model") -> list[UsagePoint]:
        """GenAI tokens per hour and ``by`` ``"model"``, ``"provider"`` or ``"service"``, oldest first.

        Raises:
            ValueError: ``since`` or ``by`` does not parse.
        """
        group = _filters.choose(by, _filters.USAGE_GROUPS, "by")
        cutoff = _filters.cutoff_ns(since)
        return self._reader.run(lambda m: usage_series(m, group, cutoff))

    # -- sessions -------------------------------------------------------------------------------

    def sessions(
        self,
        kind: str | None = None,
        service: str | None = None,
        since: Since = None,
        until: Since = None,
        search: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> SessionPage:
        """Sessions and conversations, latest activity first, one page (``before``: a previous page's ``next``).

        Args:
            kind: ``"session"`` or ``"conversation"`` only.
            service: only those whose first trace's root service is this.
            since / until: only those active after / before (a duration ago, or a datetime).
            search: only those whose id contains this text.

        Raises:
            ValueError: a filter or the cursor does not parse.
        """
        checked = _filters.check_limit(limit)
        assert checked is not None
        arguments: dict[str, Any] = {
            "kind": None if kind is None else _filters.choose(kind, _sessions.KINDS, "kind"),
            "service": service,
            "since": _filters.cutoff_ns(since),
            "until": _until(until),
            "search": search or None,
            "before": _sessions.parse_cursor(before),
            "limit": checked,
        }
        return self._reader.run(lambda m: _sessions.list_sessions(m, **arguments))

    def session(
        self,
        session_id: str,
        kind: str | None = None,
        prices: PriceTable | str | os.PathLike[str] | None = None,
        bundled_prices: bool = True,
        messages: bool = True,
    ) -> SessionDetail:
        """One session or conversation (its id, or a unique start of it) with its traces as turns, oldest first.

        Each turn has its tokens, cost (priced like :meth:`usage`), latency, errors and, unless ``messages``
        is False, the question and answer its model calls carried.

        Raises:
            SessionNotFound: no session or conversation has this id (nor starts with it).
            AmbiguousSessionId: several start with it.
            ValueError: ``kind`` or the price table does not parse.
        """
        wanted_kind = None if kind is None else _filters.choose(kind, _sessions.KINDS, "kind")
        table = prices if isinstance(prices, PriceTable) or prices is None else PriceTable.load(prices)
        bundled = _bundled_prices.bundled_prices() if bundled_prices else None

        def work(models: Any) -> SessionDetail:
            summary = _sessions.resolve_session(models, session_id, wanted_kind)
            return session_detail(models, self._lookups, summary, table, bundled, messages)

        return self._reader.run(work)

    # -- retention ------------------------------------------------------------------------------

    def prune(self, max_age: str | float | None = None, max_size: str | int | None = None) -> PruneSummary:
        """Delete data older than ``max_age`` or beyond ``max_size`` now (the only method that writes).

        Unset limits come from the settings (``OTEL_EXPORTER_LENS_RETENTION`` / ``_MAX_SIZE``, else
        7d / 1GiB); ``0`` switches a limit off.

        Raises:
            SettingsError: ``max_age`` or ``max_size`` does not parse.
            StoreError: the database cannot be written.
        """
        if not self.location.backend().exists(self.location):
            raise StoreError(f"no otel-lens database at {self.location}")
        # Only the settings prune uses are read: a bad unrelated one (say the log format) must not stop it.
        environ = {name: os.environ[name] for name in _PRUNE_VARIABLES if name in os.environ}
        age: float | None = None
        if max_age is not None:  # any length is fine here (settings refuse ages past 100 years)
            number = unitless(max_age) if isinstance(max_age, str) else None
            if number is not None:  # "7" read as 7 seconds deletes what was meant to be kept 7 days
                raise SettingsError(f"max_age={max_age!r} has no unit: say which, {number}s, {number}h or {number}d")
            try:
                age = parse_duration(max_age)
            except ValueError as exc:
                raise SettingsError(f"max_age={max_age!r} is not valid ({exc}); use e.g. 7d") from None
        settings = Settings.load(environ, database=self.database, max_size=max_size, sweep_interval=0)
        # An age reaching past 1970 keeps everything; clamped here so the sweeper's cutoff cannot overflow.
        retention = min(settings.retention if age is None else age, time.time())
        with internal():  # opening (and migrating) is otel-lens's own SQL too
            writer = shared.acquire(settings)
        try:
            summary = writer.prune(retention, settings.max_size)
        finally:
            shared.release(writer)
        return summary
