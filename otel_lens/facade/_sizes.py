"""Cheap size estimates of function arguments and results that never raise and never run user code.

Only built-in containers are looked into, through the built-in types' own methods (a subclass's
``__len__``/``__iter__``/``__repr__``/``__sizeof__`` are never called), a bounded number of items
at a bounded depth, so cyclic, very deep or huge values cost the same small amount. Iterators and
generators are never advanced. The result approximates the data's size in bytes (characters for text).
"""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 3
_SAMPLE = 16
_SCALAR = 8


def approx_size(value: Any, depth: int = 0) -> int:
    """An approximate byte size of ``value`` (see the module docstring); never raises."""
    try:
        return _size(value, depth)
    except Exception:  # e.g. MemoryError-free but odd C types; an estimate must never break the call
        return 0


def _size(value: Any, depth: int) -> int:
    kind = type(value)
    if kind is str:
        return len(value)
    if kind is int or kind is float or kind is bool or value is None:
        return _SCALAR
    if isinstance(value, str):
        return str.__len__(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes.__len__(value) if isinstance(value, bytes) else bytearray.__len__(value)
    if isinstance(value, memoryview):
        return value.nbytes
    if isinstance(value, dict):
        count = dict.__len__(value)
        if depth >= _MAX_DEPTH or not count:
            return count * _SCALAR * 2
        total, seen = 0, 0
        for key, item in dict.items(value):
            total += _size(key, depth + 1) + _size(item, depth + 1)
            seen += 1
            if seen >= _SAMPLE:
                break
        return total * count // seen
    if isinstance(value, (list, tuple)):
        count = list.__len__(value) if isinstance(value, list) else tuple.__len__(value)
        if depth >= _MAX_DEPTH or not count:
            return count * _SCALAR
        head = slice(0, _SAMPLE)
        sample = list.__getitem__(value, head) if isinstance(value, list) else tuple.__getitem__(value, head)
        total = sum(_size(item, depth + 1) for item in sample)
        return total * count // len(sample)
    if isinstance(value, (set, frozenset)):
        count = set.__len__(value) if isinstance(value, set) else frozenset.__len__(value)
        return count * _SCALAR
    if isinstance(value, (int, float)):
        return _SCALAR
    # Any other object: its own instance size, measured without calling an overridden __sizeof__.
    return object.__sizeof__(value)


def args_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The estimated size of a call's arguments."""
    total = 0
    for arg in args:
        total += approx_size(arg, 1)
    if kwargs:
        for arg in kwargs.values():
            total += approx_size(arg, 1)
    return total
