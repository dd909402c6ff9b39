"""Retention sweep under load: delete 500k expired spans while an exporter keeps writing; then a size-budget sweep.

1. A store is filled with 500k spans 2–9 days old (real SDK spans encoded once, copied with new
   trace ids and times, written through ``WriteStore.write_spans``).
2. A writer thread exports fresh batches through ``LensSpanExporter`` at a steady pace; its export
   latencies are recorded for a while without a sweep (the baseline), then during
   ``WriteStore.prune(max_age=1d)``, while a sampler thread records the process's RSS.
3. A second store is filled with fresh spans and pruned to a size budget: the oldest traces must go
   and the file must end under the budget.

Goals (issue 2): worst export latency during the sweep ≤ 2× without it; peak RSS growth during the
sweep ≤ 50 MB; the file shrinks.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psutil
from _report import Table
from _spans import SPANS_PER_TRACE, SpanFactory, batches
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_lens.export.encode import encode_spans
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store.rows import EncodedBatch
from otel_lens.store.shared import WriteStore, acquire, release

_DAY_NS = 86_400 * 10**9
_TEMPLATE_TRACES = 1000  # 5000 spans, encoded once and copied
_FRESH_TRACES_PER_EXPORT = 100  # 500 spans per export, about the SDK's batch size
_EXPORT_INTERVAL_S = 0.05  # one export every 50 ms: a busy service (~10k spans/s)


def _settings(path: Path) -> Settings:
    return Settings.load(environ={}, database=str(path), sweep_interval=0, retention="7d", max_size=0)


def _fill(path: Path, spans: int, first_ns: int, last_ns: int) -> None:
    """Fill ``path`` in a child process, so the memory this takes is not in the RSS measured later."""
    child = multiprocessing.get_context("spawn").Process(target=_fill_here, args=(path, spans, first_ns, last_ns))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"filling {path} failed (exit {child.exitcode})")


def _fill_here(path: Path, spans: int, first_ns: int, last_ns: int) -> None:
    """Write ``spans`` spans whose traces start evenly from ``first_ns`` to ``last_ns``."""
    store = acquire(_settings(path))
    copies = max(spans // (_TEMPLATE_TRACES * SPANS_PER_TRACE), 1)
    step = (last_ns - first_ns) // copies
    factory = SpanFactory(seed=3)
    made = factory.traces(_TEMPLATE_TRACES, start_ns=0, spread_ns=step)
    factory.shutdown()
    template = [encode_spans(b) for b in batches(made, 500)]
    for copy in range(copies):
        prefix = copy.to_bytes(4, "big")  # a new trace id per copy; the span ids may repeat across traces
        offset = first_ns + copy * step
        for encoded in template:
            rows = [[prefix + row[0][4:], *row[1:6], row[6] + offset, *row[7:]] for row in encoded.rows]
            store.write_spans(EncodedBatch(rows, encoded.resources, encoded.scopes))
    with store.locked() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    release(store)


class _PacedWriter(threading.Thread):
    """Exports freshly made spans every ``interval`` seconds and records (start time, latency, ok)."""

    def __init__(self, exporter: LensSpanExporter, interval: float) -> None:
        super().__init__(name="bench-writer", daemon=True)
        self.exporter = exporter
        self.interval = interval
        self.records: list[tuple[float, float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        factory = SpanFactory(seed=11)
        due = time.perf_counter()
        while not self.stop.is_set():
            spans = factory.traces(_FRESH_TRACES_PER_EXPORT, spread_ns=10**9)
            started = time.perf_counter()
            result = self.exporter.export(spans)
            self.records.append((started, time.perf_counter() - started, result is SpanExportResult.SUCCESS))
            due += self.interval
            self.stop.wait(max(due - time.perf_counter(), 0.0))
        factory.shutdown()

    def window(self, start: float, end: float) -> list[tuple[float, bool]]:
        return [(latency, ok) for began, latency, ok in self.records if start <= began < end]


class _RssSampler(threading.Thread):
    """Samples this process's resident set size every few milliseconds; keeps the peak."""

    def __init__(self) -> None:
        super().__init__(name="bench-rss", daemon=True)
        self.process = psutil.Process()
        self.start_rss = self.process.memory_info().rss
        self.peak = self.start_rss
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def _db_bytes(path: Path) -> int:
    return sum(os.stat(f"{path}{s}").st_size for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


def sweep_under_load(directory: Path, spans: int, baseline_s: float, table: Table) -> None:
    path = directory / "expired.db"
    settings = _settings(path)
    now = time.time_ns()
    built = time.perf_counter()
    _fill(path, spans, now - 9 * _DAY_NS, now - 2 * _DAY_NS)
    store = acquire(settings)
    with store.locked() as conn:
        expired = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
    print(f"  filled {expired:,} expired spans in {time.perf_counter() - built:.1f}s", flush=True)

    exporter = LensSpanExporter(settings)  # shares ``store``: one store per database per process
    holds = _time_sweeper_holds(store)
    writer = _PacedWriter(exporter, _EXPORT_INTERVAL_S)
    gc.collect()
    writer.start()
    time.sleep(1.0)  # warm up: the writer's own allocations and the page cache settle first
    before = _window(baseline_s)

    size_before = _db_bytes(path)
    sampler = _RssSampler()
    sampler.start()
    sweep_start = time.perf_counter()
    summary = store.prune(max_age=86_400, max_size=0)
    sweep_end = time.perf_counter()
    sampler.stop.set()
    sampler.join()
    # As many exports again without a sweep, so the worst cases compare samples of about the same size.
    after = _window(min(max(sweep_end - sweep_start - baseline_s, 3.0), 15.0))
    writer.stop.set()
    writer.join()
    with store.locked() as conn:
        cutoff = now - _DAY_NS
        left_expired = conn.execute("SELECT count(*) FROM lens_spans WHERE start_ns < ?", (cutoff,)).fetchone()[0]
        fresh = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    size_after = _db_bytes(path)
    exporter.shutdown()
    release(store)

    base = writer.window(*before[:2]) + writer.window(*after[:2])
    during = writer.window(sweep_start, sweep_end)
    base_lat = [latency for latency, _ in base]
    during_lat = [latency for latency, _ in during]
    failures = sum(1 for _, ok in base + during if not ok)
    worst_base, worst_during = max(base_lat), max(during_lat, default=float("nan"))
    p99_base, p99_during = _percentile(base_lat, 0.99), _percentile(during_lat, 0.99)
    growth = (sampler.peak - sampler.start_rss) / 1e6
    base_growth = max(before[2], after[2]) / 1e6
    seconds = sweep_end - sweep_start

    table.add(
        "expired spans deleted", f"{summary.spans_deleted:,}", f"{summary.traces_deleted:,} traces; {left_expired} left"
    )
    table.add("sweep duration", f"{seconds:.1f} s", f"{summary.spans_deleted / seconds:,.0f} spans/s")
    table.add("file before → after", f"{size_before / 2**20:.1f} → {size_after / 2**20:.1f} MiB", "db + wal")
    table.add("writer exports", f"{len(base)} / {len(during)}", f"without / during sweep; {fresh:,} spans kept")
    for label, values in (("export latency, no sweep", base_lat), ("export latency, sweeping", during_lat)):
        table.add(
            label,
            f"max {max(values) * 1e3:.1f} ms",
            f"p99 {_percentile(values, 0.99) * 1e3:.1f}, median {_percentile(values, 0.5) * 1e3:.1f} ms",
        )
    table.add("p99 latency sweep/none", f"{p99_during / p99_base:.2f}×")
    for kind, durations in sorted(holds.items(), key=lambda item: -max(item[1])):
        table.add(
            f"sweeper lock held: {kind}",
            f"max {max(durations) * 1e3:.1f} ms",
            f"{len(durations)}×, p99 {_percentile(durations, 0.99) * 1e3:.1f}, total {sum(durations):.1f} s",
        )
    table.add(
        "RSS growth, sweeping", f"{growth:.1f} MB", f"over RSS at sweep start; writer alone: {base_growth:.1f} MB"
    )
    table.goal("worst latency sweep/none", worst_during / worst_base, "≤ 2×", worst_during <= 2 * worst_base)
    table.goal("sweeper RSS growth", growth, "≤ 50 MB", growth <= 50, "{:.1f} MB")
    table.goal("file shrinks", size_after / size_before, "< 1×", size_after < size_before and left_expired == 0)
    table.goal("no export failed", failures, "0", failures == 0, "{:.0f}")


def _window(seconds: float) -> tuple[float, float, int]:
    """Let the writer run ``seconds``; returns the window's start, end and the RSS growth seen in it."""
    sampler = _RssSampler()
    sampler.start()
    start = time.perf_counter()
    time.sleep(seconds)
    end = time.perf_counter()
    sampler.stop.set()
    sampler.join()
    return start, end, sampler.peak - sampler.start_rss


def _time_sweeper_holds(store: WriteStore) -> dict[str, list[float]]:
    """Record how long each sweeper transaction or checkpoint holds the store, by the Sweeper method that ran it.

    The time runs from inside the lock (after any wait for the writer) to after COMMIT: what an
    exporter arriving at the wrong moment waits for.
    """
    holds: dict[str, list[float]] = {}
    sweeper = store.sweeper

    def timed(open_hold: Callable[[], AbstractContextManager[Any]]) -> Callable[[], AbstractContextManager[Any]]:
        @contextlib.contextmanager
        def held(kind: str) -> Iterator[Any]:
            with open_hold() as value:
                started = time.perf_counter()
                yield value
            holds.setdefault(kind, []).append(time.perf_counter() - started)

        def wrapper() -> AbstractContextManager[Any]:
            caller = sys._getframe(1).f_code.co_name  # _timed (delete chunks), shrink, checkpoint, _used_bytes, …
            return held("delete chunk" if caller == "_timed" else caller)

        return wrapper

    sweeper._transaction = timed(sweeper._transaction)  # type: ignore[method-assign]
    sweeper._locked = timed(sweeper._locked)  # type: ignore[method-assign]
    return holds


def size_budget(directory: Path, spans: int, table: Table) -> None:
    path = directory / "budget.db"
    now = time.time_ns()
    _fill(path, spans, now - 3600 * 10**9, now - 60 * 10**9)
    store = acquire(_settings(path))
    with store.locked() as conn:
        starts = [row[0] for row in conn.execute("SELECT start_ns FROM lens_traces ORDER BY start_ns")]
    size_before = store.size()
    budget = int(size_before * 0.4)
    started = time.perf_counter()
    summary = store.prune(max_age=0, max_size=budget)
    seconds = time.perf_counter() - started
    size_after = store.size()
    with store.locked() as conn:
        kept, oldest_kept = conn.execute("SELECT count(*), min(start_ns) FROM lens_traces").fetchone()
        orphans = conn.execute(
            "SELECT count(*) FROM lens_spans s WHERE NOT EXISTS (SELECT 1 FROM lens_traces t WHERE t.id = s.trace_row)"
        ).fetchone()[0]
        counted = conn.execute("SELECT coalesce(sum(span_count), 0) FROM lens_traces").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
    release(store)
    newest_kept = kept > 0 and oldest_kept == starts[-kept]  # what is left is exactly the newest ``kept`` traces
    table.add(
        "budget store", f"{size_before / 2**20:.1f} MiB", f"{len(starts):,} traces; budget {budget / 2**20:.1f} MiB"
    )
    table.add(
        "after size sweep",
        f"{size_after / 2**20:.1f} MiB",
        f"{summary.traces_deleted:,} oldest traces deleted in {seconds:.1f}s, {kept:,} kept",
    )
    table.goal("ends under budget", size_after / budget, "≤ 1×", size_after <= budget)
    table.goal("oldest went first", 1.0 if newest_kept else 0.0, "newest kept", newest_kept, "{:.0f}")
    table.goal("no orphan spans", orphans, "0", orphans == 0 and counted == stored, "{:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spans", type=int, default=500_000, help="expired spans to sweep")
    parser.add_argument("--budget-spans", type=int, default=100_000, help="spans in the size-budget store")
    parser.add_argument("--baseline", type=float, default=8.0, help="seconds of writer latency without a sweep")
    args = parser.parse_args(argv)
    print(
        f"bench_retention: {args.spans:,} expired spans; the writer exports "
        f"{_FRESH_TRACES_PER_EXPORT * SPANS_PER_TRACE} spans every {_EXPORT_INTERVAL_S * 1e3:.0f} ms",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp:
        sweep = Table(f"retention: sweep {args.spans:,} expired spans while exporting")
        sweep_under_load(Path(tmp), args.spans, args.baseline, sweep)
        sweep.print()
        budget = Table(f"retention: size budget on {args.budget_spans:,} fresh spans")
        size_budget(Path(tmp), args.budget_spans, budget)
        budget.print()
    return 0  # a missed goal is reported above, never as a failure


if __name__ == "__main__":
    sys.exit(main())
