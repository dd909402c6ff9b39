"""The store's JSON value format: OTel attribute values ↔ compact JSON text, bounded in size.

JSON has no bytes, NaN/±inf or integers beyond 64 bits; those are written as one-key tagged
objects (``{"$bytes": base64}``, ``{"$float": "NaN"}``, ``{"$int": "123…"}``) that
:func:`loads` turns back into the original Python values. A map of the application's own whose
one key is a tag name is written inside ``{"$map": …}``, so it reads back as that map. Strings, sequences and mappings
larger than the caps below are cut with a visible marker so one hostile value cannot make an
unbounded row.
"""

from __future__ import annotations

import base64
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

MAX_STRING = 64 * 1024
"""Characters kept of one string value; the rest is replaced by a ``…[+N chars truncated]`` marker."""
MAX_ITEMS = 1000
"""Elements kept of one sequence, keys of one mapping."""
MAX_DEPTH = 16
"""Nesting kept of mappings and sequences; deeper values become a marker string."""
MAX_ENCODED = 512 * 1024
"""Bytes one encoded value may take; past it the largest values inside are cut until it fits (small ones stay whole)."""
_FAST_LIMIT = 16 * 1024
"""Encodings up to this size are kept as orjson wrote them; larger ones are re-checked against the caps."""
_SMALL_STRING = 1024
_SLACK = 1024  # bytes kept free under MAX_ENCODED for sizes judged a little low (markers, separators)
_MIN_SHARE = 16  # bytes a value gets at least when a mapping shares its budget
_MARKER = 40  # bytes a truncation marker takes, about
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TAGS = ("$bytes", "$float", "$int")
_ESCAPED = frozenset((*_TAGS, "$map"))  # a one-key map with one of these keys is wrapped in {"$map": …}


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return repr(value)


def dumps(value: Any) -> str:
    """Compact JSON text for an attribute map, event list or log body; never raises."""
    try:
        out = orjson.dumps(value, default=_default)
    except (TypeError, ValueError, OverflowError, RecursionError):
        out = b""
    # orjson writes NaN/inf as null: a null in the output may be a lost float, so re-check slowly.
    # (Searching the decoded str is several times faster than searching the bytes.)
    if out and len(out) <= _FAST_LIMIT:
        text = out.decode()
        # '{"$': a map whose (first) key starts with $, maybe one that reads like a tag: re-check slowly too.
        if "null" not in text and '{"$' not in text:
            return text
    return _dumps_slow(value)


def _dumps_slow(value: Any) -> str:
    cleaned = _clean(value, MAX_STRING, 0)
    out = orjson.dumps(cleaned)
    if len(out) > MAX_ENCODED:
        # Over the row budget: share it out value by value (small values whole, the biggest cut
        # first), so one huge attribute cannot cost the small ones beside it.
        out = orjson.dumps(_fit(cleaned, MAX_ENCODED - _SLACK))
    if len(out) > MAX_ENCODED:  # only if sizes were misjudged: a bounded row matters more than any value
        out = orjson.dumps(_within_budget(_clean(value, _SMALL_STRING, 0), MAX_ENCODED - 256))
    return out.decode()


def _size(value: Any) -> int:
    return len(orjson.dumps(value))


def _fit(value: Any, budget: int, size: int | None = None) -> Any:
    """A cleaned ``value`` whose encoding takes at most about ``budget`` bytes, cut with visible markers.

    Mappings share the budget among their values by water-filling: values smaller than an equal
    share stay whole, and what they leave is split among the larger ones, so the biggest values are
    cut first and every key is kept. Sequences keep their first items whole, then a count marker.
    """
    size = _size(value) if size is None else size
    if size <= budget:
        return value
    if isinstance(value, str):
        return _cut_to_bytes(value, budget, size)
    if isinstance(value, dict):
        if len(value) == 1 and "$bytes" in value:  # a cut base64 text would not decode: say what it was
            return f"<{len(value['$bytes']) * 3 // 4} bytes, truncated>"
        return _fit_mapping(value, budget)
    if isinstance(value, list):
        return _fit_sequence(value, budget)
    return value  # numbers, booleans, null: a few bytes, never the problem


def _fit_mapping(value: dict[str, Any], budget: int) -> dict[str, Any]:
    keys = list(value)
    costs = [_size(key) + 2 for key in keys]  # "key": and the comma
    if sum(costs) + len(keys) * _MIN_SHARE > budget:
        kept_first: dict[str, Any] = _within_budget(value, budget)  # not even the keys fit: the first ones, a count
        return kept_first
    sizes = {key: _size(item) for key, item in value.items()}
    left = budget - 2 - sum(costs)
    kept: dict[str, Any] = {}
    waiting = sorted(keys, key=sizes.__getitem__)
    for index, key in enumerate(waiting):
        share = left // (len(waiting) - index)
        item = value[key] if sizes[key] <= share else _fit(value[key], share, sizes[key])
        left -= sizes[key] if item is value[key] else _size(item)
        kept[key] = item
    return {key: kept[key] for key in keys}  # the caller's key order


def _fit_sequence(value: list[Any], budget: int) -> list[Any]:
    left = budget - 2 - _MARKER
    items: list[Any] = []
    for index, item in enumerate(value):
        size = _size(item) + 1
        if size > left:
            if left > _MIN_SHARE * 4:  # room for a useful part of this item
                items.append(_fit(item, left - 1, size - 1))
                index += 1
            if index < len(value):
                items.append(f"…[+{len(value) - index} items truncated]")
            break
        items.append(item)
        left -= size
    return items


def _cut_to_bytes(text: str, budget: int, size: int) -> str:
    """``text`` (``size`` bytes encoded) cut so its JSON encoding, marker included, takes at most ``budget`` bytes."""
    target = budget - _MARKER
    # Escapes and multi-byte characters make bytes ≠ characters: scale by this text's own ratio.
    keep = max(int(len(text) * target / max(size, 1)), 0)
    for _ in range(4):
        cut = truncate_text(text, keep)
        used = _size(cut)
        if used <= budget or keep == 0:
            return cut
        keep = int(keep * target / used)
    return truncate_text(text, 0)


def _within_budget(value: Any, budget: int) -> Any:
    """The first keys or items of a cleaned container that fit in ``budget`` bytes, plus a marker."""
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        used = 0
        for index, (key, item) in enumerate(value.items()):
            used += len(orjson.dumps(item)) + len(key) + 4
            if used > budget:
                kept["…"] = f"[+{len(value) - index} keys truncated]"
                break
            kept[key] = item
        return kept
    if isinstance(value, list):
        items: list[Any] = []
        used = 0
        for index, item in enumerate(value):
            used += len(orjson.dumps(item)) + 1
            if used > budget:
                items.append(f"…[+{len(value) - index} items truncated]")
                break
            items.append(item)
        return items
    return truncate_text(str(value), budget // 4)


def truncate_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a visible marker, and safe to store as UTF-8.

    The one place stored text is cut: attribute values here, span names and messages in the row
    builder (``otel_lens.export``).
    """
    if len(text) > limit:
        text = f"{text[:limit]}…[+{len(text) - limit} chars truncated]"
    return utf8_safe(text)


def utf8_safe(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (SQLite and PostgreSQL need valid UTF-8), valid pairs joined."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _clean(value: Any, max_string: int, depth: int, max_items: int = MAX_ITEMS, escape: bool = True) -> Any:
    """A JSON-safe copy of ``value``: tagged non-JSON scalars, truncated strings and containers; with ``escape``,
    one-key maps whose key is a tag name wrapped in ``{"$map": …}`` (the stored form, not the shown one)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return truncate_text(value, max_string)
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else {"$int": str(value)}
    if isinstance(value, float):
        return (
            value if math.isfinite(value) else {"$float": repr(value).replace("inf", "Infinity").replace("nan", "NaN")}
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) > max_string:
            return truncate_text(f"<{len(data)} bytes>", max_string)
        return {"$bytes": base64.b64encode(data).decode("ascii")}
    if depth >= MAX_DEPTH:
        return "…[nesting truncated]"
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= max_items:
                cleaned["…"] = f"[+{len(value) - max_items} keys truncated]"
                break
            cleaned[truncate_text(str(key), 256)] = _clean(item, max_string, depth + 1, max_items, escape)
        if escape and len(cleaned) == 1 and next(iter(cleaned)) in _ESCAPED:
            return {"$map": cleaned}
        return cleaned
    if isinstance(value, (Sequence, set, frozenset)):
        items = list(value)
        kept: list[Any] = [_clean(item, max_string, depth + 1, max_items, escape) for item in items[:max_items]]
        if len(items) > max_items:
            kept.append(f"…[+{len(items) - max_items} items truncated]")
        return kept
    try:
        return truncate_text(repr(value), max_string)
    except Exception:  # a hostile __repr__ must not break an export
        return f"<{type(value).__name__}>"


def jsonable(value: Any) -> Any:
    """``value`` in the store's JSON form (tagged bytes, non-finite floats and huge ints), not cut further.

    The read side uses it to print decoded values as JSON exactly as the store keeps them.
    """
    return _clean(value, sys.maxsize, 0, sys.maxsize, escape=False)


def loads(text: str | bytes | None) -> Any:
    """The Python value stored by :func:`dumps` (tagged values restored); ``None`` for ``None``."""
    if text is None:
        return None
    return _untag(orjson.loads(text))


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, item),) = value.items()
            if key == "$map" and isinstance(item, dict):
                return {inner: _untag(nested) for inner, nested in item.items()}  # a map of the application's
            if key in _TAGS and isinstance(item, str):
                try:
                    if key == "$bytes":
                        return base64.b64decode(item)
                    if key == "$float":
                        return float(item)
                    return int(item)
                except ValueError:
                    return value
        return {key: _untag(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_untag(item) for item in value]
    return value
