"""Reading OTLP/JSON values: typed fields in either spelling, hex ids, ``AnyValue`` and attribute lists.

Protobuf's JSON mapping, read tolerantly the way ``json_format.ParseDict`` reads it (both field spellings,
64-bit integers as strings or numbers, enum names or numbers, base64 padded or not, ``"NaN"`` doubles),
except where OTLP says otherwise: ids are hex. A value of the wrong JSON type, or out of its protobuf
type's range, raises :class:`Shape` naming the field, and the request is refused; an id that is not hex of
the right length raises ``ValueError`` with the reason, and its span or record alone is rejected.
The results are exactly what ``_otlp.py`` reads from the same message in protobuf.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from otel_lens.export._otlp import MAX_DEPTH

__all__ = ["Shape", "any_value", "array", "attributes", "enum", "field", "hex_id", "integer", "obj", "text"]

DEEP = "…[nesting truncated]"  # the protobuf adapter's (and the store codec's) marker for values nested too deep
U32, U64 = 2**32, 2**64
_I64_MIN, _I64_MAX = -(2**63), 2**63


class Shape(Exception):
    """A value of the wrong JSON type, or out of its protobuf type's range: the whole payload is refused."""


def kind_of(value: Any) -> str:
    """``value``'s JSON type, for a message."""
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(value.__class__, "a number")


def field(message: dict[str, Any], camel: str, snake: str) -> Any:
    """The field in either spelling (OTLP's lowerCamelCase first; protobuf's JSON mapping accepts both)."""
    value = message.get(camel)
    return message.get(snake) if value is None else value


def obj(value: Any, where: str) -> dict[str, Any]:
    """A message: a JSON object, ``{}`` for null or absent."""
    if value.__class__ is dict:
        return value
    if value is None:
        return {}
    raise Shape(f"{where}: expected an object, got {kind_of(value)}")


def array(value: Any, where: str) -> list[Any]:
    """A repeated field: a JSON array, ``[]`` for null or absent."""
    if value.__class__ is list:
        return value
    if value is None:
        return []
    raise Shape(f"{where}: expected an array, got {kind_of(value)}")


def text(value: Any, where: str) -> str:
    """A string field, ``""`` for null or absent."""
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    raise Shape(f"{where}: expected a string, got {kind_of(value)}")


def integer(value: Any, where: str, low: int = 0, high: int = U32) -> int:
    """An integer field (default: uint32): a JSON number that is integral or a decimal string, within range."""
    cls = value.__class__
    if cls is int:
        number: int = value
    elif value is None:
        return 0
    elif (cls is str and value.lstrip("-").isdigit() and value.isascii()) or (cls is float and value.is_integer()):
        number = int(value)
    else:
        raise Shape(f"{where}: expected an integer (a number or a decimal string), got {kind_of(value)}")
    if not low <= number < high:
        raise Shape(f"{where}: {number} is out of range")
    return number


def enum(value: Any, where: str, names: dict[str, int]) -> int:
    """An enum field: its number (OTLP's form) or its proto name."""
    if value.__class__ is str and value in names:
        return names[value]
    return integer(value, where, -(2**31), 2**31)


def hex_id(value: Any, where: str, size: int, what: str) -> bytes:
    """An id of ``size`` bytes written as hex; b"" when absent or ``""``.

    Raises:
        ValueError: a string that is not ``2 * size`` hex digits (the reason, naming ``what``).
        Shape: not a string.
    """
    if value.__class__ is not str:
        text(value, where)  # raises unless None
        return b""
    if not value:
        return b""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)  # the length checked first: fromhex() also takes spaces between bytes
        except ValueError:
            pass
    base64_length = len(value) in ((22, 24) if size == 16 else (11, 12))
    hint = "; OTLP/JSON ids are hex, not base64" if base64_length else ""
    raise ValueError(f"{what} ({len(value)} characters, not {2 * size} hex digits{hint})")


# -- AnyValue -----------------------------------------------------------------------------------------


def _int64(value: Any, where: str) -> int:
    return integer(value, where, _I64_MIN, _I64_MAX)


def _double(value: Any, where: str) -> float:
    if value.__class__ in (float, int):
        return float(value)
    if value.__class__ is str:
        try:
            return float(value)  # "NaN", "Infinity", "-Infinity", and numbers in strings (protobuf's mapping)
        except ValueError:
            pass
    raise Shape(f"{where}: expected a number, got {kind_of(value)}")


def _bytes(value: Any, where: str) -> bytes:
    encoded = text(value, where).replace("-", "+").replace("_", "/")  # standard or URL-safe, padded or not
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Shape(f"{where}: not base64") from None


def _bool(value: Any, where: str) -> bool:
    if value.__class__ is bool:
        return value
    raise Shape(f"{where}: expected a boolean, got {kind_of(value)}")


def _array_value(value: Any, where: str, depth: int) -> Any:
    if depth >= MAX_DEPTH:
        return DEEP
    items = array(obj(value, where).get("values"), f"{where}.values")
    return [any_value(item, f"{where}.values[{i}]", depth + 1) for i, item in enumerate(items)]


def _kvlist_value(value: Any, where: str, depth: int) -> Any:
    if depth >= MAX_DEPTH:
        return DEEP
    return attributes(obj(value, where).get("values"), f"{where}.values", depth + 1) or {}


_SCALARS: dict[str, Callable[[Any, str], Any]] = {
    "stringValue": text,
    "boolValue": _bool,
    "intValue": _int64,
    "doubleValue": _double,
    "bytesValue": _bytes,
}
_SCALARS |= {name.replace("V", "_v"): read for name, read in _SCALARS.items()}  # string_value, bool_value, …
_NESTED: dict[str, Callable[[Any, str, int], Any]] = {
    "arrayValue": _array_value,
    "array_value": _array_value,
    "kvlistValue": _kvlist_value,
    "kvlist_value": _kvlist_value,
}


def any_value(value: Any, where: str, depth: int = 0) -> Any:
    """The Python value of an OTLP/JSON ``AnyValue``: str, bool, int, float, bytes, list, dict, or None when unset."""
    for kind, item in obj(value, where).items():  # a oneof: its one field that is set (unknown names skipped)
        if item is None:
            continue
        try:
            scalar = _SCALARS.get(kind)
            if scalar is not None:
                return scalar(item, kind)
            nested = _NESTED.get(kind)
            if nested is not None:
                return nested(item, kind, depth)
        except Shape as exc:  # the path built only now: the happy path formats no strings
            raise Shape(f"{where}.{exc}") from None
    return None


def attributes(key_values: Any, where: str, depth: int = 0) -> dict[str, Any] | None:
    """An attribute map from OTLP/JSON ``KeyValue``s (a repeated key: the last one wins); None when empty."""
    if key_values.__class__ is not list:
        array(key_values, where)  # raises unless None
        return None
    if not key_values:
        return None
    out: dict[str, Any] = {}
    for i, kv in enumerate(key_values):
        if kv.__class__ is not dict:
            raise Shape(f"{where}[{i}]: expected an object, got {kind_of(kv)}")
        key = kv.get("key")
        value = kv.get("value")
        # Nearly every attribute is one string: read it here, three calls less than any_value().
        if value.__class__ is dict and len(value) == 1 and key.__class__ is str:
            string = value.get("stringValue")
            if string.__class__ is str:
                out[key] = string
                continue
        try:
            out[text(key, "key")] = any_value(value, "value", depth)
        except Shape as exc:  # the path built only now
            raise Shape(f"{where}[{i}].{exc}") from None
    return out
