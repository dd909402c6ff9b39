"""``/api/diff?a=&b=`` (or ``?previous=<trace>``): the diff read API's dict, plus the merged tree the diff page draws.

The read API (``diff_traces``) aligns the two traces by name path and lists added, removed and matched
spans by size of change; the page shows them as one tree, so this adds ``tree``: every aligned span once,
depth first, children in start order, each row naming its entry (``kind`` ``added``/``removed``/``matched``
and ``index`` into that list), its ``depth``, its parent row and its start offset in A and in B.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from otel_lens.query import SpanDiff, Store, TraceDiff, diff_traces, previous_trace
from otel_lens.web._api import BadParameter, answering, text
from otel_lens.web._reads import Reads

_KINDS = ("matched", "removed", "added")


def merged_tree(diff: TraceDiff) -> list[dict[str, Any]]:
    """The rows of the merged tree (see the module docstring); a span whose parent is not in its trace is a root."""
    entries: list[tuple[str, int, SpanDiff]] = [
        (kind, index, item) for kind in _KINDS for index, item in enumerate(getattr(diff, kind))
    ]
    by_a = {item.a.span_id: n for n, (_, _, item) in enumerate(entries) if item.a is not None}
    by_b = {item.b.span_id: n for n, (_, _, item) in enumerate(entries) if item.b is not None}

    def parent(item: SpanDiff) -> int | None:
        # A matched span's parent in A is matched too (same path minus its last name), so A decides for it.
        if item.a is not None:
            return by_a.get(item.a.parent_span_id or "")
        assert item.b is not None
        return by_b.get(item.b.parent_span_id or "")

    def offset_ms(item: SpanDiff, side: str) -> float | None:
        span = getattr(item, side)
        start = getattr(diff, side).start_ns
        return None if span is None else (span.start_ns - start) / 1e6

    children: dict[int | None, list[int]] = {}
    for n, (_, _, item) in enumerate(entries):
        up = parent(item)
        children.setdefault(up if up != n else None, []).append(n)

    def start_key(n: int) -> tuple[float, str]:
        item = entries[n][2]
        a, b = offset_ms(item, "a"), offset_ms(item, "b")
        return (a if a is not None else b if b is not None else 0.0, item.label)

    for items in children.values():
        items.sort(key=start_key)
    rows: list[dict[str, Any]] = []
    row_of: dict[int, int] = {}
    stack: list[tuple[int, int, int | None]] = [(n, 0, None) for n in reversed(children.get(None, []))]
    while stack:  # iterative: a 10,000-deep chain must not hit the recursion limit
        n, depth, up = stack.pop()
        if n in row_of:
            continue  # a parent cycle in bad data: each span is drawn once
        kind, index, item = entries[n]
        row_of[n] = len(rows)
        rows.append({"kind": kind, "index": index, "depth": depth, "parent": up,
                     "a_offset_ms": offset_ms(item, "a"), "b_offset_ms": offset_ms(item, "b")})  # fmt: skip
        stack.extend((child, depth + 1, row_of[n]) for child in reversed(children.get(n, [])))
    return rows


def _diff(request: Request) -> Any:
    a, b, previous = text(request, "a"), text(request, "b"), text(request, "previous")
    if previous is not None and (a is not None or b is not None):
        raise BadParameter("give a and b, or previous=<trace id> alone (it is compared with the trace before it)")
    if previous is None and (a is None or b is None):
        missing = "a" if a is None else "b"
        raise BadParameter(f"{missing} is missing: /api/diff?a=<trace id>&b=<trace id> (or ?previous=<trace id>)")

    def work(store: Store) -> Any:
        first, second = (previous_trace(store, previous), previous) if previous is not None else (a, b)
        assert first is not None and second is not None
        diff = diff_traces(store, first, second)
        return diff.as_dict() | {"tree": merged_tree(diff)}

    return work


def diff_routes(reads: Reads) -> list[Route]:
    return [Route("/api/diff", answering(reads, _diff), methods=["GET"])]
