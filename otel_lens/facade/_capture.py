"""Turning captured values into body text: a bounded, redacted JSON view, capped in bytes with a truncation flag.

Bodies travel to the store as span attributes under ``lens.body.<role>`` (see
:mod:`otel_lens.export.bodies`), with ``.content_type``, ``.size`` and ``.truncated`` beside them.
"""

from __future__ import annotations

import dataclasses
import itertools
import reprlib
from collections.abc import Mapping
from typing import Any

import orjson

from otel_lens._keys import BODY_CONTENT_TYPE, BODY_SIZE, BODY_TRUNCATED, body_key
from otel_lens._redact import REDACTED, Redactor

_MAX_DEPTH = 8
_MAX_ITEMS = 100
_MAX_REPR = 4096


def capture_view(value: Any, redactor: Redactor, depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` to capture as a body: bounded, secrets redacted; never raises, never advances an
    iterator. (Not :func:`otel_lens.store.codec.jsonable`, which shows a value as the store keeps it.)"""
    try:
        if value is None or type(value) in (bool, float, str):
            return value
        if type(value) is int:
            return value if -(2**63) <= value < 2**64 else str(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return f"<{len(bytes(value))} bytes>"
        if depth >= _MAX_DEPTH:
            return "…[nesting truncated]"
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for index, (key, item) in enumerate(dict.items(value)):
                if index >= _MAX_ITEMS:
                    out["…"] = f"[+{dict.__len__(value) - _MAX_ITEMS} keys truncated]"
                    break
                name = key if isinstance(key, str) else _safe_repr(key)
                out[name] = REDACTED if redactor.is_sensitive(name) else capture_view(item, redactor, depth + 1)
            return out
        fields = _as_fields(value)
        if fields is not None:  # dataclasses, pydantic models, mappings: redacted field by field
            return capture_view(fields, redactor, depth)
        if isinstance(value, (list, tuple)):
            count = list.__len__(value) if isinstance(value, list) else tuple.__len__(value)
            head = slice(0, _MAX_ITEMS)
            kept = list.__getitem__(value, head) if isinstance(value, list) else tuple.__getitem__(value, head)
            items = [capture_view(item, redactor, depth + 1) for item in kept]
            if count > _MAX_ITEMS:
                items.append(f"…[+{count - _MAX_ITEMS} items truncated]")
            return items
        return redactor.repr_text(_safe_repr(value))
    except Exception:
        return f"<{type(value).__name__}>"


def _as_fields(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass, a pydantic model or a mapping as a plain dict (other values: None).

    Their ``repr`` would print every field, passwords included; as a dict each key is checked.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name, None) for field in dataclasses.fields(value)}
    dump = getattr(type(value), "model_dump", None)  # pydantic v2, looked up on the class: no __getattr__ tricks
    if callable(dump) and hasattr(type(value), "model_fields"):
        dumped = dump(value)
        return dumped if isinstance(dumped, dict) else None
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return {str(key): item for key, item in itertools.islice(value.items(), _MAX_ITEMS + 1)}
    return None


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 200, 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxdict = 50


def _safe_repr(value: Any) -> str:
    """A bounded repr: reprlib caps containers (a 3M-element set costs as little as a small one)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a hostile __repr__ must not break the call
        return f"<{type(value).__name__}>"
    return text if len(text) <= _MAX_REPR else f"{text[:_MAX_REPR]}…[+{len(text) - _MAX_REPR} chars truncated]"


def cap(text: str, limit: int) -> tuple[str, int, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes; returns (text, original byte size, truncated)."""
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= limit:
        return text, len(data), False
    return data[:limit].decode("utf-8", "ignore"), len(data), True


def body_attributes(role: str, text: str, content_type: str, size: int, truncated: bool) -> dict[str, Any]:
    """The span attributes that carry one body to the exporter."""
    key = body_key(role)
    attributes: dict[str, Any] = {key: text, key + BODY_CONTENT_TYPE: content_type, key + BODY_SIZE: size}
    if truncated:
        attributes[key + BODY_TRUNCATED] = True
    return attributes


def value_body(role: str, value: Any, redactor: Redactor, limit: int) -> dict[str, Any]:
    """Body attributes for a Python value (function arguments or result) as redacted JSON."""
    try:
        text = orjson.dumps(capture_view(value, redactor), option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, ValueError):
        text = orjson.dumps(_safe_repr(value)).decode()
    capped, size, truncated = cap(text, limit)
    return body_attributes(role, capped, "application/json", size, truncated)


def arguments(bound: Mapping[str, Any]) -> dict[str, Any]:
    """Bound arguments without ``self``/``cls`` (they say nothing about this call's data)."""
    return {name: value for name, value in bound.items() if name not in ("self", "cls")}
