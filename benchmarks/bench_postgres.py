"""PostgreSQL write path vs a plain psycopg ``executemany`` of the same rows, measured in the same run.

Starts its own throwaway server (like the test suite), records real spans with a TracerProvider,
then times, per round and in alternation so machine noise hits both alike:

- ``otel-lens``: ``WriteStore.write_spans`` — one transaction per batch with the span insert
  (duplicate-safe), the exact trace rollup and the resource/scope lookups;
- ``baseline``: BEGIN, ``cursor.executemany`` of a plain INSERT of the same rows (psycopg 3
  pipelines it: one round trip), COMMIT — no duplicate handling and no rollup at all;
- ``row-by-row``: the same plain INSERT executed per row, for scale.

Run: ``python benchmarks/bench_postgres.py [--batches 40] [--batch-size 512] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import psycopg
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens.export.encode import encode_spans
from otel_lens.settings import Settings
from otel_lens.store.rows import SPAN_COLUMNS, EncodedBatch
from otel_lens.store.shared import acquire, release
from otel_lens.testing import PostgresServer, running_postgres


def record_spans(count: int) -> list[ReadableSpan]:
    """Realistic spans: traces of 8 (a server span and its children) with a few attributes and an event."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench", "1.0")
    while len(memory.get_finished_spans()) < count:
        with tracer.start_as_current_span("GET /items/{id}", attributes={"http.route": "/items/{id}"}):
            for index in range(7):
                with tracer.start_as_current_span(f"db.query {index}") as span:
                    span.set_attribute("db.statement", f"SELECT * FROM items WHERE id = {index}")
                    span.set_attribute("db.rows", index)
                    span.add_event("fetched", {"rows": index})
    provider.shutdown()
    return list(memory.get_finished_spans())[:count]


def time_otel_lens(server: PostgresServer, batches: list[EncodedBatch]) -> float:
    store = acquire(Settings.load(environ={}, database=server.create_database(), sweep_interval=0))
    try:
        started = time.perf_counter()
        for batch in batches:
            store.write_spans(batch)
        return time.perf_counter() - started
    finally:
        release(store)


def _plain_target(server: PostgresServer) -> str:
    """A database with the otel-lens schema (made by otel-lens) for the baselines to insert into."""
    url = server.create_database()
    release(acquire(Settings.load(environ={}, database=url, sweep_interval=0)))
    return url


def time_baseline(server: PostgresServer, batches: list[EncodedBatch], per_row: bool) -> float:
    url = _plain_target(server)
    columns = ("trace_row", *SPAN_COLUMNS[1:])  # the table keeps the trace's row number, not its 16-byte id
    sql = f"INSERT INTO lens_spans ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    trace_rows: dict[bytes, int] = {}
    rows_per_batch = []
    for batch in batches:
        rows = [list(row) for row in batch.rows]
        for row in rows:
            row[0] = trace_rows.setdefault(row[0], len(trace_rows) + 1)
            row[-2], row[-1] = 1, 1  # resource_id, scope_id
        rows_per_batch.append(rows)
    with psycopg.connect(url) as conn:
        cursor = conn.cursor()
        started = time.perf_counter()
        for rows in rows_per_batch:
            if per_row:
                for row in rows:
                    cursor.execute(sql, row)
            else:
                cursor.executemany(sql, rows)
            conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spans = record_spans(args.batches * args.batch_size)
    encoded = [encode_spans(spans[i : i + args.batch_size]) for i in range(0, len(spans), args.batch_size)]
    total = len(spans)
    results: dict[str, list[float]] = {"otel-lens": [], "baseline": [], "row-by-row": []}
    with running_postgres() as server:
        for _ in range(args.rounds):
            # write_spans rewrites resource/scope indexes in place: each run gets its own copy.
            results["otel-lens"].append(time_otel_lens(server, copy.deepcopy(encoded)))
            results["baseline"].append(time_baseline(server, encoded, per_row=False))
            results["row-by-row"].append(time_baseline(server, encoded[: max(len(encoded) // 4, 1)], per_row=True) * 4)
    print(f"PostgreSQL write path: {total} spans in batches of {args.batch_size}, median of {args.rounds} rounds")
    medians = {name: statistics.median(times) for name, times in results.items()}
    for name, seconds in medians.items():
        print(f"  {name:<11} {seconds * 1000:8.1f} ms  {total / seconds:10,.0f} spans/s")
    print(f"  ratio otel-lens / plain executemany throughput: {medians['baseline'] / medians['otel-lens']:.2f}x")
    print(f"  ratio otel-lens / row-by-row throughput:        {medians['row-by-row'] / medians['otel-lens']:.2f}x")


if __name__ == "__main__":
    main()
