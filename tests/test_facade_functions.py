"""lens_fn: decorator forms, function kinds, nesting, exceptions (RELIABILITY 16), generators (17), sizes (15)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otel_lens import lens_fn
from otel_lens.facade._sizes import approx_size
from tests._facade_helpers import otel_globals_restored


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    """A global SDK provider exporting synchronously to memory (restored afterwards)."""
    with otel_globals_restored():
        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        yield exporter
        provider.shutdown()


@pytest.fixture
def otel_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if OTel logged a complaint ("Failed to detach context", "end() on an ended span", …)."""
    caplog.set_level(logging.WARNING)
    yield
    complaints = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")]
    assert complaints == []


def test_otel_errors_fixture_sees_double_end(exported: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    """The complaint check is real: ending a span twice is logged by the SDK where the fixture looks."""
    caplog.set_level(logging.WARNING)
    span = trace.get_tracer("t").start_span("twice")
    span.end()
    span.end()
    assert any(r.name.startswith("opentelemetry") for r in caplog.records)


def names(exporter: InMemorySpanExporter) -> list[str]:
    return [s.name for s in exporter.get_finished_spans()]


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_every_decorator_form_names_the_span(exported: InMemorySpanExporter) -> None:
    """Bare, positional name and keyword name forms; the default name is the qualified function name."""

    @lens_fn
    def bare() -> int:
        return 1

    @lens_fn("given.name")
    def positional() -> int:
        return 2

    @lens_fn(name="kw.name", capture=False)
    def keyword() -> int:
        return 3

    @lens_fn()
    def empty_call() -> int:
        return 4

    assert (bare(), positional(), keyword(), empty_call()) == (1, 2, 3, 4)
    assert names(exported) == [
        "test_every_decorator_form_names_the_span.<locals>.bare",
        "given.name",
        "kw.name",
        "test_every_decorator_form_names_the_span.<locals>.empty_call",
    ]
    assert bare.__name__ == "bare" and bare.__wrapped__ is not None  # type: ignore[attr-defined]


def test_nested_calls_become_parent_and_child(exported: InMemorySpanExporter) -> None:
    """A decorated call inside another is its child, in the same trace."""

    @lens_fn
    def child() -> str:
        return "c"

    @lens_fn
    def parent() -> str:
        return child() + child()

    parent()
    first, second, outer = exported.get_finished_spans()
    assert outer.parent is None
    assert first.parent is not None and first.parent.span_id == outer.context.span_id
    assert second.parent is not None and second.parent.span_id == outer.context.span_id
    assert first.context.trace_id == outer.context.trace_id


def test_async_functions_keep_their_kind_and_nest(exported: InMemorySpanExporter) -> None:
    """An async function stays a coroutine function and its awaited children are its child spans."""

    @lens_fn
    async def child(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    @lens_fn
    async def parent() -> list[int]:
        return list(await asyncio.gather(child(1), child(2)))

    assert asyncio.iscoroutinefunction(parent)
    assert asyncio.run(parent()) == [2, 4]
    spans = exported.get_finished_spans()
    outer = spans[-1]
    assert [s.parent.span_id for s in spans[:-1] if s.parent] == [outer.context.span_id] * 2


class Engine:
    """Methods of every binding kind, decorated in both orders."""

    factor = 10

    @lens_fn
    def method(self, x: int) -> int:
        return x * self.factor

    @lens_fn
    @classmethod
    def cls_outer(cls, x: int) -> int:
        return x * cls.factor

    @classmethod
    @lens_fn
    def cls_inner(cls, x: int) -> int:
        return x + cls.factor

    @lens_fn
    @staticmethod
    def static_outer(x: int) -> int:
        return -x

    @staticmethod
    @lens_fn("engine.static")
    def static_inner(x: int) -> int:
        return x


def test_methods_classmethods_and_staticmethods(exported: InMemorySpanExporter) -> None:
    """Decorating methods, classmethods and staticmethods (either decorator order) keeps their binding."""
    engine = Engine()
    assert engine.method(2) == 20
    assert Engine.cls_outer(3) == 30 and engine.cls_inner(1) == 11  # type: ignore[call-arg,arg-type]
    assert Engine.static_outer(4) == -4 and engine.static_inner(5) == 5  # type: ignore[call-arg,arg-type]
    assert names(exported) == [
        "Engine.method",
        "Engine.cls_outer",
        "Engine.cls_inner",
        "Engine.static_outer",
        "engine.static",
    ]


@pytest.mark.parametrize("exc_type", [ValueError, KeyboardInterrupt, SystemExit, GeneratorExit])
def test_exceptions_end_the_span_once_and_propagate_unchanged(
    exported: InMemorySpanExporter, otel_errors: None, exc_type: type[BaseException]
) -> None:
    """RELIABILITY 16: the span ends once, is ERROR with an exception event; the same object and traceback propagate."""
    raised = exc_type("boom")

    @lens_fn
    def fails() -> None:
        raise raised

    with pytest.raises(exc_type) as info:
        fails()
    assert info.value is raised
    assert info.traceback[-1].name == "fails"  # the original frame is still there
    span = only(exported)
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes is not None and str(span.events[0].attributes["exception.type"]).endswith(
        exc_type.__name__
    )


def test_cancelled_coroutine_ends_its_span_once(exported: InMemorySpanExporter, otel_errors: None) -> None:
    """RELIABILITY 16: asyncio.CancelledError ends the span once, marked, and still cancels the task."""

    @lens_fn
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.ensure_future(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = only(exported)
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes is not None
    assert str(span.events[0].attributes["exception.type"]).endswith("CancelledError")


def test_generators_exhausted_abandoned_and_collected(exported: InMemorySpanExporter, otel_errors: None) -> None:
    """RELIABILITY 17: every generator's span ends exactly once, with no context-detach noise."""

    @lens_fn
    def count(n: int) -> Iterator[int]:
        yield from range(n)

    assert list(count(3)) == [0, 1, 2]
    abandoned = count(10)
    next(abandoned)
    abandoned.close()
    collected = count(10)
    next(collected)
    next(collected)
    del collected
    gc.collect()
    never_started = count(10)
    del never_started
    spans = exported.get_finished_spans()
    assert [s.attributes.get("lens.output.items") for s in spans] == [3, 1, 2]
    assert [bool(s.attributes.get("lens.generator.closed")) for s in spans] == [False, True, True]
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_generator_send_throw_and_return_value(exported: InMemorySpanExporter, otel_errors: None) -> None:
    """send() and throw() reach the wrapped generator; its return value comes through ``yield from``."""

    @lens_fn
    def echo() -> Iterator[Any]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except KeyError:
            yield "handled"
        return "done"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("x") == "got x"
    assert gen.throw(KeyError("k")) == "handled"

    def delegate() -> Iterator[Any]:
        result = yield from echo()
        assert result == "done"

    list(delegate())
    with pytest.raises(StopIteration):
        next(gen)
    assert len(exported.get_finished_spans()) == 2


def test_generator_error_inside_is_marked(exported: InMemorySpanExporter, otel_errors: None) -> None:
    """RELIABILITY 16: an exception raised by the generator itself marks its span and propagates."""
    problem = RuntimeError("in gen")

    @lens_fn
    def bad() -> Iterator[int]:
        yield 1
        raise problem

    with pytest.raises(RuntimeError) as info:
        list(bad())
    assert info.value is problem
    assert only(exported).status.status_code is StatusCode.ERROR


def test_child_spans_inside_a_generator_are_its_children(exported: InMemorySpanExporter) -> None:
    """Work done while the generator runs is parented to the generator's span, not the consumer's."""

    @lens_fn
    def step(i: int) -> int:
        return i

    @lens_fn
    def produce() -> Iterator[int]:
        for i in range(2):
            yield step(i)

    @lens_fn
    def consume() -> int:
        return sum(produce())

    consume()
    by_name = {s.name.rsplit(".", 1)[-1]: s for s in exported.get_finished_spans()}
    steps = [s for s in exported.get_finished_spans() if s.name.endswith("step")]
    assert all(s.parent is not None and s.parent.span_id == by_name["produce"].context.span_id for s in steps)
    assert by_name["produce"].parent is not None
    assert by_name["produce"].parent.span_id == by_name["consume"].context.span_id


def test_async_generators_exhausted_abandoned_and_collected(exported: InMemorySpanExporter, otel_errors: None) -> None:
    """RELIABILITY 17: async generator spans end once whether exhausted, closed early or left to the loop."""

    @lens_fn
    async def ticks(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def main() -> None:
        assert [i async for i in ticks(3)] == [0, 1, 2]
        early = ticks(5)
        assert await early.__anext__() == 0
        await early.aclose()
        left = ticks(5)
        await left.__anext__()
        del left
        gc.collect()
        await asyncio.sleep(0.01)

    asyncio.run(main())
    spans = exported.get_finished_spans()
    assert sorted(s.attributes.get("lens.output.items") for s in spans) == [1, 1, 3]
    assert sum(bool(s.attributes.get("lens.generator.closed")) for s in spans) == 2


class Hostile:
    """An object whose every introspection hook raises."""

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __sizeof__(self) -> int:
        raise RuntimeError("sizeof")

    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("iter")


class HostileList(list[int]):
    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("iter")


def test_size_estimates_survive_hostile_arguments(exported: InMemorySpanExporter) -> None:
    """RELIABILITY 15: cyclic, 10k-deep, hostile, huge-generator arguments: sizes never raise nor consume."""
    cyclic: list[Any] = [1, 2]
    cyclic.append(cyclic)
    cyclic_dict: dict[str, Any] = {}
    cyclic_dict["self"] = cyclic_dict
    deep: list[Any] = []
    node = deep
    for _ in range(10_000):
        node.append([])
        node = node[0]
    consumed: list[int] = []

    def huge() -> Iterator[int]:
        for i in range(10**12):
            consumed.append(i)
            yield i

    generator = huge()

    @lens_fn(capture=True)
    def takes(*args: Any, **kwargs: Any) -> Any:
        return args

    result = takes(cyclic, cyclic_dict, deep, Hostile(), HostileList([1, 2]), generator, big="x" * 10_000)
    assert result[5] is generator and consumed == []
    assert next(generator) == 0  # still at its start
    span = only(exported)
    assert isinstance(span.attributes["lens.input.size"], int) and span.attributes["lens.input.size"] >= 10_000
    assert isinstance(span.attributes["lens.output.size"], int)
    assert "lens.body.input" in span.attributes


def test_approx_size_is_roughly_the_data_size() -> None:
    """Estimates track the data: text by length, containers by sampled items, other objects by their own size."""
    assert approx_size("abc") == 3
    assert approx_size(b"\x00" * 100) == 100
    assert approx_size(["ab"] * 1000) == 2000
    assert 1000 <= approx_size({f"k{i}": "v" * 10 for i in range(100)}) <= 2000
    assert approx_size(Hostile()) == object.__sizeof__(Hostile())
    assert approx_size(x for x in range(10)) > 0


def test_signature_and_metadata_are_kept() -> None:
    """functools.wraps keeps name, docstring and inspect.signature for frameworks and type checkers."""
    import inspect

    @lens_fn
    def documented(a: int, b: str = "x") -> str:
        """Docs."""
        return b * a

    assert documented.__doc__ == "Docs."
    assert list(inspect.signature(documented).parameters) == ["a", "b"]


def test_no_provider_set_still_runs_the_function() -> None:
    """Without any SDK provider the decorated function simply runs (a no-op span)."""
    with otel_globals_restored():

        @lens_fn
        def plain(x: int) -> int:
            return x + 1

        assert plain(1) == 2
        assert sys.getrecursionlimit() > 0


def test_sizes_are_recorded_beside_the_functions_own_attributes_and_on_failure(exported: InMemorySpanExporter) -> None:
    """Both sizes land on the span with what the function set itself; a failing call still has its input size."""

    @lens_fn
    def tagged(text: str) -> str:
        trace.get_current_span().set_attribute("user.key", "v")
        return text * 2

    @lens_fn
    def fails(text: str) -> None:
        raise ValueError(text)

    assert tagged("abc") == "abcabc"
    with pytest.raises(ValueError):
        fails("abcd")
    ok, failed = exported.get_finished_spans()
    assert dict(ok.attributes or {}) == {"user.key": "v", "lens.input.size": 3, "lens.output.size": 6}
    assert dict(failed.attributes or {}) == {"lens.input.size": 4}


@pytest.mark.parametrize("limit", [0, 1, 2])
def test_sizes_respect_the_span_attribute_count_limit(limit: int) -> None:
    """OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT still applies: the sizes never push a span past it, and drops are counted."""
    with otel_globals_restored():
        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False, span_limits=SpanLimits(max_span_attributes=limit))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        @lens_fn
        def tagged() -> int:
            trace.get_current_span().set_attribute("user.key", "v")
            return 1

        tagged()
        provider.shutdown()
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert len(attributes) == limit
    assert span.dropped_attributes == 3 - limit
    if limit:
        assert "lens.output.size" in attributes  # the newest kept, as the SDK's own eviction does


def test_async_generator_holding_a_span_across_yield_does_not_leak_context(exported: InMemorySpanExporter) -> None:
    """A decorated async generator whose body keeps a span open across ``yield`` leaves the caller's
    context as it found it (the wrapper always detaches what it attached)."""
    import asyncio

    from opentelemetry import trace

    tracer = trace.get_tracer("tests")

    @lens_fn
    async def numbers() -> Any:
        with tracer.start_as_current_span("inner"):
            yield 1
            yield 2

    async def main() -> str:
        with tracer.start_as_current_span("outer"):
            assert [n async for n in numbers()] == [1, 2]
            return trace.get_current_span().name  # type: ignore[attr-defined,no-any-return]

    assert asyncio.run(main()) == "outer"


def test_captured_dataclass_and_mapping_arguments_are_redacted_field_by_field(exported: InMemorySpanExporter) -> None:
    """capture=True turns dataclasses and mappings into fields, so a password field never reaches a body."""
    import dataclasses
    import types

    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    @lens_fn(capture=True)
    def sign_in(login: Login, extra: types.MappingProxyType[str, str]) -> Login:
        return login

    sign_in(Login("ada", "pw-123"), types.MappingProxyType({"accessToken": "tok-456", "lang": "en"}))
    span = only(exported)
    stored = " ".join(str(v) for v in (span.attributes or {}).values())
    assert "pw-123" not in stored and "tok-456" not in stored
    assert "ada" in stored and "en" in stored
