"""Export throughput and bytes per span: LensSpanExporter vs. raw sqlite3 executemany vs. the OTLP JSON file exporter.

50k realistic spans (5 per trace, a few attributes, an event each) are made once by a real
TracerProvider and kept as ReadableSpans, then exported in SDK-sized batches (512) through:

- lens: ``LensSpanExporter.export`` — the full path (encode, resources, insert, trace rollup, commit);
- raw: the practical limit — the same spans as minimal rows (orjson attributes and events), one
  ``executemany`` into a simple table, one WAL transaction per batch;
- otlp-json-file: ``opentelemetry-exporter-otlp-json-file``'s ``FileSpanExporter`` writing a file.

Each is run ``--repeats`` times, interleaved, on fresh files; medians are reported since the
machine is shared. Goals (issue 2): lens/raw ≥ 0.7×, lens/otlp ≥ 3×, lens bytes/otlp bytes ≤ 0.6×.
``--profile`` runs the lens path once more under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from _report import Table, median, spread
from _spans import SPANS_PER_TRACE, SpanFactory, batches
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_lens.export.encode import encode_spans
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings

Batches = Sequence[Sequence[ReadableSpan]]

_RAW_TABLE = (
    "CREATE TABLE spans (trace_id BLOB, span_id BLOB, parent_span_id BLOB, name TEXT, kind INTEGER, "
    "start_ns INTEGER, end_ns INTEGER, status_code INTEGER, status_message TEXT, attributes TEXT, events TEXT)"
)
_RAW_INDEXES = (
    "CREATE UNIQUE INDEX spans_ids ON spans (trace_id, span_id)",
    "CREATE INDEX spans_start ON spans (start_ns)",
)
_RAW_INSERT = "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _file_bytes(path: Path) -> int:
    return sum(os.stat(f"{path}{s}").st_size for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


def _timed(run: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


# -- the three ways of storing the same spans -------------------------------------------------------


def run_lens(work: Batches, path: Path, breakdown: dict[str, int] | None = None) -> tuple[float, int]:
    """Seconds to export ``work`` through LensSpanExporter, and the database bytes after a checkpoint."""
    settings = Settings.load(environ={}, database=str(path), sweep_interval=0, retention=0, max_size=0)
    exporter = LensSpanExporter(settings)

    def run() -> None:
        for batch in work:
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise RuntimeError("LensSpanExporter.export returned FAILURE")

    seconds = _timed(run)
    store = exporter.store
    assert store is not None
    with store.locked() as conn:
        stored = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        if breakdown is not None:
            for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                breakdown[name] = size
    expected = sum(len(b) for b in work)
    if stored != expected:
        raise RuntimeError(f"lens stored {stored} spans, expected {expected}")
    size = _file_bytes(path)
    exporter.shutdown()
    return seconds, size


def _raw_rows(batch: Sequence[ReadableSpan]) -> list[tuple[object, ...]]:
    rows = []
    for span in batch:
        context, parent, status = span.context, span.parent, span.status
        assert context is not None
        rows.append(
            (
                context.trace_id.to_bytes(16, "big"),
                context.span_id.to_bytes(8, "big"),
                parent.span_id.to_bytes(8, "big") if parent is not None else None,
                span.name,
                span.kind.value,
                span.start_time,
                span.end_time,
                status.status_code.value,
                status.description,
                orjson.dumps(dict(span.attributes or {})).decode(),
                orjson.dumps([[e.name, e.timestamp, dict(e.attributes or {})] for e in span.events]).decode(),
            )
        )
    return rows


def run_raw(work: Batches, path: Path, indexed: bool = False) -> tuple[float, int]:
    """The practical limit: minimal rows, one executemany per batch in one WAL transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(_RAW_TABLE)
    for ddl in _RAW_INDEXES if indexed else ():
        conn.execute(ddl)

    def run() -> None:
        for batch in work:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_RAW_INSERT, _raw_rows(batch))
            conn.execute("COMMIT")

    seconds = _timed(run)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    size = _file_bytes(path)
    conn.close()
    return seconds, size


def run_otlp(work: Batches, path: Path) -> tuple[float, int]:
    """The OTLP JSON file exporter (JSON Lines, one line per batch) writing the same spans."""
    exporter = FileSpanExporter(path)

    def run() -> None:
        for batch in work:
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise RuntimeError("FileSpanExporter.export returned FAILURE")

    seconds = _timed(run)
    exporter.shutdown()
    return seconds, path.stat().st_size


def run_encode(work: Batches) -> float:
    """Seconds lens spends encoding alone (no database), to split the lens time."""

    def run() -> None:
        for batch in work:
            encode_spans(batch)

    return _timed(run)


# -- the benchmark ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=10_000, help="traces to make (5 spans each)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each exporter; the median is reported")
    parser.add_argument("--batch", type=int, default=512, help="spans per export call (the SDK's default)")
    parser.add_argument("--profile", action="store_true", help="also profile the lens path with cProfile")
    args = parser.parse_args(argv)

    made = time.perf_counter()
    factory = SpanFactory()
    spans = factory.traces(args.traces)
    factory.shutdown()
    work = batches(spans, args.batch)
    count = len(spans)
    print(
        f"bench_export: {count} spans ({SPANS_PER_TRACE} per trace) made in {time.perf_counter() - made:.1f}s, "
        f"{len(work)} batches of ≤{args.batch}, {args.repeats} repeats",
        flush=True,
    )

    runs: dict[str, list[float]] = {"lens": [], "raw": [], "raw+indexes": [], "otlp": [], "encode": []}
    sizes: dict[str, int] = {}
    breakdown: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp:
        for rep in range(args.repeats):
            order = ["lens", "raw", "raw+indexes", "otlp", "encode"]
            order = order[rep % len(order) :] + order[: rep % len(order)]  # rotate so no one always goes first
            for name in order:
                target = Path(tmp) / f"{name}-{rep}.{'jsonl' if name == 'otlp' else 'db'}"
                if name == "lens":
                    seconds, sizes[name] = run_lens(work, target, breakdown if rep == 0 else None)
                elif name == "raw":
                    seconds, sizes[name] = run_raw(work, target)
                elif name == "raw+indexes":
                    seconds, sizes[name] = run_raw(work, target, indexed=True)
                elif name == "otlp":
                    seconds, sizes[name] = run_otlp(work, target)
                else:
                    seconds = run_encode(work)
                runs[name].append(seconds)
                for leftover in Path(tmp).glob(f"{name}-{rep}.*"):
                    leftover.unlink()
            print(
                f"  repeat {rep + 1}: "
                + ", ".join(f"{n} {count / runs[n][-1]:,.0f}/s" for n in ("lens", "raw", "raw+indexes", "otlp")),
                flush=True,
            )

        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            run_lens(work, Path(tmp) / "profile.db")
            profile.disable()

    rate = {name: count / median(times) for name, times in runs.items()}
    per_span = {name: size / count for name, size in sizes.items()}
    lens_share = median(runs["encode"]) / median(runs["lens"])

    table = Table(f"export: {count} spans, batches of {args.batch}, median of {args.repeats}")

    def fmt_rate(seconds: float) -> str:
        return f"{count / seconds:,.0f}"

    table.add("lens (LensSpanExporter)", f"{rate['lens']:,.0f} spans/s", spread(runs["lens"], fmt_rate))
    table.add("raw sqlite3 executemany", f"{rate['raw']:,.0f} spans/s", spread(runs["raw"], fmt_rate))
    table.add(
        "raw + lens' 2 span indexes", f"{rate['raw+indexes']:,.0f} spans/s", spread(runs["raw+indexes"], fmt_rate)
    )
    table.add("otlp-json-file", f"{rate['otlp']:,.0f} spans/s", spread(runs["otlp"], fmt_rate))
    table.add("lens encode only", f"{rate['encode']:,.0f} spans/s", f"{lens_share:.0%} of lens time")
    table.add("lens db+wal (checkpointed)", f"{per_span['lens']:.0f} B/span", f"{sizes['lens'] / 2**20:.1f} MiB")
    for name, size in sorted(breakdown.items(), key=lambda item: -item[1])[:8]:
        table.add(f"  {name}", f"{size / count:.0f} B/span", f"{size / sizes['lens']:.0%}")
    table.add("raw sqlite3 file", f"{per_span['raw']:.0f} B/span", "no indexes, no resource")
    table.add("raw + indexes file", f"{per_span['raw+indexes']:.0f} B/span")
    table.add("otlp-json-file", f"{per_span['otlp']:.0f} B/span", f"{sizes['otlp'] / 2**20:.1f} MiB")
    table.goal("throughput lens/raw", rate["lens"] / rate["raw"], "≥ 0.7×", rate["lens"] / rate["raw"] >= 0.7)
    table.goal("throughput lens/otlp", rate["lens"] / rate["otlp"], "≥ 3×", rate["lens"] / rate["otlp"] >= 3)
    ratio = per_span["lens"] / per_span["otlp"]
    table.goal("bytes lens/otlp", ratio, "≤ 0.6×", ratio <= 0.6)
    table.print()

    if args.profile:
        print("== cProfile of one lens run (top 25 by internal time) ==")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return 0  # a missed goal is reported above, never a failure


if __name__ == "__main__":
    sys.exit(main())
