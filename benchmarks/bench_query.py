"""Read-side query cost vs store size: each query on a 1M-span store divided by the same query on a 10k-span store.

Both stores have the same shape (~5 spans per trace over 7 days, 5 services, 20 span names, ~2% failed
spans, ~5% GenAI spans, one log per 5 spans, and one 500-span trace with its logs). They are built
straight through the store writer (``SharedStore.write_spans`` / ``write_logs`` with generated
``EncodedBatch`` rows, in big batches) and cached under ``/tmp`` keyed by a version, so reruns are quick.

Reported, goal ≤ 1.5× (the cost must not grow with the store): ``traces --limit 50`` unfiltered, by
service, errors only and by min duration; ``show`` of the 500-span trace; ``logs --trace``; ``usage
--since 24h``; ``stats --since 24h`` (read from the hourly latency histograms, plus the window's partial
first hour from the spans). And ``stats --since 24h`` on the 1M store vs a plain ``SELECT count(*)`` over
the same window, measured in the same run (reported, no goal), and the exact span scan stats used before
the histograms (``--exact-scan`` reference, same store).

Run: ``python benchmarks/bench_query.py [--rounds 7] [--rebuild] [--only TEXT …]`` (``--only stats``: the stats lines).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _report import CACHE_ROOT
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_lens import open_store
from otel_lens.export.encode import encode_resource, encode_scope
from otel_lens.query import _aggregates
from otel_lens.settings import Settings
from otel_lens.store.codec import dumps
from otel_lens.store.migrations import latest_version
from otel_lens.store.rows import EncodedBatch, GenAIUsage
from otel_lens.store.shared import acquire, release

VERSION = 7  # bump when the generated shape changes: the cache key, with the schema version
CACHE = CACHE_ROOT / f"otel-lens-bench-query-v{VERSION}-schema{latest_version()}"
SPANS_PER_TRACE = 5
WEEK_NS = 7 * 86400 * 10**9
SERVICES = ["api", "billing", "search", "worker", "agent"]
NAMES = [f"{verb} /{noun}" for verb in ("GET", "POST") for noun in ("users", "orders", "cart", "items", "login")]
NAMES += ["SELECT", "INSERT", "cache.get", "render", "queue.publish", "chat", "embed", "rank", "auth", "retry"]
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4"), ("google", "gemini")]
BIG_TRACE_SPANS = 500
BATCH = 20_000


def build(path: Path, total_spans: int, end_ns: int) -> dict[str, Any]:
    """Write a store of ``total_spans`` spans ending at ``end_ns``; returns facts the queries need."""
    rng = random.Random(total_spans)
    settings = Settings.load(environ={}, database=str(path), sweep_interval=0, retention=0, max_size=0)
    store = acquire(settings)
    resources = [encode_resource(Resource.create({"service.name": s, "host.name": "bench"})) for s in SERVICES]
    scopes = [encode_scope(InstrumentationScope("bench", "1.0"))]
    traces = total_spans // SPANS_PER_TRACE
    step = WEEK_NS // traces
    big_trace = rng.randrange(traces // 2, traces)  # its start is within the last 24h only by chance: fine either way
    spans: list[list[Any]] = []
    genai: dict[int, GenAIUsage] = {}
    logs: list[list[Any]] = []
    facts: dict[str, Any] = {"end_ns": end_ns}

    def flush(final: bool = False) -> None:
        if len(spans) >= BATCH or (final and spans):
            store.write_spans(EncodedBatch(spans[:], resources, scopes, dict(genai)), timeout=600)
            spans.clear()
            genai.clear()
        if len(logs) >= BATCH or (final and logs):
            store.write_logs(EncodedBatch(logs[:], resources, scopes), timeout=600)
            logs.clear()

    serial = 0
    for t in range(traces):
        trace_id = hashlib.blake2b(b"%d|%d" % (total_spans, t), digest_size=16).digest()
        start = end_ns - WEEK_NS + t * step
        service = rng.randrange(len(SERVICES))
        count = BIG_TRACE_SPANS if t == big_trace else SPANS_PER_TRACE
        if t == big_trace:
            facts["big_trace"] = trace_id.hex()
        root_duration = int(rng.expovariate(1 / 50) * 1e6) + 1000
        root_span = None
        for s in range(count):
            serial += 1
            span_id = serial.to_bytes(8, "big")
            parent = None if s == 0 else root_span
            if s == 0:
                root_span = span_id
            offset = 0 if s == 0 else rng.randrange(0, root_duration)
            duration = root_duration if s == 0 else rng.randrange(1, root_duration - offset + 1)
            failed = rng.random() < 0.02
            name = NAMES[rng.randrange(10)] if s == 0 else NAMES[rng.randrange(len(NAMES))]
            attributes: dict[str, Any] = {"http.route": name, "bench.serial": serial}
            if s == 0 and t % 2 == 0:  # half the traces are turns of a session (10 traces each)
                attributes["session.id"] = f"sess-{t // 20}"
                facts["session"] = f"sess-{t // 20}"
            is_genai = rng.random() < 0.05
            if is_genai:
                provider, model = MODELS[rng.randrange(len(MODELS))]
                usage = GenAIUsage(provider, model, rng.randrange(10, 4000), rng.randrange(1, 800), 0, 0)
                attributes.update({"gen_ai.provider.name": provider, "gen_ai.request.model": model,
                                   "gen_ai.usage.input_tokens": usage.input_tokens,
                                   "gen_ai.usage.output_tokens": usage.output_tokens,
                                   "gen_ai.conversation.id": f"conv-{t // 5}"})  # fmt: skip
                genai[len(spans)] = usage
            spans.append([trace_id, span_id, parent, name, 1 if s == 0 else 0, 0x101, start + offset, duration,
                          2 if failed else 0, "boom" if failed else None, dumps(attributes), None, None,
                          None, service, 0])  # fmt: skip
            if serial % 5 == 0 or t == big_trace:
                uid = hashlib.blake2b(b"log%d|%d" % (total_spans, serial), digest_size=16).digest()
                at = start + offset
                logs.append([uid, at, at, 17 if failed else 9, "ERROR" if failed else "INFO",
                             dumps(f"handled {name} #{serial}"), None, trace_id, span_id, None, None, None, service,
                             0])  # fmt: skip
        flush()
    flush(final=True)
    release(store)
    return facts


def ensure_store(total_spans: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"spans-{total_spans}.db"
    facts_path = path.with_suffix(".json")
    if rebuild or not facts_path.exists():
        for suffix in ("", "-wal", "-shm", ".json"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        # Both stores end at the last half past the hour: a 24h window then cuts its first hour in the middle
        # (the average case) in both, instead of wherever the clock was when each was built.
        end_ns = (time.time_ns() - 1800 * 10**9) // (3600 * 10**9) * (3600 * 10**9) + 1800 * 10**9
        facts = build(path, total_spans, end_ns)
        facts_path.write_text(json.dumps(facts))
        print(f"built {path} ({total_spans:,} spans) in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path, json.loads(facts_path.read_text())


def best(fn: Callable[[], Any], rounds: int) -> float:
    """The median of ``rounds`` timed calls after one warm-up (milliseconds)."""
    fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def queries(path: Path, facts: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    store = open_store(str(path))
    since = dt.datetime.fromtimestamp((facts["end_ns"] - 86400 * 10**9) / 1e9, tz=dt.timezone.utc)
    return {
        "traces --limit 50": lambda: store.traces(limit=50),
        "traces --service billing --limit 50": lambda: store.traces(service="billing", limit=50),
        "traces --errors --limit 50": lambda: store.traces(status="error", limit=50),
        "traces --min-duration 200ms --limit 50": lambda: store.traces(min_duration="200ms", limit=50),
        f"show <{BIG_TRACE_SPANS}-span trace>": lambda: store.trace(facts["big_trace"]),
        "logs --trace <that trace>": lambda: store.logs(trace_id=facts["big_trace"]),
        "usage --since 24h": lambda: store.usage(since=since),
        "stats --since 24h": lambda: store.stats(since=since),
        "stats --since 24h --by service": lambda: store.stats(since=since, by="service"),
        "sessions --limit 50": lambda: store.sessions(limit=50),
        "sessions --kind conversation --limit 50": lambda: store.sessions(kind="conversation", limit=50),
        "sessions --since 24h --limit 50": lambda: store.sessions(since=since, limit=50),
        "session <10-trace session>": lambda: store.session(facts["session"]),
    }


def count_window(path: Path, start_ns: int) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM lens_spans WHERE start_ns >= ?", (start_ns,)).fetchone()[0])
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    parser.add_argument("--large", type=int, default=1_000_000, help="spans in the large store")
    parser.add_argument("--only", action="append", metavar="TEXT", help="run only the queries whose label has TEXT")
    args = parser.parse_args()
    small_path, small_facts = ensure_store(10_000, args.rebuild)
    large_path, large_facts = ensure_store(args.large, args.rebuild)
    small, large = queries(small_path, small_facts), queries(large_path, large_facts)
    print(f"{'query':42} {'10k ms':>9} {'1M ms':>9} {'ratio':>7}  goal ≤1.5×")
    worst = 0.0
    for label in small:
        if args.only and not any(text in label for text in args.only):
            continue
        a, b = best(small[label], args.rounds), best(large[label], args.rounds)
        worst = max(worst, b / a)
        print(f"{label:42} {a:9.2f} {b:9.2f} {b / a:6.2f}×  {'ok' if b / a <= 1.5 else 'MISSED'}")
    if args.only and not any(text in "stats --since 24h" for text in args.only):
        print(f"worst size ratio {worst:.2f}× (goal ≤ 1.5×)")
        return
    cutoff = large_facts["end_ns"] - 86400 * 10**9
    since = dt.datetime.fromtimestamp(cutoff / 1e9, tz=dt.timezone.utc)
    store = open_store(str(large_path))
    stats_ms = best(lambda: store.stats(since=since), args.rounds)
    count_ms = best(lambda: count_window(large_path, cutoff), args.rounds)
    scan_ms = best(
        lambda: store._reader.run(lambda m: _aggregates._rows("name", _aggregates._scan(m, "name", cutoff, None))), 3
    )
    print(
        f"stats --since 24h on {args.large:,} spans ({count_window(large_path, cutoff):,} in the window): "
        f"{stats_ms:.1f} ms vs SELECT count(*) {count_ms:.1f} ms = {stats_ms / count_ms:.2f}×; "
        f"the exact span scan (before the histograms): {scan_ms:.1f} ms = {scan_ms / count_ms:.1f}×"
    )
    print(f"worst size ratio {worst:.2f}× (goal ≤ 1.5×)")


if __name__ == "__main__":
    shutil.disk_usage("/tmp")  # fail early and clearly if /tmp is missing
    main()
