"""``lens_fn``: a decorator that traces calls of sync, async, generator and async-generator functions.

Each call is a span named after the function's qualified name (or the given name), a child of
the current span. The wrapper keeps the function's signature for type checkers (``ParamSpec``)
and its kind for frameworks (a coroutine function stays one). Generators are traced from their
first step to their end; the span's context is attached only while the generator runs, never
across a ``yield``, so a generator abandoned or garbage-collected anywhere ends its span once,
with no "Failed to detach context" noise. Abandoned is not failed: a generator closed early, or an async
generator that asyncio cancels while it waits at a ``yield`` (its consumer left with ``break`` and the loop
is shutting down), ends with ``lens.generator.closed`` and no error status; a cancellation while the
generator itself awaits something is an error, as for any coroutine.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from opentelemetry import context, trace

from otel_lens._keys import GENERATOR_CLOSED, INPUT_SIZE, OUTPUT_ITEMS, OUTPUT_SIZE
from otel_lens.facade import _state
from otel_lens.facade._capture import arguments, value_body
from otel_lens.facade._sizes import approx_size, args_size
from otel_lens.facade._spans import add_attributes, detach, fail, tracer

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Decorator(Protocol):
    def __call__(self, func: Callable[_P, _R], /) -> Callable[_P, _R]: ...


@overload
def lens_fn(func: Callable[_P, _R], /) -> Callable[_P, _R]: ...
@overload
def lens_fn(name: str | None = None, /, *, capture: bool = False) -> _Decorator: ...
@overload
def lens_fn(*, name: str | None = None, capture: bool = False) -> _Decorator: ...
def lens_fn(func: Any = None, /, *, name: str | None = None, capture: bool = False) -> Any:
    """Trace each call of the decorated function as a span.

    Use it bare (``@lens_fn``), with a span name (``@lens_fn("engine.grep")``) or with keywords
    (``@lens_fn(name="engine.grep", capture=True)``). Works on plain, async, generator and
    async-generator functions, methods, classmethods and staticmethods.

    Spans carry ``lens.input.size`` and ``lens.output.size``: approximate sizes of the arguments
    and result that never raise and never advance an iterator. An exception marks the span ERROR
    with an exception event and propagates unchanged.

    Args:
        func: the function, when used bare; or the span name, when given positionally.
        name: the span name; defaults to the function's ``__qualname__``.
        capture: also store the (truncated, redacted) arguments and result as bodies.
    """
    if isinstance(func, str) or func is None:
        span_name = func if isinstance(func, str) else name

        def decorator(target: Any) -> Any:
            return _decorate(target, span_name, capture)

        return decorator
    return _decorate(func, name, capture)


def _decorate(target: Any, name: str | None, capture: bool) -> Any:
    if isinstance(target, (classmethod, staticmethod)):
        return type(target)(_decorate(target.__func__, name, capture))
    if not callable(target):
        raise TypeError(f"lens_fn decorates functions, not {type(target).__name__}")
    span_name = name or getattr(target, "__qualname__", None) or repr(target)
    signature: inspect.Signature | None = None
    if capture:
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            signature = None
    if inspect.isasyncgenfunction(target):
        return _async_generator_wrapper(target, span_name, signature, capture)
    if inspect.isgeneratorfunction(target):
        return _generator_wrapper(target, span_name, signature, capture)
    if inspect.iscoroutinefunction(target):
        return _async_wrapper(target, span_name, signature, capture)
    return _sync_wrapper(target, span_name, signature, capture)


def _start(name: str, signature: inspect.Signature | None, capture: bool, args: Any, kwargs: Any) -> trace.Span:
    if not capture:
        return tracer().start_span(name)
    settings, redactor = _state.current()
    attributes = value_body("input", _bound(signature, args, kwargs), redactor, settings.max_body_size)
    return tracer().start_span(name, attributes=attributes)


def _bound(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if signature is not None:
        try:
            return arguments(signature.bind_partial(*args, **kwargs).arguments)
        except TypeError:  # the call itself is wrong; the function will say so
            pass
    return {"args": list(args), "kwargs": kwargs}


def _finish(span: trace.Span, input_size: int, result: Any, size: int | None, capture: bool) -> None:
    # Both sizes go in at the end in one cheap step: passing one at start and setting the other
    # later costs the SDK's attribute validation twice (about a sixth of a traced call here).
    try:
        output_size = approx_size(result) if size is None else size
        add_attributes(span, {INPUT_SIZE: input_size, OUTPUT_SIZE: output_size})
        if capture:
            settings, redactor = _state.current()
            span.set_attributes(value_body("output", result, redactor, settings.max_body_size))
    except Exception:  # measuring the result must never fail the call
        pass


def _end_failed(span: trace.Span, exc: BaseException, input_size: int) -> None:
    """End a call's span that raised: input size recorded, marked failed (the caller re-raises)."""
    add_attributes(span, {INPUT_SIZE: input_size})
    fail(span, exc)
    span.end()


def _sync_wrapper(func: Any, name: str, sig: Any, capture: bool) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        input_size = args_size(args, kwargs)
        span = _start(name, sig, capture, args, kwargs)
        try:
            token = context.attach(trace.set_span_in_context(span))
            try:
                result = func(*args, **kwargs)
            finally:
                detach(token)
        except BaseException as exc:
            _end_failed(span, exc, input_size)
            raise
        _finish(span, input_size, result, None, capture)
        span.end()
        return result

    return wrapper


def _async_wrapper(func: Any, name: str, sig: Any, capture: bool) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        input_size = args_size(args, kwargs)
        span = _start(name, sig, capture, args, kwargs)
        try:
            ctx = trace.set_span_in_context(span)
            token = context.attach(ctx)
            try:
                result = await func(*args, **kwargs)
            finally:
                detach(token)  # always: see _spans.detach
        except BaseException as exc:
            _end_failed(span, exc, input_size)
            raise
        _finish(span, input_size, result, None, capture)
        span.end()
        return result

    return wrapper


def _generator_wrapper(func: Any, name: str, sig: Any, capture: bool) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        input_size = args_size(args, kwargs)
        span = _start(name, sig, capture, args, kwargs)
        ctx = trace.set_span_in_context(span)
        size, count = 0, 0
        outcome: BaseException | None = None
        try:
            token = context.attach(ctx)
            try:
                gen = func(*args, **kwargs)
                step, arg = gen.send, None
            finally:
                detach(token)
            while True:
                token = context.attach(ctx)
                try:
                    item = step(arg)
                except StopIteration as stop:
                    return stop.value
                finally:
                    detach(token)
                count += 1
                size += approx_size(item)
                try:
                    arg, step = (yield item), gen.send
                except GeneratorExit:
                    span.set_attribute(GENERATOR_CLOSED, True)
                    token = context.attach(ctx)
                    try:
                        gen.close()
                    finally:
                        detach(token)
                    raise
                except BaseException as exc:  # thrown in by the consumer: pass it on to the generator
                    arg, step = exc, gen.throw
        except GeneratorExit:
            raise
        except BaseException as exc:
            outcome = exc
            fail(span, exc)
            raise
        finally:
            if outcome is None:
                span.set_attribute(OUTPUT_ITEMS, count)
            _finish(span, input_size, None, size, False)
            span.end()

    return wrapper


def _async_generator_wrapper(func: Any, name: str, sig: Any, capture: bool) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        input_size = args_size(args, kwargs)
        span = _start(name, sig, capture, args, kwargs)
        ctx = trace.set_span_in_context(span)
        size, count = 0, 0
        outcome: BaseException | None = None
        abandoned: BaseException | None = None
        try:
            token = context.attach(ctx)
            try:
                agen = func(*args, **kwargs)
                step, arg = agen.asend, None
            finally:
                detach(token)
            while True:
                token = context.attach(ctx)
                try:
                    item = await step(arg)
                except StopAsyncIteration:
                    return
                finally:
                    detach(token)
                count += 1
                size += approx_size(item)
                try:
                    arg, step = (yield item), agen.asend
                except GeneratorExit:
                    span.set_attribute(GENERATOR_CLOSED, True)
                    token = context.attach(ctx)
                    try:
                        await agen.aclose()
                    finally:
                        detach(token)
                    raise
                except BaseException as exc:
                    if isinstance(exc, asyncio.CancelledError):
                        # Cancelled while suspended at a yield: asyncio finalising a generator its consumer left
                        # (``break``), at loop shutdown. Abandonment, like close(): not an error of the generator.
                        abandoned = exc
                        span.set_attribute(GENERATOR_CLOSED, True)
                    arg, step = exc, agen.athrow
        except GeneratorExit:
            raise
        except BaseException as exc:
            if abandoned is not None and isinstance(exc, asyncio.CancelledError):
                raise
            outcome = exc
            fail(span, exc)
            raise
        finally:
            if outcome is None:
                span.set_attribute(OUTPUT_ITEMS, count)
            _finish(span, input_size, None, size, False)
            span.end()

    return cast(Any, wrapper)
