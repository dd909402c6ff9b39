"""``/api/diff`` on a real ``otel-lens serve``: the diff read API's dict plus the merged tree, ids as the API takes
them (unique prefixes, ``previous=``), and bad input answered 400/404 with one line, never a 500."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import _diff_demo
from tests._web import Viewer, serve


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Viewer, dict[str, str]]]:
    database = tmp_path_factory.mktemp("web-diff") / "lens.db"
    ids = _diff_demo.build(str(database), time.time_ns())
    with serve(database) as viewer:
        yield viewer, ids


def _get(viewer: Viewer, **params: str) -> Any:
    with viewer.client() as client:
        return client.get("/api/diff", params=params)


def _rows(data: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(row["kind"], data[row["kind"]][row["index"]]["name"], row["depth"]) for row in data["tree"]]


def test_diff_gives_the_merged_tree_with_deltas_and_attribute_changes(site: Any) -> None:
    """Two runs of one request: the tree is root then its children in start order; the slower span's delta and
    ratio, and the changed attribute with both values, are in the answer."""
    viewer, ids = site
    answer = _get(viewer, a=ids["a"], b=ids["b"])
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["a"]["trace_id"] == ids["a"] and data["b"]["trace_id"] == ids["b"]
    assert _rows(data) == [("matched", "GET /report", 0), ("matched", "load rows", 1), ("matched", "render", 1)]
    assert [row["parent"] for row in data["tree"]] == [None, 0, 0]
    load = next(m for m in data["matched"] if m["name"] == "load rows")
    assert load["delta_ms"] == pytest.approx(50) and load["ratio"] == pytest.approx(6)
    assert load["attributes"] is None
    render = next(m for m in data["matched"] if m["name"] == "render")
    assert render["attributes"]["changed"] == {"template": {"a": "v1", "b": "v2"}}
    assert data["tree"][1]["a_offset_ms"] == pytest.approx(1) and data["tree"][2]["b_offset_ms"] == pytest.approx(70)


def test_added_span_and_status_change_are_in_the_tree(site: Any) -> None:
    """A span only in B is an ``added`` row under its parent; a span that failed in B has ``status_changed``."""
    viewer, ids = site
    data = _get(viewer, a=ids["a"], b=ids["c"]).json()
    assert _rows(data) == [("matched", "GET /report", 0), ("matched", "load rows", 1), ("matched", "render", 1),
                           ("added", "retry render", 1)]  # fmt: skip
    render = next(m for m in data["matched"] if m["name"] == "render")
    assert render["status_changed"] is True and render["b"]["status"]["code"] == "ERROR"
    reverse = _get(viewer, a=ids["c"], b=ids["a"]).json()
    assert [kind for kind, _, _ in _rows(reverse)] == ["matched", "matched", "matched", "removed"]


def test_prefixes_and_previous_resolve_to_the_full_ids(site: Any) -> None:
    """Unique prefixes work as on the trace route; ``previous=B`` compares the trace before B (A) with B."""
    viewer, ids = site
    data = _get(viewer, a=ids["a"][:12], b=ids["b"][:12]).json()
    assert (data["a"]["trace_id"], data["b"]["trace_id"]) == (ids["a"], ids["b"])
    data = _get(viewer, previous=ids["b"]).json()
    assert (data["a"]["trace_id"], data["b"]["trace_id"]) == (ids["a"], ids["b"])


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"b": "ab"}, 400, "a is missing"),
        ({"a": "ab"}, 400, "b is missing"),
        ({}, 400, "a is missing"),
        ({"a": "not-hex!", "b": "ab"}, 400, "not-hex"),
        ({"a": "f" * 32, "b": "0" * 32}, 404, ""),
        ({"a": "ab", "b": "cd", "previous": "ab"}, 400, "previous"),
        ({"previous": "zz"}, 400, "zz"),
        ({"a": "x" * 5000, "b": "ab"}, 400, "longer than 4096"),
    ],
)
def test_bad_ids_are_one_line_400_or_404_never_500(site: Any, params: dict[str, str], status: int, words: str) -> None:
    """Each bad request is answered with its status and a one-line ``error`` naming what was wrong."""
    viewer, _ = site
    answer = _get(viewer, **params)
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]
    assert words in message and "\n" not in message and "Traceback" not in message


def test_previous_of_the_first_trace_is_a_404(site: Any) -> None:
    """The earliest run has no trace before it: 404 saying so (the page shows that line)."""
    viewer, ids = site
    answer = _get(viewer, previous=ids["a"])
    assert answer.status_code == 404
    assert "no trace before" in answer.json()["error"]


def test_the_diff_page_is_a_shell_without_inline_script(site: Any) -> None:
    """``/diff`` serves the page shell (its module diff.js, no inline script); the id text is not echoed in it."""
    viewer, _ = site
    with viewer.client() as client:
        page = client.get("/diff", params={"a": "<script>x</script>", "b": "ab"})
    assert page.status_code == 200
    assert '<script type="module" src="/static/diff.js"></script>' in page.text
    assert "<script>x" not in page.text


def test_merged_tree_survives_a_deep_chain(tmp_path: Path) -> None:
    """A 3,000-deep chain of spans (no recursion limit), every span once, depths 0…2999."""
    from otel_lens.query import diff_traces, open_store
    from otel_lens.web._diff_api import merged_tree
    from tests._web import MS, Demo

    database = tmp_path / "deep.db"
    demo = Demo(str(database))
    ids = []
    try:
        for run in range(2):
            start = time.time_ns() - (10 - run) * 1000 * MS
            tracer = demo.tracer("deep")
            from opentelemetry import trace

            spans = [tracer.start_span("level", start_time=start)]
            for depth in range(1, 3000):
                context = trace.set_span_in_context(spans[-1])
                spans.append(tracer.start_span("level", context=context, start_time=start + depth * 1000))
            for span in reversed(spans):
                span.end(end_time=start + 10 * MS)
            ids.append(f"{spans[0].get_span_context().trace_id:032x}")
    finally:
        demo.close()
    with open_store(str(database)) as store:
        rows = merged_tree(diff_traces(store, ids[0], ids[1]))
    assert [row["depth"] for row in rows] == list(range(3000))
