"""The partial first hour of a ``stats`` window (the "edge", read from the spans and grouped in SQL): counts,
errors and the extremes stay exact whichever rollup level holds the rest of a group (hour, 6-hour, day), every
duration comes back exactly (0, 1 ns, past 2**53, 2**62), re-exports count once, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_lens import open_store
from otel_lens.export.encode import encode_resource, encode_scope
from otel_lens.query import _aggregates
from otel_lens.settings import Settings
from otel_lens.store import histogram
from otel_lens.store.rows import LATENCY_LEVELS_NS, EncodedBatch
from otel_lens.store.shared import acquire, release
from tests._stats_helpers import HOUR_NS, T0, Span, nearest_rank, span_rows, write
from tests.test_stats_histogram import DISTRIBUTIONS

QUARTER_NS, DAY_NS = LATENCY_LEVELS_NS
MINUTE_NS = 60 * 10**9
CUTOFF = T0 + DAY_NS + 3 * HOUR_NS + 17 * MINUTE_NS  # the edge is [03:17, 04:00) of the second day
EDGE = T0 + DAY_NS + 3 * HOUR_NS + 30 * MINUTE_NS  # a start inside the edge
BEFORE = T0 + DAY_NS + 3 * HOUR_NS + 5 * MINUTE_NS  # same hour as the edge, before the window
HUGE = 2**62 + 1  # not a float: a duration that went through one comes back changed


def _since(cutoff: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(cutoff / 1e9, tz=dt.timezone.utc)


def _pairs() -> list[Span]:
    """Groups of two spans, one in the edge and one in a later hour, 6-hour or day row (either holding the
    group's shortest), plus spans of the edge's hour before the window (shorter and longer than any)."""
    hour, quarter, day = (
        T0 + DAY_NS + 4 * HOUR_NS + MINUTE_NS,
        T0 + DAY_NS + 13 * HOUR_NS,
        T0 + 2 * DAY_NS + 5 * HOUR_NS,
    )
    spans: list[Span] = [
        ("svc", "hour", 1, EDGE, 1_000, False),
        ("svc", "hour", 1, hour, 5_000_000, True),
        ("svc", "quarter", 1, EDGE + 1, 7, False),
        ("svc", "quarter", 1, quarter, 2**40, False),
        ("svc", "day", 1, CUTOFF + HOUR_NS - CUTOFF % HOUR_NS - 1, 0, True),  # the edge's last nanosecond
        ("svc", "day", 1, day, HUGE, False),
        ("svc", "edge-longest", 2, EDGE + 2, 10**9, True),
        ("svc", "edge-longest", 2, day + 1, 123, False),
    ]
    for name in ("hour", "quarter", "day", "edge-longest"):  # left out: before the window, same hour
        spans += [("svc", name, 1 if name != "edge-longest" else 2, BEFORE + i, value, True) for i, value in
                  enumerate((1, 2**61))]  # fmt: skip
    return spans


def test_the_extremes_and_counts_stay_exact_whichever_level_holds_the_rest(settings: Settings) -> None:
    """A group with one span in the window's partial first hour and one in an hourly, 6-hour or day row: its
    count, errors and both extremes are exact (p50 of two spans is the shorter, p95/p99 the longer), spans of
    that hour before the window are left out, and the grouped edge is read the same way by service."""
    spans = _pairs()
    write(settings, spans)
    inside = [span for span in spans if span[3] >= CUTOFF]
    with open_store(settings.database) as store:
        rows = {row.key: row for row in store.stats(since=_since(CUTOFF))}
        (service,) = store.stats(since=_since(CUTOFF), by="service")
    assert set(rows) == {"hour", "quarter", "day", "edge-longest"}
    for name, row in rows.items():
        values = sorted(span[4] for span in inside if span[1] == name)
        errors = sum(span[5] for span in inside if span[1] == name)
        assert (row.count, row.error_count, row.exact) == (2, errors, False), name
        assert (row.p50_ms, row.p95_ms, row.p99_ms) == (values[0] / 1e6, values[1] / 1e6, values[1] / 1e6), name
        assert sum(count for _, _, count in row.histogram) == 2
    assert (service.count, service.error_count) == (len(inside), sum(span[5] for span in inside))
    assert (service.p99_ms, service.kind) == (HUGE / 1e6, None)


def test_every_edge_duration_comes_back_exactly(settings: Settings) -> None:
    """The edge's SQL grouping hands back each span's duration as stored (0, 1 ns, 31/32 ns at the exact-bin
    edge, past 2**53, 2**62 + 1, repeated ones as often as they occur), with exact bounds and error counts, per name/kind/service and per service;
    its histogram holds the bins :func:`histogram.bin_of` gives each duration."""
    odd = [0, 1, 31, 32, 33, 2**53 + 1, HUGE, 999_999_999, 10**12 + 7, 1, 1, HUGE]  # repeats count each time
    spans: list[Span] = [("a", "op", 1, EDGE + i, value, i % 3 == 0) for i, value in enumerate(odd)]
    spans += [("b", "op", 1, EDGE + 100 + i, value, False) for i, value in enumerate(odd[::-1])]
    spans += [("a", "other", 3, EDGE + 200, 5, True), ("a", "op", 1, BEFORE, 4, True)]
    write(settings, spans)
    before = CUTOFF + HOUR_NS - CUTOFF % HOUR_NS
    with open_store(settings.database) as store:
        by_name = store._reader.run(lambda m: _aggregates._scan(m, "name", CUTOFF, before))
        by_service = store._reader.run(lambda m: _aggregates._scan(m, "service", CUTOFF, before))
        (row,) = (row for row in store.stats(since=_since(CUTOFF)) if row.key == "op" and row.service == "b")
    inside = [span for span in spans if span[3] >= CUTOFF]
    for tallies, key in ((by_name, lambda s: (s[1], s[2], s[0])), (by_service, lambda s: (s[0], None, s[0]))):
        expected: dict[object, list[Span]] = {}
        for span in inside:
            expected.setdefault(key(span), []).append(span)
        assert set(tallies) == set(expected)
        for group, tally in tallies.items():
            values = sorted(span[4] for span in expected[group])
            assert (sorted(tally.exact), tally.low, tally.high) == (values, values[0], values[-1]), group
            assert (tally.count, tally.errors) == (len(values), sum(span[5] for span in expected[group]))
    assert row.exact and row.count == len(odd)
    assert row.distribution == histogram.dense_from_counts(
        {index: sum(1 for value in odd if histogram.bin_of(value) == index) for index in map(histogram.bin_of, odd)}
    )


def test_processes_of_one_service_merge_in_the_edge(settings: Settings) -> None:
    """Spans of one service from two processes (two resources) and of a resource without a service name, all in
    the edge: by name and by service they are counted under the service, once per group, durations exact."""
    resources = [encode_resource(Resource.create({"service.name": "api", "host.name": h})) for h in ("a", "b")]
    resources.append(encode_resource(Resource({"host.name": "c"})))  # no service.name: stored without one
    spans: list[Span] = [("api", "GET /", 2, EDGE + i, 1_000 + i, i == 3) for i in range(6)]
    rows = span_rows(spans, ["api"])
    for i, row in enumerate(rows):
        row[14] = i % 2  # alternate processes
    rows += span_rows([("", "orphan", 1, EDGE + 99, 77, False)], [""])
    rows[-1][14] = 2
    store = acquire(settings)
    try:
        store.write_spans(EncodedBatch(rows, resources, [encode_scope(InstrumentationScope("t", "1"))]), timeout=120)
    finally:
        release(store)
    with open_store(settings.database) as reader:
        by_name = {(row.service, row.key): row for row in reader.stats(since=_since(CUTOFF))}
        by_service = {row.key: row for row in reader.stats(since=_since(CUTOFF), by="service")}
    assert set(by_name) == {("api", "GET /"), ("", "orphan")} and set(by_service) == {"api", ""}
    for row in (by_name[("api", "GET /")], by_service["api"]):
        assert (row.count, row.error_count, row.exact) == (6, 1, True)
        assert (row.p50_ms, row.p99_ms) == (1_002 / 1e6, 1_005 / 1e6)
    assert (by_service[""].count, by_service[""].p50_ms) == (1, 77 / 1e6)


def test_windows_cutting_an_hour_keep_the_bound_and_count_reexports_once(settings: Settings) -> None:
    """Thousands of spans of every distribution over three days, exported twice: windows starting inside an
    hour (before a 6-hour edge, before midnight, in the middle of the afternoon) count every span once and keep
    p50/p95/p99 within ±3.125 % of the exact nearest-rank values."""
    rng = random.Random(5)
    spans: list[Span] = []
    for name, draw in DISTRIBUTIONS.items():
        for _ in range(300):
            spans.append(("svc", name, 1, T0 + rng.randrange(0, 3 * DAY_NS), draw(rng), rng.random() < 0.05))
    assert write(settings, spans, batch=700) == len(spans)
    assert write(settings, spans[::-1], batch=500) == 0  # the same spans again, batched differently
    cutoffs = [
        T0 + QUARTER_NS - HOUR_NS + rng.randrange(1, HOUR_NS),  # the edge ends on a 6-hour edge
        T0 + DAY_NS - HOUR_NS + rng.randrange(1, HOUR_NS),  # the edge ends at midnight: day rows follow
        T0 + DAY_NS + 14 * HOUR_NS + rng.randrange(1, HOUR_NS),  # hours, a 6-hour row, then a day
    ]
    with open_store(settings.database) as store:
        for cutoff in cutoffs:
            for row in store.stats(since=_since(cutoff)):
                values = [span[4] for span in spans if span[1] == row.key and span[3] >= cutoff]
                errors = sum(span[5] for span in spans if span[1] == row.key and span[3] >= cutoff)
                assert (row.count, row.error_count) == (len(values), errors), (cutoff, row.key)
                for got, p in zip((row.p50_ms, row.p95_ms, row.p99_ms), (50, 95, 99), strict=True):
                    exact = nearest_rank(values, p)
                    assert abs(got * 1e6 - exact) <= exact * histogram.RELATIVE_ERROR + 1e-3, (cutoff, row.key, p)


def test_packing_counts_at_once_equals_adding_them_one_by_one() -> None:
    """:func:`histogram.from_counts` (one uint32 array turned into an int) gives the sum of each count shifted
    to its field, for counts of every width, far-apart bins and counts past a field (which carry, as before)."""
    rng = random.Random(3)
    for _ in range(500):
        counts = {
            rng.randrange(0, 1000): rng.choice((1, 2, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**40))
            for _ in range(rng.randrange(1, 40))
        }
        assert histogram.from_counts(counts) == sum(count << (index * 32) for index, count in counts.items())
    assert histogram.from_counts({}) == 0
    durations = [rng.randrange(0, 10**12) for _ in range(2000)] + [0, 1, 31, 32, HUGE]
    expected: dict[int, int] = {}
    for duration in durations:
        expected[histogram.bin_of(duration)] = expected.get(histogram.bin_of(duration), 0) + 1
    assert histogram.add_durations(0, durations) == sum(count << (index * 32) for index, count in expected.items())
