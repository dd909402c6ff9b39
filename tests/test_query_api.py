"""The read API (open_store): filters, trace lookup by prefix, logs, JSON shapes of docs/REFERENCE.md, nearest-rank stats."""

from __future__ import annotations

import datetime as dt
import math
import random
import re

import pytest
from opentelemetry._logs import SeverityNumber

from otel_lens import open_store
from otel_lens.query import AmbiguousTraceId, TraceNotFound
from otel_lens.settings import Settings
from tests._read_helpers import MS, T0, ChosenIdGenerator, build_sample, recorder

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
EVER = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def test_traces_newest_first_with_each_filter(settings: Settings) -> None:
    """traces() lists newest first and narrows by service, root name, status, since and min_duration."""
    sample = build_sample(settings)
    with open_store(settings.database) as store:
        assert [t.trace_id for t in store.traces()] == [sample.chat_trace, sample.checkout_trace, sample.users_trace]
        assert [t.trace_id for t in store.traces(service="agent")] == [sample.chat_trace]
        assert [t.trace_id for t in store.traces(name="GET /users/{id}")] == [sample.users_trace]
        assert [t.trace_id for t in store.traces(status="error")] == [sample.checkout_trace]
        assert [t.trace_id for t in store.traces(status="ok")] == [sample.chat_trace, sample.users_trace]
        assert [t.trace_id for t in store.traces(min_duration="200ms")] == [sample.chat_trace, sample.checkout_trace]
        cutoff = dt.datetime.fromtimestamp((T0 + 500 * MS) / 1e9, tz=dt.timezone.utc)
        assert [t.trace_id for t in store.traces(since=cutoff)] == [sample.chat_trace, sample.checkout_trace]
        assert store.traces(since="1h") == []  # the sample is from 2024
        assert len(store.traces(limit=2)) == 2
        checkout = store.traces(status="error")[0]
        assert (checkout.root_name, checkout.service, checkout.span_count, checkout.error_count) == (
            "POST /checkout", "shop", 2, 2,
        )  # fmt: skip
        assert checkout.duration_ms == 250.0


def test_filters_are_checked_and_name_the_argument(settings: Settings) -> None:
    """A bad filter raises ValueError naming it; group-bys and statuses come from an allow-list."""
    build_sample(settings)
    with open_store(settings.database) as store:
        for call, word in (
            (lambda: store.traces(limit=0), "limit"),
            (lambda: store.traces(limit=True), "limit"),  # type: ignore[arg-type]
            (lambda: store.traces(since="soon"), "since"),
            (lambda: store.traces(min_duration="-1s"), "min_duration"),
            (lambda: store.traces(status="error' OR 1=1 --"), "status"),
            (lambda: store.stats(by="name; DROP TABLE lens_spans"), "by"),
            (lambda: store.usage(by="model) --"), "by"),
            (lambda: store.logs(level="loud"), "level"),
            (lambda: store.trace("xyz"), "trace id"),
        ):
            with pytest.raises(ValueError, match=word):
                call()


def test_trace_by_id_or_unique_prefix(settings: Settings) -> None:
    """trace() takes a whole id or a unique prefix; an unknown or ambiguous prefix is a clear LookupError."""
    sample = build_sample(settings)
    with recorder(
        settings, ChosenIdGenerator([0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x4BF92F3577B34DA6FFFF929D0E0E4736])
    ) as rec:
        rec.end(rec.span("svc", "first", 0, 1))
        rec.end(rec.span("svc", "second", 0, 1))
    with open_store(settings.database) as store:
        detail = store.trace(sample.checkout_trace)
        assert [s.name for s in detail.spans] == ["POST /checkout", "charge card"]
        assert [log.body for log in detail.logs] == [{"event": "payment failed", "code": 51}]
        assert store.trace(sample.checkout_trace.upper()).trace_id == sample.checkout_trace
        assert store.trace("4bf92f3577b34da6a").spans[0].name == "first"
        assert store.trace("0x4BF92F3577B34DA6F").spans[0].name == "second"
        with pytest.raises(AmbiguousTraceId, match="4bf92f3577b34da6 is ambiguous"):
            store.trace("4bf92f3577b34da6")
        with pytest.raises(AmbiguousTraceId, match="ambiguous"):
            store.trace(sample.checkout_trace[:31])
        with pytest.raises(TraceNotFound, match="ffff"):
            store.trace("ffff")
        with pytest.raises(TraceNotFound, match="no trace"):
            store.trace("f" * 32)


def test_logs_filters(settings: Settings) -> None:
    """logs() is newest first and filters by trace, minimum level, window and literal case-insensitive text."""
    sample = build_sample(settings)
    with open_store(settings.database) as store:
        bodies = [log.body for log in store.logs()]
        assert bodies[0] == "checkout queue drained" and bodies[-1] == "loading user 42" and len(bodies) == 4
        assert [log.body for log in store.logs(trace_id=sample.users_trace)] == ["slow render: 75ms", "loading user 42"]
        assert [log.severity_text for log in store.logs(level="warn")] == ["ERROR", "WARN"]
        assert [log.body for log in store.logs(search="RENDER")] == ["slow render: 75ms"]
        assert [log.body for log in store.logs(search="payment")] == [{"event": "payment failed", "code": 51}]
        assert store.logs(search="%") == [] and store.logs(search="_") == []
        assert len(store.logs(limit=1)) == 1
        newest = store.last_log_id()
        assert store.logs(after_id=newest) == []
        assert [log.id for log in store.logs(after_id=newest - 2)] == [newest - 1, newest]


def test_json_shapes_follow_the_contract(settings: Settings) -> None:
    """as_dict() of a trace summary, a span, a show and a log has exactly the keys and formats docs/REFERENCE.md lists."""
    sample = build_sample(settings)
    with open_store(settings.database) as store:
        summary = store.traces(status="error")[0].as_dict()
        assert set(summary) == {
            "trace_id",
            "root_name",
            "service",
            "start_time",
            "duration_ms",
            "span_count",
            "error_count",
            "state",
        }
        assert HEX32.match(summary["trace_id"]) and RFC3339.match(summary["start_time"])
        assert summary["start_time"] == "2024-01-01T00:00:01.000000Z"
        shown = store.trace(sample.checkout_trace).as_dict()
        assert set(shown) == {"trace_id", "spans", "logs"}
        root, child = shown["spans"]
        assert set(child) == {
            "trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano", "end_time_unix_nano",
            "duration_ms", "state", "status", "attributes", "events", "links", "resource", "scope",
        }  # fmt: skip
        assert root["parent_span_id"] is None and child["parent_span_id"] == root["span_id"]
        assert HEX16.match(child["span_id"]) and child["kind"] == "CLIENT" and root["kind"] == "SERVER"
        assert child["status"] == {"code": "ERROR", "message": "card declined"}
        assert child["end_time_unix_nano"] - child["start_time_unix_nano"] == 230 * MS
        assert child["duration_ms"] == 230.0
        assert child["attributes"] == {"rpc.system": "grpc", "rpc.method": "Charge"}
        assert child["events"][0]["name"] == "exception"
        assert child["resource"]["service.name"] == "shop"
        assert child["scope"] == {"name": "tests.read", "version": "1.0", "attributes": {}}
        log = shown["logs"][0]
        assert set(log) == {"timestamp", "severity_text", "severity_number", "body", "attributes", "trace_id",
                            "span_id", "service", "logger", "event_name"}  # fmt: skip
        assert log["event_name"] is None
        assert log["timestamp"] == "2024-01-01T00:00:01.239000Z" and log["span_id"] == child["span_id"]
        assert (log["severity_text"], log["severity_number"], log["service"], log["logger"]) == (
            "ERROR",
            17,
            "shop",
            "app",
        )


def _nearest_rank(values: list[int], p: int) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1] / 1e6


def test_stats_percentiles_match_a_direct_computation(settings: Settings) -> None:
    """stats() gives count, errors and nearest-rank p50/p95/p99 equal to computing them from the spans directly."""
    rng = random.Random(7)
    durations: dict[tuple[str, str], list[int]] = {}
    errors: dict[tuple[str, str], int] = {}
    with recorder(settings) as rec:
        for index in range(600):
            service = rng.choice(["api", "worker"])
            name = rng.choice(["GET /a", "GET /b", "job", "tick"])
            length_ms = rng.choice([rng.uniform(0.01, 5), rng.uniform(5, 400), rng.expovariate(1 / 30)])
            failed = rng.random() < 0.1
            span = rec.span(service, name, index, index + length_ms, error="boom" if failed else None)
            rec.end(span)
            length_ns = span.end_time - span.start_time  # type: ignore[operator]
            durations.setdefault((service, name), []).append(length_ns)
            errors[(service, name)] = errors.get((service, name), 0) + failed
    with open_store(settings.database) as store:
        # By name a row is (name, kind, service); by service, a service (all its kinds).
        for by, group_of in (("name", lambda key: key), ("service", lambda key: key[0])):
            expected: dict[object, list[int]] = {}
            failures: dict[object, int] = {}
            for key, values in durations.items():
                expected.setdefault(group_of(key), []).extend(values)
                failures[group_of(key)] = failures.get(group_of(key), 0) + errors[key]
            rows = store.stats(since=EVER, by=by)
            row_keys = [row.key if by == "service" else (row.service, row.key) for row in rows]
            assert set(row_keys) == set(expected) and len(row_keys) == len(expected)
            assert {row.kind for row in rows} == ({"INTERNAL"} if by == "name" else {None})
            for row, row_key in zip(rows, row_keys, strict=True):
                values = expected[row_key]
                assert row.count == len(values) and row.error_count == failures[row_key]
                # Read from the hourly histograms: within the stated bound of the exact value (±3.125 %).
                for got, p in zip((row.p50_ms, row.p95_ms, row.p99_ms), (50, 95, 99), strict=True):
                    assert got == pytest.approx(_nearest_rank(values, p), rel=1 / 32, abs=1e-6)
            columns = {by, "kind", "count", "error_count", "error_rate", "p50_ms", "p95_ms", "p99_ms"}
            columns |= {"exact", "histogram"}
            assert set(rows[0].as_dict()) == columns | ({"service"} if by == "name" else set())
        assert store.stats(since="1h") == []


def test_stats_of_a_single_span_and_the_window(settings: Settings) -> None:
    """With one span every percentile is its duration; spans before the window are left out."""
    with recorder(settings) as rec:
        rec.end(rec.span("svc", "old", 0, 10))
        rec.end(rec.span("svc", "new", 60_000, 60_007))
    with open_store(settings.database) as store:
        cutoff = dt.datetime.fromtimestamp((T0 + 30_000 * MS) / 1e9, tz=dt.timezone.utc)
        (row,) = store.stats(since=cutoff)
        assert (row.key, row.count, row.p50_ms, row.p95_ms, row.p99_ms) == ("new", 1, 7.0, 7.0, 7.0)


def test_logs_of_a_trace_without_stored_spans(settings: Settings) -> None:
    """A whole trace id finds its logs even when none of its spans were stored."""
    with recorder(settings) as rec:
        span = rec.span("svc", "never exported", 0, 1)
        rec.log("svc", span, 0.5, SeverityNumber.INFO, "orphan")
    trace_id = f"{span.get_span_context().trace_id:032x}"
    with open_store(settings.database) as store:
        assert [log.body for log in store.logs(trace_id=trace_id)] == ["orphan"]
        with pytest.raises(TraceNotFound):
            store.logs(trace_id=trace_id[:20])


def test_prune_through_the_read_api(settings: Settings) -> None:
    """Store.prune() deletes data past max_age on either backend and says how much; max_age=0 deletes nothing."""
    build_sample(settings)
    with open_store(settings.database) as store:
        kept = store.prune(max_age=0, max_size=0)
        assert (kept.traces_deleted, kept.spans_deleted, kept.logs_deleted) == (0, 0, 0)
        assert len(store.traces()) == 3
        summary = store.prune(max_age="1d", max_size=0)
        assert (summary.traces_deleted, summary.spans_deleted, summary.logs_deleted) == (3, 7, 4)
        assert store.traces() == [] and store.logs() == [] and store.usage(since=None) == []


def test_ambiguous_prefix_lists_all_matches_without_an_ellipsis(settings: Settings) -> None:
    """The ambiguous-prefix error ends in "…" only when it could not list every matching trace id."""
    build_sample(settings)  # three traces whose ids all start with 000
    with open_store(settings.database) as store:
        with pytest.raises(AmbiguousTraceId) as three:
            store.trace("000")
        message = str(three.value)
        assert "0" * 31 + "3" in message and "…" not in message
    with recorder(settings, ChosenIdGenerator([4])) as rec:
        rec.end(rec.span("shop", "fourth", 3000, 3001))
    with open_store(settings.database) as store, pytest.raises(AmbiguousTraceId, match="…"):
        store.trace("000")


def test_search_finds_quotes_backslashes_and_newlines_literally(settings: Settings) -> None:
    """Bodies are stored as JSON text; a search for `said "hi"`, `C:\\Users` or a tab still finds them."""
    with recorder(settings) as rec:
        rec.log("svc", None, 1, SeverityNumber.INFO, 'path C:\\Users\\x said "hi"\tthen left')
        rec.log("svc", None, 2, SeverityNumber.INFO, "plain text")
    with open_store(settings.database) as store:
        for text in ('said "hi"', "C:\\Users", 'hi"\tthen', "PATH c:\\users"):
            assert [log.body for log in store.logs(search=text)] == ['path C:\\Users\\x said "hi"\tthen left'], text
        assert [log.body for log in store.logs(search='"')] == ['path C:\\Users\\x said "hi"\tthen left']
