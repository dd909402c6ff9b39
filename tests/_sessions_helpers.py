"""Traces of sessions and conversations made by the real SDK (SpanFactory) for the sessions tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Status, StatusCode

from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.testing import SpanFactory

MODEL = "gpt-4o-mini"


def turn(
    factory: SpanFactory,
    root_attributes: Mapping[str, Any],
    tokens: Sequence[tuple[int, int]] = ((100, 20),),
    *,
    start_ns: int | None = None,
    fail: bool = False,
    llm_attributes: Mapping[str, Any] | None = None,
    question: str | None = None,
) -> list[ReadableSpan]:
    """One trace: a root with ``root_attributes`` and one model-call child per ``tokens`` (input, output), the
    children ending first (as the SDK exports them). ``fail`` marks the last child ERROR."""
    begin = time.time_ns() if start_ns is None else start_ns
    tracer = factory.tracer
    root = tracer.start_span("agent turn", start_time=begin, attributes=dict(root_attributes))
    context = trace.set_span_in_context(root)
    for index, (inp, out) in enumerate(tokens):
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": MODEL,
            "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out, **(llm_attributes or {}),
        }  # fmt: skip
        if question is not None:
            attributes["gen_ai.input.messages"] = (
                f'[{{"role":"user","parts":[{{"type":"text","content":{_json(question)}}}]}}]'
            )
            attributes["gen_ai.output.messages"] = (
                '[{"role":"assistant","parts":[{"type":"text","content":"Sure."}],"finish_reason":"stop"}]'
            )
        child = tracer.start_span(f"chat {MODEL}", context=context, start_time=begin + 1000 * (index + 1),
                                  attributes=attributes)  # fmt: skip
        if fail and index == len(tokens) - 1:
            child.set_status(Status(StatusCode.ERROR, "boom"))
        child.end(end_time=begin + 1000 * (index + 1) + 500)
    root.end(end_time=begin + 1000 * (len(tokens) + 2))
    return factory.finished()


def _json(text: str) -> str:
    import json

    return json.dumps(text)


def export(settings: Settings, *batches: Sequence[ReadableSpan]) -> None:
    """Each batch as one export call of a real LensSpanExporter (then shut down)."""
    exporter = LensSpanExporter(settings)
    try:
        for batch in batches:
            exporter.export(list(batch))
    finally:
        exporter.shutdown()


def traces_split_between_writers(factory: SpanFactory, half: int) -> list[list[ReadableSpan]]:
    """40 traces in 4 sessions (fixed times, so two processes make the very same spans with an incremental id
    generator); ``half`` 0 keeps each trace's first model call, 1 the rest and the root (with session.id):
    batches of 2 traces each."""
    base = 1_700_000_000 * 10**9
    kept = []
    for number in range(40):
        spans = turn(
            factory, {"session.id": f"sess-{number % 4}"}, ((100, 10), (200, 20)), start_ns=base + number * 10**6
        )
        kept.append(spans[:1] if half == 0 else spans[1:])
    return [kept[i] + kept[i + 1] for i in range(0, 40, 2)]
