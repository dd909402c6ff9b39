"""lens_fn(capture=True) with oversized data (RELIABILITY 13, 22): input and output bodies are capped each on
its own, and neither a large argument nor a large attribute beside them costs the captured output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry import trace

from otel_lens import configure, lens_fn, open_store
from otel_lens.query.results import SpanRecord
from tests._facade_helpers import otel_globals_restored

_FIVE_MB = 5 * 1024 * 1024


def _only_span(database: Path) -> SpanRecord:
    with open_store(database) as store:
        (summary,) = store.traces()
        (span,) = store.trace(summary.trace_id).spans
    return span


def test_a_5mb_argument_keeps_the_captured_result(db_path: Path) -> None:
    """A 5 MB argument is captured cut to max_body_size (flagged truncated, its real size kept); the result
    body beside it is stored whole and reads back through open_store()."""
    with otel_globals_restored():
        lens = configure(database=str(db_path), service_name="capture", max_body_size="16KiB")

        @lens_fn(capture=True)
        def summarize(document: str) -> dict[str, Any]:
            return {"words": 1, "first": document[:10]}

        assert summarize("w" * _FIVE_MB) == {"words": 1, "first": "w" * 10}
        lens.shutdown()
    span = _only_span(db_path)
    assert span.attributes["lens.body.output"] == '{"words":1,"first":"wwwwwwwwww"}'
    assert "lens.body.output.truncated" not in span.attributes
    body = span.attributes["lens.body.input"]
    assert body.startswith('{"document":"www') and len(body.encode()) <= 16 * 1024
    assert span.attributes["lens.body.input.truncated"] is True
    assert span.attributes["lens.body.input.size"] > _FIVE_MB


def test_a_huge_attribute_on_the_span_does_not_cost_the_captured_bodies(db_path: Path) -> None:
    """A captured call whose span also gets a 5000×1 KB array (set by the code it runs) keeps both body
    references and the result body: only the array is cut."""
    with otel_globals_restored():
        lens = configure(database=str(db_path), service_name="capture")

        @lens_fn(capture=True)
        def load(ids: list[int]) -> list[int]:
            trace.get_current_span().set_attribute("rows.raw", ["r" * 1000] * 5000)
            return [i * 2 for i in ids]

        assert load([1, 2, 3]) == [2, 4, 6]
        lens.shutdown()
    span = _only_span(db_path)
    assert span.attributes["lens.body.input"] == '{"ids":[1,2,3]}'
    assert span.attributes["lens.body.output"] == "[2,4,6]"
    assert span.attributes["rows.raw"][-1].endswith("items truncated]")
