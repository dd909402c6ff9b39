"""The sessions rollup's write cost when every trace is in a session: lens with session keys vs. the same spans without.

LLM and agent apps, the ones sessions are for, put every trace in a session: OpenInference and Langfuse copy
``session.id`` onto every span, agent frameworks put ``gen_ai.conversation.id`` on the model calls. So the
spans here are agent turns (5 spans: ``invoke_agent`` root, two ``chat`` calls with token usage, a tool
call, an HTTP call), every span carrying ``session.id`` (10 turns a session), the chat calls a
``gen_ai.conversation.id`` (2 conversations a session). Their twins without sessions are the very same
spans with the two keys renamed to names of the same length, so both stores get the same bytes.

Two arrival orders, both in SDK-sized batches (512):

- whole: each trace's spans arrive together (a trace is cut by a batch boundary at most once);
- split: a turn's root ends a batch later than its children (a long agent run), so most traces join their
  session in one batch and add to it in the next.

Each batch goes through both exporters in turn (a real ``LensSpanExporter`` on its own fresh SQLite file),
``--repeats`` times; the ratio is taken within a repeat, so machine load hits both alike. Goal: sessions ≤
1.10× the plain write. ``--profile`` profiles the sessions store once with cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _report import Table, median, spread
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.testing import IncrementalIdGenerator, SpanFactory

Batches = Sequence[Sequence[ReadableSpan]]
_TURNS_PER_SESSION = 10
_SPANS_PER_TRACE = 5
_KEYS = {"with": ("session.id", "gen_ai.conversation.id"), "without": ("sessxon.id", "gen_ai.convxrsation.id")}
_MS = 1_000_000


def agent_turns(count: int, keys: tuple[str, str]) -> list[tuple[int, ReadableSpan]]:
    """``count`` agent turns (5 spans each) as (turn number, span) in the order the SDK ends them."""
    factory = SpanFactory("support-agent", scope=("agent.runtime", "0.9"), id_generator=IncrementalIdGenerator())
    tracer = factory.tracer
    session_key, conversation_key = keys
    begin = time.time_ns() - count * 200 * _MS
    spans: list[tuple[int, ReadableSpan]] = []
    for number in range(count):
        t0 = begin + number * 200 * _MS
        session = f"sess-{number // _TURNS_PER_SESSION:06d}"
        everywhere = {session_key: session, "user.id": f"user-{number // 30}"}
        root = tracer.start_span("invoke_agent support", kind=SpanKind.INTERNAL, start_time=t0,
                                 attributes={**everywhere, "gen_ai.operation.name": "invoke_agent",
                                             "gen_ai.agent.name": "support"})  # fmt: skip
        context = trace.set_span_in_context(root)
        for call in range(2):
            chat = tracer.start_span(
                "chat gpt-4o-mini", kind=SpanKind.CLIENT, context=context, start_time=t0 + (1 + 60 * call) * _MS,
                attributes={
                    **everywhere, conversation_key: f"{session}-c{number % 2}", "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 800 + number % 97,
                    "gen_ai.usage.output_tokens": 120 + number % 31, "gen_ai.response.finish_reasons": ("stop",),
                },
            )  # fmt: skip
            chat.end(end_time=t0 + (50 + 60 * call) * _MS)
        tool = tracer.start_span("execute_tool lookup_order", context=context, start_time=t0 + 52 * _MS,
                                 attributes={**everywhere, "gen_ai.operation.name": "execute_tool",
                                             "gen_ai.tool.name": "lookup_order"})  # fmt: skip
        http = tracer.start_span("GET", kind=SpanKind.CLIENT, context=trace.set_span_in_context(tool),
                                 start_time=t0 + 53 * _MS,
                                 attributes={**everywhere, "http.request.method": "GET",
                                             "url.full": f"https://orders.internal/v1/orders/{number}",
                                             "http.response.status_code": 200})  # fmt: skip
        http.end(end_time=t0 + 57 * _MS)
        tool.end(end_time=t0 + 58 * _MS)
        root.end(end_time=t0 + 120 * _MS)
        spans.extend((number, span) for span in factory.finished())
    factory.shutdown()
    return spans


def arrive(spans: list[tuple[int, ReadableSpan]], order: str, size: int) -> list[Sequence[ReadableSpan]]:
    """The spans in export batches of ``size``: whole traces in turn, or each root a batch after its children."""
    if order == "split":
        lag = size // _SPANS_PER_TRACE  # about one batch of turns later
        spans = sorted(spans, key=lambda item: item[0] + (lag if item[1].parent is None else 0))
    ordered = [span for _number, span in spans]
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


class Sink:
    """A real LensSpanExporter on its own fresh SQLite file."""

    def __init__(self, path: Path) -> None:
        settings = Settings.load(environ={}, database=str(path), sweep_interval=0, retention=0, max_size=0)
        self.exporter = LensSpanExporter(settings)

    def export(self, batch: Sequence[ReadableSpan]) -> None:
        if self.exporter.export(batch) is not SpanExportResult.SUCCESS:
            raise RuntimeError("LensSpanExporter.export returned FAILURE")

    def close(self, expected: int, sessions: int) -> None:
        """Check every span is stored and the sessions table holds what the spans name, then shut down."""
        store = self.exporter.store
        assert store is not None
        with store.locked() as conn:
            stored = conn.execute("SELECT count(*) FROM lens_spans").fetchone()[0]
            grouped = conn.execute("SELECT count(*), coalesce(sum(trace_count), 0) FROM lens_sessions").fetchone()
        self.exporter.shutdown()
        if stored != expected:
            raise RuntimeError(f"stored {stored} spans, expected {expected}")
        if tuple(grouped) != (sessions, sessions and expected // _SPANS_PER_TRACE * 2):
            raise RuntimeError(f"lens_sessions holds (rows, traces) {tuple(grouped)}, expected {sessions} rows")


def run(work: dict[str, Batches], directory: Path, turns: int) -> dict[str, float]:
    """Every batch through both stores in turn; seconds spent in each."""
    sinks = {name: Sink(directory / f"{name}.db") for name in work}
    seconds = dict.fromkeys(work, 0.0)
    names = list(work)
    gc.collect()
    for index in range(len(work["with"])):
        for name in names[index % 2 :] + names[: index % 2]:  # alternate who goes first
            started = time.perf_counter()
            sinks[name].export(work[name][index])
            seconds[name] += time.perf_counter() - started
    expected = turns * _SPANS_PER_TRACE
    sessions = -(-turns // _TURNS_PER_SESSION)
    sinks["with"].close(expected, sessions * 3)  # each session and its two conversations
    sinks["without"].close(expected, 0)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=6_000, help="agent turns (traces) to make, 5 spans each")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs; medians are reported")
    parser.add_argument("--batch", type=int, default=512, help="spans per export call (the SDK's default)")
    parser.add_argument("--profile", action="store_true", help="also profile the sessions store with cProfile")
    args = parser.parse_args(argv)
    made = {name: agent_turns(args.turns, keys) for name, keys in _KEYS.items()}
    count = args.turns * _SPANS_PER_TRACE
    table = Table(f"sessions write: {count} spans, batches of {args.batch}, median of {args.repeats} repeats")
    for order in ("whole", "split"):
        work = {name: arrive(spans, order, args.batch) for name, spans in made.items()}
        ratios: list[float] = []
        per_batch: dict[str, list[float]] = {name: [] for name in work}
        for rep in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="lens-bench-sessions-") as tmp:
                seconds = run(work, Path(tmp), args.turns)
            ratios.append(seconds["with"] / seconds["without"])
            for name, value in seconds.items():
                per_batch[name].append(value / len(work[name]) * 1000)
            print(f"  {order} repeat {rep + 1}: with {per_batch['with'][-1]:.2f} ms/batch, "
                  f"without {per_batch['without'][-1]:.2f} ms/batch, ratio {ratios[-1]:.3f}×", flush=True)  # fmt: skip
        for name in work:
            ms = per_batch[name]
            table.add(f"{order}: {name} sessions", f"{median(ms):.2f} ms/batch", spread(ms, lambda v: f"{v:.2f}"))
        extra = median(per_batch["with"]) - median(per_batch["without"])
        table.add(f"{order}: the sessions rollup", f"{extra:.2f} ms/batch", "with − without")
        ratio = median(ratios)
        table.goal(f"{order}: with/without sessions", ratio, "≤ 1.10×", ratio <= 1.10, fmt="{:.3f}×")
    table.print()
    if args.profile:
        work = {name: arrive(spans, "split", args.batch) for name, spans in made.items()}
        with tempfile.TemporaryDirectory(prefix="lens-bench-sessions-") as tmp:
            sink = Sink(Path(tmp) / "profile.db")
            profile = cProfile.Profile()
            profile.enable()
            for batch in work["with"]:
                sink.export(batch)
            profile.disable()
            sink.close(count, -(-args.turns // _TURNS_PER_SESSION) * 3)
        print("== cProfile of the sessions store, split order (top 30 by cumulative time) ==")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    return 0  # a missed goal is reported above, never as a failure


if __name__ == "__main__":
    sys.exit(main())
