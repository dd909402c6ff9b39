"""Running-span benchmark: what the RunningSpanProcessor costs short ``lens_fn`` spans (goal ≤ 1.05×).

Each repeat is a fresh interpreter on a fresh database with ``configure()``, timing ``lens_fn`` calls in
chunks of 500 (below the export batch size, flushed between chunks: the caller's cost, as bench_facade's
lens_fn overhead), alternating chunks with the provider's RunningSpanProcessor in place and taken out
(the same process, store and batch processor otherwise: on a shared machine only alternation in one run
compares). Then, for reference, 20 long spans are kept open (stored as running rows, the heartbeat
beating) while short calls are timed again. Medians per repeat, every repeat printed; the goal compares
the medians of the repeats. Never fails on time.
Run: ``python benchmarks/bench_running.py`` (``--quick`` for a smaller run, ``--repeats N``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

from _report import Table, median, spread

CHILD = """
import os, statistics, tempfile, time
from opentelemetry import trace
from otel_lens import configure, lens_fn
calls = {calls}
lens = configure(database=os.path.join(tempfile.mkdtemp(), "r.db"), sweep_interval=0, capture_logging=False)
multi = trace.get_tracer_provider()._active_span_processor
with_running = multi._span_processors
without_running = tuple(p for p in with_running if p is not lens.running_processor)
assert len(without_running) == len(with_running) - 1
tracer = trace.get_tracer("bench")

@lens_fn
def short(x):
    return x + 1

def chunk(processors):
    multi._span_processors = processors
    start = time.perf_counter()
    for i in range(500):
        short(i)
    elapsed = time.perf_counter() - start
    multi._span_processors = with_running
    lens.force_flush()
    return elapsed / 500 * 1e6

for i in range(2000):  # warm-up
    short(i)
lens.force_flush()
timed = {{"without": [], "with": [], "long-open": []}}
for round in range(calls // 500):  # alternating chunks, the order swapped each round
    order = [("without", without_running), ("with", with_running)]
    for name, processors in order if round % 2 else order[::-1]:
        timed[name].append(chunk(processors))
held = [tracer.start_span(f"long-{{i}}") for i in range(20)]
time.sleep(1.5)  # past the 1 s interval: the long spans are stored as running and the heartbeat beats
for round in range(calls // 1000):
    timed["long-open"].append(chunk(with_running))
probe = tracer.start_span("probe")  # the processor's own work per span: one dict insert and one pop
proc = lens.running_processor
start = time.perf_counter()
for _ in range(200_000):
    proc.on_start(probe)
    proc.on_end(probe)
own_ns = (time.perf_counter() - start) / 200_000 * 1e9
print(*(statistics.median(timed[name]) for name in ("without", "with", "long-open")), own_ns)
"""

VARIANTS = ("without", "with", "long-open", "own")


def run_child(calls: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    code = textwrap.dedent(CHILD.format(calls=calls))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=600, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr.decode())
    return [float(x) for x in done.stdout.split()[-4:]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each variant (default 5, quick 3)")
    args = parser.parse_args(argv)
    calls = 5_000 if args.quick else 20_000
    repeats = args.repeats or (3 if args.quick else 5)
    results: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for repeat in range(repeats):
        for variant, value in zip(VARIANTS, run_child(calls), strict=True):
            results[variant].append(value)
        print(
            f"repeat {repeat + 1}: "
            + "  ".join(f"{v} {results[v][-1]:.2f} µs/call" for v in VARIANTS[:3])
            + f"  processor {results['own'][-1]:.0f} ns/span",
            flush=True,
        )
    table = Table(f"Running spans: lens_fn short spans, {calls} calls, {repeats} repeats (medians)")

    def us(value: float) -> str:
        return f"{value:.2f} µs"

    for variant in VARIANTS[:3]:
        table.add(f"lens_fn per call, {variant} the running-span processor"
                  if variant != "long-open" else "lens_fn per call, with it and 20 long spans open (running)",
                  us(median(results[variant])), spread(results[variant], us))  # fmt: skip
    ratio = median(results["with"]) / median(results["without"])
    table.goal("with / without the running-span processor", ratio, "≤ 1.05×", ratio <= 1.05)
    table.add("the processor's own on_start + on_end per span", f"{median(results['own']):.0f} ns",
              spread(results["own"], lambda v: f"{v:.0f} ns"))  # fmt: skip
    table.add("with 20 long spans open / without", f"{median(results['long-open']) / median(results['without']):.2f}×")
    table.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
