"""Trace pairs for the diff page's tests: the same request twice, one span slower and one attribute changed."""

from __future__ import annotations

from typing import Any

from tests._web import HOSTILE_NAME, HOSTILE_VALUE, MS, Demo


def _trace_id(span: Any) -> str:
    return f"{span.get_span_context().trace_id:032x}"


def report(demo: Demo, start: int, load_ms: int, template: str, retry: bool = False, fail: bool = False) -> str:
    """``GET /report`` › ``load rows`` (``load_ms`` long) and ``render`` (attribute ``template``); with ``retry`` a
    third child, with ``fail`` the render fails."""
    # Demo.span takes children as (callable of the parent span,) tuples.
    children: list[tuple[Any, ...]] = [
        (lambda p: demo.span("reports", "load rows", start + MS, start + (1 + load_ms) * MS, parent=p,
                             attributes={"db.rows": 10}),),
        (lambda p: demo.span("reports", "render", start + 70 * MS, start + 80 * MS, parent=p,
                             attributes={"template": template}, error="template broke" if fail else None),),
    ]  # fmt: skip
    if retry:
        children.append((lambda p: demo.span("reports", "retry render", start + 81 * MS, start + 90 * MS, parent=p),))
    return _trace_id(demo.span("reports", "GET /report", start, start + 100 * MS, children=children))


def hostile(demo: Demo, start: int, value: str) -> str:
    """A trace whose child span is named with HTML and carries an attribute holding a script tag."""
    child = lambda p: demo.span("shop", HOSTILE_NAME, start + MS, start + 3 * MS, parent=p,  # noqa: E731
                                attributes={"note": value, HOSTILE_NAME: "key"})  # fmt: skip
    return _trace_id(demo.span("shop", "hostile root", start, start + 5 * MS, children=[(child,)]))


def build(database: str, now: int) -> dict[str, str]:
    demo = Demo(database)
    try:
        return {
            "a": report(demo, now - 60_000 * MS, 10, "v1"),
            "b": report(demo, now - 50_000 * MS, 60, "v2"),
            "c": report(demo, now - 40_000 * MS, 10, "v1", retry=True, fail=True),
            "d": report(demo, now - 35_000 * MS, 60, "v2", retry=True),  # the screenshot's: every kind of mark
            "hostile_a": hostile(demo, now - 30_000 * MS, "plain"),
            "hostile_b": hostile(demo, now - 20_000 * MS, HOSTILE_VALUE),
        }
    finally:
        demo.close()
