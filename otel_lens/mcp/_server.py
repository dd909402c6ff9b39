"""``otel-lens mcp``: an MCP server (official ``mcp`` SDK, stdio) whose tools read one otel-lens store.

stdout belongs to the protocol. The SDK's stdio transport serves the wire from a private duplicate
of fd 1 and points fd 1 itself at stderr, so a stray ``print`` or C-level write lands on stderr;
nothing here writes to either. Tool calls run in worker threads (the SDK runs sync tools so); the
store's read connection is not shared across threads at once, so calls take turns on one lock.
Every failure is a tool error (``isError``) with a one-line reason an agent can act on, never a crash.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from otel_lens.mcp import _tools
from otel_lens.mcp._arguments import StrictServer
from otel_lens.query import DatabaseNotReady, Store, open_store
from otel_lens.store.errors import StoreError

_T = TypeVar("_T")
INSTRUCTIONS = """Reads the traces, spans and logs an app stored with otel-lens (OpenTelemetry). Read-only.
Start with list_traces (errors_only=true for failures; the newest trace is the last request), then
get_trace(trace_id) for its spans, errors (with exception events) and logs. latency_stats with
compare_previous=true says what got slower; token_usage (optionally for one session_id) what GenAI calls
cost; diff_traces compares two runs; run_sql answers anything else over the views spans, traces, logs.
Times: durations like 90s, 30m, 24h, 7d. Trace ids: the 32 hex digits, or a unique prefix."""
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Since = Annotated[str, Field(description="a window back from now: 90s, 30m, 24h, 7d")]
OptionalSince = Annotated[str | None, Field(description="only within this window back from now (90s, 30m, 24h, 7d)")]
TraceId = Annotated[str, Field(description="a trace id (32 hex digits) or a unique prefix of one", min_length=1)]


class _Stores:
    """The store the tools read, opened on first use (the app may not have stored anything yet)."""

    def __init__(self, database: str | None) -> None:
        self.database = database
        self._store: Store | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def use(self) -> Iterator[Store]:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.database)
            yield self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def build_server(database: str | None = None) -> tuple[MCPServer[Any], Callable[[], None]]:
    """The server and a function closing its store; ``database`` as ``open_store`` takes it."""
    stores = _Stores(database)
    server: MCPServer[Any] = StrictServer(
        "otel-lens", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING"
    )

    def call(work: Callable[[Store], _T]) -> _T:
        try:
            with stores.use() as store:
                return work(store)
        except DatabaseNotReady as exc:
            raise ToolError(f"{_one_line(exc)}; run the app with otel-lens first, then call again") from None
        except (StoreError, ValueError, LookupError) as exc:
            raise ToolError(_one_line(exc)) from None
        except Exception as exc:  # never a crash of the server: the agent gets what failed
            raise ToolError(f"unexpected {type(exc).__name__}: {_one_line(exc)}") from None

    @server.tool(annotations=_READ_ONLY)
    def list_traces(
        errors_only: Annotated[bool, Field(description="only traces where some span failed")] = False,
        since: OptionalSince = None,
        service: Annotated[str | None, Field(description="only traces whose root span is of this service")] = None,
        name: Annotated[str | None, Field(description="only traces whose root span has exactly this name")] = None,
        min_duration: Annotated[str | None, Field(description="only traces at least this long: 250ms, 2s")] = None,
        limit: Annotated[int, Field(description="at most this many", ge=1, le=200)] = 20,
    ) -> dict[str, Any]:
        """Recent traces, newest first: id, root span name, service, start time, duration, span and error counts."""
        return call(lambda s: _tools.list_traces(s, service, name, errors_only, since, min_duration, limit))

    @server.tool(annotations=_READ_ONLY)
    def get_trace(
        trace_id: TraceId,
        max_spans: Annotated[
            int, Field(description="spans to return at most (failed ones always)", ge=1, le=1000)
        ] = 100,
        max_logs: Annotated[int, Field(description="log records to return at most (errors always)", ge=0, le=500)] = 50,
    ) -> dict[str, Any]:
        """One trace: its failed spans with their exceptions first ("errors"), then spans (offset and duration in ms,
        status, attributes) and the trace's log records. Long values are cut with a marker."""
        return call(lambda s: _tools.get_trace(s, trace_id, max_spans, max_logs))

    @server.tool(annotations=_READ_ONLY)
    def search_logs(
        text: Annotated[str | None, Field(description="only records whose message or attributes contain this")] = None,
        level: Annotated[
            Literal["debug", "info", "warn", "error", "fatal"] | None, Field(description="this level and above")
        ] = None,
        trace_id: Annotated[str | None, Field(description="only records of this trace (id or unique prefix)")] = None,
        since: OptionalSince = None,
        limit: Annotated[int, Field(description="at most this many, newest first", ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Log records, newest first, with their trace and span ids (case-insensitive literal text search)."""
        return call(lambda s: _tools.search_logs(s, text, level, trace_id, since, limit))

    @server.tool(annotations=_READ_ONLY)
    def latency_stats(
        since: Since = "24h",
        by: Annotated[Literal["name", "service"], Field(description="group spans by name or by service")] = "name",
        server_only: Annotated[bool, Field(description="only SERVER spans: the app's endpoints")] = False,
        compare_previous: Annotated[
            bool, Field(description="compare with the window of the same length before it (what got slower)")
        ] = False,
        limit: Annotated[int, Field(description="rows at most", ge=1, le=200)] = 30,
    ) -> dict[str, Any]:
        """Latency per span name or service: count, errors, p50/p95/p99 ms; with compare_previous, the average now
        against the window before, largest slow-down first ("which endpoint got slower since yesterday":
        since=24h, server_only=true, compare_previous=true)."""
        return call(lambda s: _tools.latency_stats(s, since, by, server_only, compare_previous, limit))

    @server.tool(annotations=_READ_ONLY)
    def token_usage(
        since: Since = "24h",
        by: Annotated[Literal["model", "provider", "service"], Field(description="how to group the totals")] = "model",
        session_id: Annotated[
            str | None, Field(description="only this session (session.id) or conversation (gen_ai.conversation.id)")
        ] = None,
    ) -> dict[str, Any]:
        """GenAI tokens (and cost where a price is known) over a window, per model/provider/service; or the
        tokens one session or conversation used, per model and with its traces."""
        return call(lambda s: _tools.token_usage(s, since, by, session_id))

    @server.tool(annotations=_READ_ONLY)
    def list_sessions(
        since: Since = "7d",
        limit: Annotated[int, Field(description="sessions at most, latest first", ge=1, le=200)] = 20,
    ) -> dict[str, Any]:
        """Sessions and GenAI conversations (spans carrying session.id or gen_ai.conversation.id): trace count,
        start, end, duration, errors, input and output tokens."""
        return call(lambda s: _tools.list_sessions(s, since, limit))

    @server.tool(annotations=_READ_ONLY)
    def run_sql(
        query: Annotated[
            str,
            Field(
                description="one read-only SELECT over the views spans, traces, logs (hex ids, RFC 3339 times, "
                "duration_ms, JSON attributes; on SQLite read an attribute with "
                "json_extract(attributes, '$.\"http.route\"'); spans also has http_route, gen_ai_model, "
                "input_tokens, output_tokens)",
                min_length=1,
            ),
        ],
        limit: Annotated[int, Field(description="rows at most (the rest are counted)", ge=1, le=1000)] = 100,
        timeout_s: Annotated[float, Field(description="stop the query after this many seconds", gt=0, le=60)] = 5.0,
    ) -> dict[str, Any]:
        """Read-only SQL: anything that would write, attach, load or change a PRAGMA is refused."""
        return call(lambda s: _tools.sql(s, query, limit, timeout_s))

    @server.tool(annotations=_READ_ONLY)
    def diff_traces(
        trace_a: TraceId,
        trace_b: Annotated[str | None, Field(description="the trace to compare with (id or unique prefix)")] = None,
        previous: Annotated[
            bool, Field(description="instead of trace_b: compare with the latest earlier trace of the same root")
        ] = False,
        limit: Annotated[int, Field(description="rows per list at most", ge=1, le=200)] = 20,
    ) -> dict[str, Any]:
        """Two traces aligned span by span (by name path): spans added/removed, duration deltas (largest first),
        status, attribute and GenAI token changes."""
        return call(lambda s: _tools.diff(s, trace_a, trace_b, previous, limit))

    return server, stores.close


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("otel-lens")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def serve_stdio(database: str | None = None) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    server, close = build_server(database)
    try:
        server.run("stdio")
    finally:
        close()
