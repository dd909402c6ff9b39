"""The views ``otel-lens sql`` offers (``spans``, ``traces``, ``logs``, ``running_spans``), written once for SQLite and PostgreSQL.

The store keeps raw ids (bytes), integer nanoseconds and codes; the views show what a person types
queries against: hex ids, RFC 3339 UTC times (as ``results.rfc3339``), ``duration_ms``, names for
span kinds and status codes, service names and resource/scope attributes joined in, and the JSON
attribute text as it is stored (SQLite's ``json_extract``/``->>`` work on it; on PostgreSQL the
columns are ``json``, so ``attributes->>'http.route'`` works). The raw ``*_ns`` columns stay too,
for arithmetic and cheap ordering. Only schema-1 columns are read, so an older store reads as it is; the
exception is ``running_spans`` (schema 6's ``lens_running``/``lens_writers``, with ``state`` computed as the
read API does), which on a store without those tables says "no such table" when queried.
"""

from __future__ import annotations

import dataclasses

from otel_lens.query._running import MIN_STALE_NS

VIEW_NAMES = ("spans", "traces", "logs", "running_spans")
RUNNING_VIEW = "running_spans"  # over the schema-6 tables: PostgreSQL leaves it out of a store without them


@dataclasses.dataclass(frozen=True)
class _Dialect:
    hex: str  # a format with {0}: the lowercase hex of a blob, NULL stays NULL
    time: str  # a format with {0}: integer Unix nanoseconds → RFC 3339 UTC with microseconds
    json: str  # a format with {0}: stored JSON text → the dialect's JSON value
    json_text: str  # a format with {0}: stored JSON text → the string it holds when it is one, else the JSON
    ms: str  # a format with {0}: nanoseconds → milliseconds as a float
    attr: str  # a format with {0} (stored JSON text) and {1} (a key, dots and all): the value as text
    now_ns: str  # the statement's time as integer Unix nanoseconds (one value for the whole statement)
    greatest: str  # a format with {0} and {1}: the larger


SQLITE = _Dialect(
    hex="CASE WHEN {0} IS NULL THEN NULL ELSE lower(hex({0})) END",
    # substr, not printf: the SQL runner replaces printf()/format() with a bounded one (see _sql_printf.py).
    time="(strftime('%Y-%m-%dT%H:%M:%S', {0} / 1000000000, 'unixepoch') || '.' || "
    "substr('00000' || (({0} / 1000) % 1000000), -6) || 'Z')",
    json="{0}",
    json_text="CASE WHEN json_valid({0}) AND json_type({0}) = 'text' THEN json_extract({0}, '$') ELSE {0} END",
    ms="({0} / 1e6)",
    attr="json_extract({0}, '$.\"{1}\"')",
    # 'now' is fixed for the whole statement in SQLite; julianday's millisecond precision is plenty here.
    now_ns="CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER)",
    greatest="max({0}, {1})",
)
POSTGRES = _Dialect(
    hex="encode({0}, 'hex')",
    # Integer microseconds onto the epoch: exact, unlike to_timestamp(double) at nanosecond magnitudes.
    time="to_char(timestamp '1970-01-01' + ({0} / 1000) * interval '1 microsecond', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    # json, not jsonb: jsonb refuses the \\u0000 escape a stored string may hold, and would fail the whole query.
    json="({0})::json",
    json_text="CASE WHEN json_typeof(({0})::json) = 'string' THEN ({0})::json #>> '{{}}' ELSE {0} END",
    ms="({0}::float8 / 1e6)",
    attr="(({0})::json ->> '{1}')",
    now_ns="CAST(extract(epoch FROM statement_timestamp()) * 1000000000 AS BIGINT)",
    greatest="GREATEST({0}, {1})",
)

_KIND = "CASE {0} WHEN 0 THEN 'INTERNAL' WHEN 1 THEN 'SERVER' WHEN 2 THEN 'CLIENT' WHEN 3 THEN 'PRODUCER' " \
    "WHEN 4 THEN 'CONSUMER' ELSE CAST({0} AS TEXT) END"  # fmt: skip
_STATUS = "CASE {0} WHEN 1 THEN 'OK' WHEN 2 THEN 'ERROR' ELSE 'UNSET' END"


def view_bodies(d: _Dialect) -> dict[str, str]:
    """Each view's SELECT, by view name."""
    spans = f"""
SELECT {d.hex.format("t.trace_id")} AS trace_id, {d.hex.format("s.span_id")} AS span_id,
  {d.hex.format("s.parent_span_id")} AS parent_span_id, s.name AS name, {_KIND.format("s.kind")} AS kind,
  r.service AS service, {d.time.format("s.start_ns")} AS start_time,
  {d.time.format("(s.start_ns + s.duration_ns)")} AS end_time, s.start_ns AS start_ns,
  s.start_ns + s.duration_ns AS end_ns, {d.ms.format("s.duration_ns")} AS duration_ms,
  {_STATUS.format("s.status_code")} AS status_code, s.status_message AS status_message,
  {d.json.format("COALESCE(s.attributes, '{}')")} AS attributes, {d.json.format("COALESCE(s.events, '[]')")} AS events,
  {d.json.format("COALESCE(s.links, '[]')")} AS links,
  {d.json.format("COALESCE(r.attributes, '{}')")} AS resource_attributes,
  sc.name AS scope_name, sc.version AS scope_version,
  {d.attr.format("s.attributes", "http.route")} AS http_route,
  COALESCE({d.attr.format("s.attributes", "gen_ai.response.model")},
           {d.attr.format("s.attributes", "gen_ai.request.model")}) AS gen_ai_model,
  CAST(COALESCE({d.attr.format("s.attributes", "gen_ai.usage.input_tokens")},
                {d.attr.format("s.attributes", "gen_ai.usage.prompt_tokens")}) AS BIGINT) AS input_tokens,
  CAST(COALESCE({d.attr.format("s.attributes", "gen_ai.usage.output_tokens")},
                {d.attr.format("s.attributes", "gen_ai.usage.completion_tokens")}) AS BIGINT) AS output_tokens
FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row
LEFT JOIN lens_resources r ON r.id = s.resource_id LEFT JOIN lens_scopes sc ON sc.id = s.scope_id"""
    traces = f"""
SELECT {d.hex.format("t.trace_id")} AS trace_id, t.root_name AS root_name, t.service AS service,
  {d.time.format("t.start_ns")} AS start_time, {d.time.format("t.end_ns")} AS end_time,
  t.start_ns AS start_ns, t.end_ns AS end_ns, {d.ms.format("(t.end_ns - t.start_ns)")} AS duration_ms,
  t.span_count AS span_count, t.error_count AS error_count
FROM lens_traces t"""
    logs = f"""
SELECT {d.time.format("l.timestamp_ns")} AS timestamp, l.timestamp_ns AS timestamp_ns,
  l.severity_text AS severity_text, l.severity_number AS severity_number, {d.json_text.format("l.body")} AS body,
  {d.json.format("COALESCE(l.attributes, '{}')")} AS attributes, {d.hex.format("l.trace_id")} AS trace_id,
  {d.hex.format("l.span_id")} AS span_id, r.service AS service, sc.name AS logger, l.event_name AS event_name,
  {d.json.format("COALESCE(r.attributes, '{}')")} AS resource_attributes
FROM lens_logs l LEFT JOIN lens_resources r ON r.id = l.resource_id LEFT JOIN lens_scopes sc ON sc.id = l.scope_id"""
    # A running row's state as the read API decides it (otel_lens.query._running): abandoned once its writer's
    # beat is older than max(3 × its interval, 10 s), or the writer stopped or is gone; its "so far" end is
    # the statement's time while running, the last beat once abandoned.
    stale = (
        f"w.id IS NULL OR w.stopped = 1 OR {d.now_ns} - w.beat_ns > "
        f"{d.greatest.format('3 * w.interval_ns', MIN_STALE_NS)}"
    )
    so_far = f"(CASE WHEN {stale} THEN COALESCE(w.beat_ns, s.start_ns) ELSE {d.now_ns} END)"
    running = f"""
SELECT {d.hex.format("t.trace_id")} AS trace_id, {d.hex.format("s.span_id")} AS span_id,
  {d.hex.format("s.parent_span_id")} AS parent_span_id, s.name AS name, {_KIND.format("s.kind")} AS kind,
  r.service AS service, CASE WHEN {stale} THEN 'abandoned' ELSE 'running' END AS state,
  {d.time.format("s.start_ns")} AS start_time, s.start_ns AS start_ns,
  {d.ms.format(f"({so_far} - s.start_ns)")} AS duration_so_far_ms,
  {d.time.format("w.beat_ns")} AS last_beat_time, w.host AS host, w.pid AS pid,
  {d.json.format("COALESCE(s.attributes, '{}')")} AS attributes,
  {d.json.format("COALESCE(r.attributes, '{}')")} AS resource_attributes, sc.name AS scope_name
FROM lens_running s JOIN lens_traces t ON t.id = s.trace_row LEFT JOIN lens_writers w ON w.id = s.writer_id
LEFT JOIN lens_resources r ON r.id = s.resource_id LEFT JOIN lens_scopes sc ON sc.id = s.scope_id"""
    return {"spans": spans, "traces": traces, "logs": logs, RUNNING_VIEW: running}


def sqlite_create_statements() -> list[str]:
    """``CREATE TEMP VIEW`` statements: the views live in the read connection's TEMP schema, never in the file."""
    return [f"CREATE TEMP VIEW IF NOT EXISTS {name} AS {body}" for name, body in view_bodies(SQLITE).items()]


def postgres_with_clause(running: bool = True) -> str:
    """The views as a ``WITH`` clause put before the user's query (a read-only transaction may create nothing);
    ``running``: the store has the running-span tables (else ``running_spans`` is left out, as a WITH clause
    naming a missing table would fail every query)."""
    views = view_bodies(POSTGRES)
    if not running:
        del views[RUNNING_VIEW]
    return "WITH " + ", ".join(f"{name} AS ({body})" for name, body in views.items())
