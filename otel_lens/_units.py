"""Parsing of the human-friendly durations (``90s``, ``7d``) and sizes (``500MB``, ``1GiB``) that settings and the CLI take."""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "": 1.0,
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Zµ]*)\s*$")
_BARE_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def unitless(text: str) -> str | None:
    """The number in ``text`` when it is a non-zero number without a unit (``"7"``), else None.

    Text such as ``OTEL_EXPORTER_LENS_RETENTION=7`` or ``--max-size 5`` is ambiguous (7 days? 5 MB?) and read
    literally it deletes data, so callers refuse it and ask for the unit; ``0`` means the same in every unit.
    """
    match = _BARE_NUMBER.match(text)
    if match is None or float(match.group(1)) == 0:
        return None
    return match.group(1)


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text`` (``"250ms"``, ``"90s"``, ``"12h"``, ``"7d"``; a bare number is seconds).

    Raises:
        ValueError: ``text`` is not a non-negative duration.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, (int, float)):
        if text < 0 or text != text:
            raise ValueError(f"{text!r} is not a non-negative duration")
        seconds = float(text)
    else:
        match = _NUMBER_UNIT.match(text)
        if not match or match.group(2).lower() not in _DURATION_UNITS:
            raise ValueError(f"{text!r} is not a duration")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    return seconds


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` (``"64KiB"``, ``"500MB"``, ``"1GiB"``; a bare number is bytes).

    Raises:
        ValueError: ``text`` is not a non-negative size.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a size")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{text!r} is not a non-negative size")
        return text
    match = _NUMBER_UNIT.match(text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def format_duration_ms(ms: float) -> str:
    """A short human form of a duration in milliseconds: ``850µs``, ``12.3ms``, ``4.20s``, ``3m05s``."""
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 1000:
        return f"{ms:.3g}ms" if ms < 100 else f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def format_size(size: int) -> str:
    """A short human form of a byte count: ``512B``, ``4.0KiB``, ``1.2GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}GiB"  # pragma: no cover - loop always returns
