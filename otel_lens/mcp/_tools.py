"""What each MCP tool returns: plain functions over a :class:`~otel_lens.query.Store`, bounded and compact.

They know nothing of the protocol (``_server.py`` registers them), so they are tested directly too.
Every list is bounded and says how to see more; every long value is cut with a marker.
"""

from __future__ import annotations

import time
from typing import Any

from otel_lens.mcp._compact import bounded, compact, cut_text
from otel_lens.query import LogRecord, SpanRecord, Store, cutoff_ns, diff_traces, previous_trace, run_sql

_ERROR = 17  # the OTel severity number of ERROR
_TRACE_HINT = "raise limit, or narrow with since/service/name/errors_only"
# Matches past the limit read only to count them (the read API has no filtered count): bounded work, and past
# it the answer says "more than N" (enough to tell an agent to narrow). Reading them costs ~0.05 ms a trace
# rollup and ~0.15 ms a log record (its whole body is decoded), so logs count fewer.
_COUNTED_TRACES = 200
_COUNTED_LOGS = 100


def _status(span: SpanRecord) -> str:
    return f"ERROR: {span.status_message}" if span.status_code == "ERROR" and span.status_message else span.status_code


def _span(span: SpanRecord, trace_start: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "kind": span.kind,
        "service": span.service,
        "start_offset_ms": round((span.start_ns - trace_start) / 1e6, 3),
        "duration_ms": round(span.duration_ms, 3),
        "status": cut_text(_status(span)),
        "attributes": compact(span.attributes),
    }
    if span.events:
        # Exceptions first: they say why a span failed.
        events = sorted(span.events, key=lambda e: (e.name != "exception", e.time_ns))
        out["events"] = compact([{"name": e.name, "attributes": e.attributes} for e in events])
    return out


def _log(record: LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = compact({
        "timestamp": record.as_dict()["timestamp"],
        "severity": record.severity_text,
        "body": record.body,
        "attributes": record.attributes,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "service": record.service,
    })  # fmt: skip
    return out


def list_traces(
    store: Store, service: str | None, name: str | None, errors_only: bool, since: str | None,
    min_duration: str | None, limit: int,
) -> dict[str, Any]:  # fmt: skip
    found = store.traces(service=service, name=name, status="error" if errors_only else None, since=since,
                         min_duration=min_duration, limit=limit + _COUNTED_TRACES + 1)  # fmt: skip
    shown = [t.as_dict() for t in found[:limit]]
    return bounded(shown, limit, "traces", _TRACE_HINT, len(found), _COUNTED_TRACES)


def get_trace(store: Store, trace_id: str, max_spans: int, max_logs: int) -> dict[str, Any]:
    detail = store.trace(trace_id)
    start = detail.summary.start_ns
    failed = [s for s in detail.spans if s.status_code == "ERROR"]
    # Failed spans always make the cut (they are what is asked about); the rest in start order.
    chosen = {s.span_id for s in failed[:max_spans]}
    for span in detail.spans:
        if len(chosen) >= max_spans:
            break
        chosen.add(span.span_id)
    spans = [_span(s, start) for s in detail.spans if s.span_id in chosen]
    # Error records always make the cut too; shown in time order.
    ranked = sorted(range(len(detail.logs)), key=lambda i: ((detail.logs[i].severity_number or 0) < _ERROR, i))
    logs = [detail.logs[i] for i in sorted(ranked[:max_logs])]
    out: dict[str, Any] = {"trace": detail.summary.as_dict()}
    if failed:
        out["errors"] = [
            {"span_id": s.span_id, "name": s.name, "status": cut_text(_status(s)),
             "exceptions": compact([e.attributes for e in s.events if e.name == "exception"])}
            for s in failed[:10]
        ]  # fmt: skip
    out["spans"] = spans
    if len(detail.spans) > len(spans):
        out["more_spans"] = f"{len(detail.spans) - len(spans)} more spans not shown; raise max_spans"
    out |= {"logs": [_log(r) for r in logs]}
    if len(detail.logs) > max_logs:
        out["more_logs"] = (
            f"{len(detail.logs) - max_logs} more log records; raise max_logs or use search_logs(trace_id=…)"
        )
    return out


def search_logs(
    store: Store, text: str | None, level: str | None, trace_id: str | None, since: str | None, limit: int
) -> dict[str, Any]:
    found = store.logs(trace_id=trace_id, level=level, since=since, search=text, limit=limit + _COUNTED_LOGS + 1)
    hint = "raise limit, or narrow with since/level/text"
    return bounded([_log(r) for r in found[:limit]], limit, "logs", hint, len(found), _COUNTED_LOGS)


def latency_stats(
    store: Store, since: str, by: str, server_only: bool, compare_previous: bool, limit: int
) -> dict[str, Any]:
    if not compare_previous:
        stats = [r for r in store.stats(since=since, by=by) if not server_only or r.kind == "SERVER"]
        stats.sort(key=lambda r: -r.count)
        return bounded([r.as_dict() for r in stats], limit, "stats", "raise limit or narrow since")
    now = time.time_ns()
    window_start = cutoff_ns(since, now) or 0
    baseline_start = max(window_start - (now - window_start), 0)
    group = "name" if by == "name" else "service"
    kind = " AND kind = 'SERVER'" if server_only else ""
    query = f"""SELECT {group} AS grp,
      SUM(CASE WHEN start_ns >= {window_start} THEN 1 ELSE 0 END) AS count_now,
      AVG(CASE WHEN start_ns >= {window_start} THEN duration_ms END) AS avg_ms_now,
      MAX(CASE WHEN start_ns >= {window_start} THEN duration_ms END) AS max_ms_now,
      SUM(CASE WHEN start_ns < {window_start} THEN 1 ELSE 0 END) AS count_before,
      AVG(CASE WHEN start_ns < {window_start} THEN duration_ms END) AS avg_ms_before,
      MAX(CASE WHEN start_ns < {window_start} THEN duration_ms END) AS max_ms_before,
      SUM(CASE WHEN start_ns >= {window_start} AND status_code = 'ERROR' THEN 1 ELSE 0 END) AS errors_now,
      SUM(CASE WHEN start_ns < {window_start} AND status_code = 'ERROR' THEN 1 ELSE 0 END) AS errors_before
    FROM spans WHERE start_ns >= {baseline_start}{kind} GROUP BY {group}"""
    result = run_sql(store, query, timeout=10.0, limit=10_000)
    rows: list[dict[str, Any]] = []
    for grp, n_now, avg_now, max_now, n_before, avg_before, max_before, e_now, e_before in result.rows:
        ratio = avg_now / avg_before if avg_now is not None and avg_before else None
        rows.append({
            by: grp, "count_now": n_now, "avg_ms_now": avg_now, "max_ms_now": max_now, "errors_now": e_now,
            "count_before": n_before, "avg_ms_before": avg_before, "max_ms_before": max_before,
            "errors_before": e_before, "avg_ratio": ratio,
        })  # fmt: skip
    rows.sort(key=lambda r: (r["avg_ratio"] is None, -(r["avg_ratio"] or 0)))
    out = {"window": f"last {since} vs the {since} before it", "slowest_change_first": True}
    return out | bounded(rows, limit, "stats", "raise limit")


def token_usage(store: Store, since: str, by: str, session_id: str | None) -> dict[str, Any]:
    if session_id is None:
        rows = store.usage(since=since, by=by)
        total_in = sum(r.input_tokens for r in rows)
        total_out = sum(r.output_tokens for r in rows)
        costs = [r.cost for r in rows]
        cost = sum(c for c in costs if c is not None) if rows and None not in costs else None
        return {"since": since, "input_tokens": total_in, "output_tokens": total_out,
                "total_tokens": total_in + total_out, "cost": cost} | bounded(
            [r.as_dict() for r in rows], 50, "usage", "narrow since")  # fmt: skip
    detail = store.session(session_id, messages=False)  # SessionNotFound: a one-line tool error
    by_model: dict[str, list[int]] = {}
    for turn in detail.turns:
        for model, inp, outp in turn.by_model:
            entry = by_model.setdefault(model, [0, 0])
            entry[0] += inp
            entry[1] += outp
    summary = detail.summary
    out: dict[str, Any] = {
        "session_id": summary.session_id, "kind": summary.kind,
        "note": "a session's totals cover all its stored traces (since does not narrow them)",
        "input_tokens": summary.input_tokens, "output_tokens": summary.output_tokens,
        "total_tokens": summary.input_tokens + summary.output_tokens, "cost": detail.cost,
        "by_model": [{"model": m, "input_tokens": i, "output_tokens": o} for m, (i, o) in sorted(by_model.items())],
    }  # fmt: skip
    turns = [{key: turn.as_dict()[key] for key in _TURN_KEYS} for turn in detail.turns]
    return out | bounded(turns, 20, "traces", "see otel-lens session ID for every turn")


_TURN_KEYS = ("trace_id", "root_name", "start_time", "duration_ms", "error_count", "input_tokens", "output_tokens")
_SESSIONS_COUNTED = 200


def list_sessions(store: Store, since: str, limit: int) -> dict[str, Any]:
    page = store.sessions(since=since, limit=limit + _SESSIONS_COUNTED + 1)
    rows = [session.as_dict() for session in page.sessions]
    return bounded(rows, limit, "sessions", "raise limit or narrow since", counted=_SESSIONS_COUNTED)


def sql(store: Store, query: str, limit: int, timeout_s: float) -> dict[str, Any]:
    result = run_sql(store, query, timeout=timeout_s, limit=limit)
    out: dict[str, Any] = {"columns": result.columns, "rows": [compact(list(r)) for r in result.rows]}
    notice = result.more_notice()
    if notice:
        out["more"] = notice
    return out


def diff(store: Store, trace_a: str, trace_b: str | None, previous: bool, limit: int) -> dict[str, Any]:
    if previous == (trace_b is not None):
        raise ValueError("give trace_b, or previous=true to compare trace_a with the trace before it (not both)")
    if previous:
        trace_a, trace_b = previous_trace(store, trace_a), trace_a
    assert trace_b is not None
    whole = diff_traces(store, trace_a, trace_b).as_dict()
    out: dict[str, Any] = {k: whole[k] for k in ("a", "b", "duration_ms", "tokens", "status_changes",
                                                 "attribute_changes")}  # fmt: skip
    moved = [m for m in whole["matched"] if m["delta_ms"] or m["status_changed"] or m["attributes"] or m["tokens"]]
    for key, items in (("changed", moved), ("added", whole["added"]), ("removed", whole["removed"])):
        out[key] = compact(items[:limit])
        if len(items) > limit:
            out[f"more_{key}"] = f"{len(items) - limit} more; raise limit"
    out["unchanged"] = len(whole["matched"]) - len(moved)
    return out
