"""``stats`` percentiles from the write-time latency histograms stay within the stated bound (±3.125 %) of the
exact nearest-rank percentiles of the same spans, over many distributions; counts and errors are exact."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import pytest

from otel_lens import open_store
from otel_lens.settings import Settings
from otel_lens.store import histogram
from tests._stats_helpers import HOUR_NS, T0, Span, nearest_rank, write

BOUND = histogram.RELATIVE_ERROR
Draw = Callable[[random.Random], int]
DISTRIBUTIONS: dict[str, Draw] = {
    "uniform-ms": lambda r: r.randrange(1_000_000, 400_000_000),
    "lognormal": lambda r: int(r.lognormvariate(16, 2)),  # ~9 ms median, decades wide
    "exponential": lambda r: int(r.expovariate(1 / 30e6)),
    "bimodal": lambda r: int(r.gauss(2e6, 1e5) if r.random() < 0.9 else r.gauss(900e6, 5e7)),
    "pareto-tail": lambda r: int(1e5 * r.paretovariate(1.2)),
    "nanoseconds": lambda r: r.randrange(0, 200),  # sub-µs spans: bins of one ns below 32 ns
    "constant": lambda r: 12_345_678,
    "huge": lambda r: r.randrange(3600 * 10**9, 30 * 86400 * 10**9),  # hours to a month
}


def test_bins_hold_their_durations_and_are_narrow() -> None:
    """Every duration falls in its bin's [lo, hi); a bin is exact below 32 ns and at most lo/16 wide above;
    the byte form round-trips and merging adds counts."""
    rng = random.Random(3)
    for duration in [*range(0, 5000), *(rng.randrange(1, 1 << 62) for _ in range(20_000))]:
        lo, hi = histogram.bounds(histogram.bin_of(duration))
        assert lo <= duration < hi
        assert hi - lo == 1 if duration < 32 else (hi - lo) * 16 <= lo
    counts = {rng.randrange(0, 900): rng.randrange(1, 1 << 31) for _ in range(50)}
    packed = histogram.from_counts(counts)
    assert histogram.decode(histogram.encode(packed)) == packed
    assert dict(histogram.bins(packed)) == counts
    doubled = histogram.merge_stored(histogram.encode(packed), histogram.encode(packed))
    assert dict(histogram.bins(histogram.decode(doubled))) == {k: 2 * v for k, v in counts.items()}
    assert histogram.encode(0) == b"" and histogram.decode(None) == 0


def _spans(seed: int, hours: int = 6) -> list[Span]:
    rng = random.Random(seed)
    spans = []
    for name, draw in DISTRIBUTIONS.items():
        for _ in range(rng.randrange(50, 700)):
            start = T0 + rng.randrange(0, hours * HOUR_NS)
            spans.append(("svc-a" if rng.random() < 0.7 else "svc-b", name, 1, start, draw(rng), rng.random() < 0.05))
    rng.shuffle(spans)
    return spans


def _expected(spans: list[Span], by: str, cutoff: int) -> dict[tuple[str, str], tuple[list[int], int]]:
    groups: dict[tuple[str, str], tuple[list[int], int]] = {}
    for service, name, _kind, start, duration, failed in spans:
        if start < cutoff:
            continue
        key = (service, name) if by == "name" else (service, service)
        values, errors = groups.get(key, ([], 0))
        values.append(duration)
        groups[key] = (values, errors + failed)
    return groups


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_within_the_bound_of_the_exact_ones(settings: Settings, seed: int) -> None:
    """Whole store and windows starting inside an hour (read partly from spans, partly from histograms):
    counts and errors equal the spans', each p50/p95/p99 within ±3.125 % of the exact nearest-rank value."""
    spans = _spans(seed)
    write(settings, spans, batch=700)
    rng = random.Random(seed)
    cutoffs = [0, T0 + 2 * HOUR_NS + rng.randrange(1, HOUR_NS), T0 + 5 * HOUR_NS + rng.randrange(1, HOUR_NS)]
    with open_store(settings.database) as store:
        for cutoff in cutoffs:
            since = dt.datetime.fromtimestamp(cutoff / 1e9, tz=dt.timezone.utc)
            for by in ("name", "service"):
                expected = _expected(spans, by, cutoff)
                rows = store.stats(since=since if cutoff else None, by=by)
                assert {(row.service or "", row.key) for row in rows} == set(expected)
                for row in rows:
                    values, errors = expected[(row.service or "", row.key)]
                    assert (row.count, row.error_count) == (len(values), errors)
                    assert sum(count for _, _, count in row.histogram) == len(values)
                    for got, p in zip((row.p50_ms, row.p95_ms, row.p99_ms), (50, 95, 99), strict=True):
                        exact = nearest_rank(values, p)
                        assert abs(got * 1e6 - exact) <= exact * BOUND + 1e-3, (row.key, p, got, exact)


def test_a_window_inside_the_first_partial_hour_is_exact(settings: Settings) -> None:
    """A window that starts inside the hour holding every span it covers (e.g. ``--since 5m``) reads them all
    itself: exact nearest-rank percentiles (``exact`` set); spans before the window, even in the same hour,
    are left out."""
    rng = random.Random(11)
    spans = [("svc", "op", 1, T0 + 10 * 60 * 10**9 + i, rng.randrange(1, 10**9), False) for i in range(300)]
    spans += [("svc", "op", 1, T0 + 5 * 60 * 10**9, 7, False)]  # 5 min past the hour: before the window
    write(settings, spans)
    since = dt.datetime.fromtimestamp((T0 + 6 * 60 * 10**9) / 1e9, tz=dt.timezone.utc)
    with open_store(settings.database) as store:
        (row,) = store.stats(since=since)
    values = [span[4] for span in spans[:300]]
    assert row.exact and row.count == 300
    assert (row.p50_ms, row.p95_ms, row.p99_ms) == tuple(nearest_rank(values, p) / 1e6 for p in (50, 95, 99))
    assert row.as_dict()["exact"] is True and sum(bin[2] for bin in row.as_dict()["histogram"]) == 300
