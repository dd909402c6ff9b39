"""Export throughput and bytes per span: LensSpanExporter vs. raw sqlite3 executemany vs. the OTLP JSON file exporter.

50k realistic spans (5 per trace, a few attributes, an event each) are made once by a real
TracerProvider and kept as ReadableSpans, then exported in SDK-sized batches (512) through:

- lens: ``LensSpanExporter.export`` — the full path (encode, resources, insert, trace rollup, commit);
- raw: the practical limit — the same spans as minimal rows (orjson attributes and events), one
  ``executemany`` into a simple table, one WAL transaction per batch;
- otlp-json-file: ``opentelemetry-exporter-otlp-json-file``'s ``FileSpanExporter`` writing a file.

Besides, the row builder fed by its two adapters is timed alone (no database): from the SDK's spans
(``encode_spans``, the exporter's encode step) and from the same spans as parsed OTLP protobuf requests
(``encode_trace_request``, what a receiver runs; the requests are made and parsed beforehand).

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
from collections.abc import Sequence
from pathlib import Path

import orjson
from _report import Table, median, spread
from _spans import SPANS_PER_TRACE, SpanFactory, batches
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as otlp_encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_lens.export import encode_spans, encode_trace_request, parse_trace_request
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


# -- the ways of storing the same spans: open, export one batch, close and measure -------------------


class LensSink:
    """The full lens path: ``LensSpanExporter.export`` (encode, resources, insert, trace rollup, commit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        settings = Settings.load(environ={}, database=str(path), sweep_interval=0, retention=0, max_size=0)
        self.exporter = LensSpanExporter(settings)
        self.breakdown: dict[str, int] = {}

    def export(self, batch: Sequence[ReadableSpan]) -> None:
        if self.exporter.export(batch) is not SpanExportResult.SUCCESS:
            raise RuntimeError("LensSpanExporter.export returned FAILURE")

    def close(self, expected: int) -> int:
        """Checkpoint, check every span is stored, and return the bytes of the database plus its WAL."""
        store = self.exporter.store
        assert store is not None
        with store.locked() as conn:
            stored = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                self.breakdown[name] = size
        if stored != expected:
            raise RuntimeError(f"lens stored {stored} spans, expected {expected}")
        size = _file_bytes(self.path)
        self.exporter.shutdown()
        return size


def raw_rows(batch: Sequence[ReadableSpan]) -> list[tuple[object, ...]]:
    """The same spans as minimal rows, through the public ReadableSpan API, attributes and events by orjson."""
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


class RawSink:
    """The practical limit: minimal rows, one executemany per batch in one WAL transaction."""

    def __init__(self, path: Path, indexed: bool = False) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL").fetchall()
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(_RAW_TABLE)
        for ddl in _RAW_INDEXES if indexed else ():
            self.conn.execute(ddl)

    def export(self, batch: Sequence[ReadableSpan]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(_RAW_INSERT, raw_rows(batch))
        self.conn.execute("COMMIT")

    def close(self, expected: int) -> int:
        stored = self.conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        if stored != expected:
            raise RuntimeError(f"raw stored {stored} spans, expected {expected}")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        size = _file_bytes(self.path)
        self.conn.close()
        return size


class OtlpSink:
    """``opentelemetry-exporter-otlp-json-file``'s FileSpanExporter: JSON Lines, one line per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.exporter = FileSpanExporter(path)

    def export(self, batch: Sequence[ReadableSpan]) -> None:
        if self.exporter.export(batch) is not SpanExportResult.SUCCESS:
            raise RuntimeError("FileSpanExporter.export returned FAILURE")

    def close(self, expected: int) -> int:
        self.exporter.shutdown()
        written = self.path.read_text(encoding="utf-8").count('"spanId"')
        if written != expected:
            raise RuntimeError(f"the OTLP JSON file holds {written} spans, expected {expected}")
        return self.path.stat().st_size


class EncodeSink:
    """lens' encoding alone (no database), to split the lens time."""

    def export(self, batch: Sequence[ReadableSpan]) -> None:
        encode_spans(batch)

    def close(self, expected: int) -> int:
        return 0


_NAMES = ("lens", "raw", "raw+indexes", "otlp", "encode")


def _open(name: str, directory: Path) -> LensSink | RawSink | OtlpSink | EncodeSink:
    if name == "lens":
        return LensSink(directory / "lens.db")
    if name == "raw":
        return RawSink(directory / "raw.db")
    if name == "raw+indexes":
        return RawSink(directory / "raw-indexed.db", indexed=True)
    if name == "otlp":
        return OtlpSink(directory / "spans.jsonl")
    return EncodeSink()


def run_interleaved(work: Batches, directory: Path) -> tuple[dict[str, float], dict[str, int], dict[str, int]]:
    """Export every batch through every sink in turn, so a burst of load from other processes hits them all.

    Returns:
        Seconds spent in each sink, the bytes each one stored, and the lens database's bytes per table/index.
    """
    sinks = {name: _open(name, directory) for name in _NAMES}
    seconds = dict.fromkeys(_NAMES, 0.0)
    gc.collect()
    for index, batch in enumerate(work):
        shift = index % len(_NAMES)  # rotate so no sink always runs right after another one's writes
        for name in _NAMES[shift:] + _NAMES[:shift]:
            started = time.perf_counter()
            sinks[name].export(batch)
            seconds[name] += time.perf_counter() - started
    expected = sum(len(batch) for batch in work)
    sizes = {name: sink.close(expected) for name, sink in sinks.items()}
    lens = sinks["lens"]
    assert isinstance(lens, LensSink)
    return seconds, sizes, lens.breakdown


def time_adapters(work: Batches, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds the row builder takes over every batch from the SDK adapter and from the OTLP adapter, per repeat."""
    requests = [parse_trace_request(otlp_encode_spans(batch).SerializeToString()) for batch in work]
    sdk: list[float] = []
    otlp: list[float] = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        for batch in work:
            encode_spans(batch)
        sdk.append(time.perf_counter() - started)
        started = time.perf_counter()
        for request in requests:
            encode_trace_request(request)
        otlp.append(time.perf_counter() - started)
    return sdk, otlp


# -- the benchmark ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
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
        f"{len(work)} batches of ≤{args.batch}, {args.repeats} repeats, each batch through every exporter in turn",
        flush=True,
    )

    rates: dict[str, list[float]] = {name: [] for name in _NAMES}
    ratios: dict[str, list[float]] = {"raw": [], "otlp": []}
    sizes: dict[str, int] = {}
    breakdown: dict[str, int] = {}
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp:
            seconds, sizes, breakdown = run_interleaved(work, Path(tmp))
        for name in _NAMES:
            rates[name].append(count / seconds[name])
        # Ratios within one repeat: the sinks shared the same moments of machine load.
        ratios["raw"].append(seconds["raw"] / seconds["lens"])
        ratios["otlp"].append(seconds["otlp"] / seconds["lens"])
        print(
            f"  repeat {rep + 1}: "
            + ", ".join(f"{n} {rates[n][-1]:,.0f}/s" for n in _NAMES)
            + f"; lens/raw {ratios['raw'][-1]:.2f}×, lens/otlp {ratios['otlp'][-1]:.2f}×",
            flush=True,
        )

    sdk_seconds, otlp_seconds = time_adapters(work, args.repeats)

    profile: cProfile.Profile | None = None
    if args.profile:
        profile = cProfile.Profile()
        with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp:
            sink = LensSink(Path(tmp) / "profile.db")
            profile.enable()
            for batch in work:
                sink.export(batch)
            profile.disable()
            sink.close(count)

    per_span = {name: size / count for name, size in sizes.items()}
    rate = {name: median(values) for name, values in rates.items()}
    lens_share = rate["lens"] / rate["encode"]

    def fmt_rate(value: float) -> str:
        return f"{value:,.0f}"

    table = Table(f"export: {count} spans, batches of {args.batch}, median of {args.repeats} interleaved repeats")
    table.add("lens (LensSpanExporter)", f"{rate['lens']:,.0f} spans/s", spread(rates["lens"], fmt_rate))
    table.add("raw sqlite3 executemany", f"{rate['raw']:,.0f} spans/s", spread(rates["raw"], fmt_rate))
    table.add(
        "raw + (trace_id, span_id), (start_ns) indexes",
        f"{rate['raw+indexes']:,.0f} spans/s",
        spread(rates["raw+indexes"], fmt_rate),
    )
    table.add("otlp-json-file", f"{rate['otlp']:,.0f} spans/s", spread(rates["otlp"], fmt_rate))
    table.add("lens encode only", f"{rate['encode']:,.0f} spans/s", f"{lens_share:.0%} of lens time")
    sdk_rate, otlp_rate = count / median(sdk_seconds), count / median(otlp_seconds)
    table.add("row builder via the SDK adapter", f"{sdk_rate:,.0f} spans/s", "encode_spans, alone")
    table.add(
        "row builder via the OTLP adapter", f"{otlp_rate:,.0f} spans/s", "encode_trace_request on parsed requests"
    )
    table.add("lens db+wal (checkpointed)", f"{per_span['lens']:.0f} B/span", f"{sizes['lens'] / 2**20:.1f} MiB")
    for name, size in sorted(breakdown.items(), key=lambda item: -item[1])[:8]:
        table.add(f"  {name}", f"{size / count:.0f} B/span", f"{size / sizes['lens']:.0%}")
    table.add("raw sqlite3 file", f"{per_span['raw']:.0f} B/span", "no indexes, no resource")
    table.add("raw + indexes file", f"{per_span['raw+indexes']:.0f} B/span")
    table.add("otlp-json-file", f"{per_span['otlp']:.0f} B/span", f"{sizes['otlp'] / 2**20:.1f} MiB")
    lens_raw, lens_otlp = median(ratios["raw"]), median(ratios["otlp"])
    table.goal("throughput lens/raw", lens_raw, "≥ 0.7×", lens_raw >= 0.7)
    table.goal("throughput lens/otlp", lens_otlp, "≥ 3×", lens_otlp >= 3)
    ratio = per_span["lens"] / per_span["otlp"]
    table.goal("bytes lens/otlp", ratio, "≤ 0.6×", ratio <= 0.6)
    table.print()

    if profile is not None:
        print("== cProfile of one lens run (top 25 by internal time) ==")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return 0  # a missed goal is reported above, never as a failure


if __name__ == "__main__":
    sys.exit(main())
