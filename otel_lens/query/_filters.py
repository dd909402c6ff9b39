"""Validation of read filters (times, durations, levels, ids, limits) into bound query values."""

from __future__ import annotations

import datetime as dt
import re
import time

from otel_lens._units import parse_duration

Since = str | float | int | dt.timedelta | dt.datetime | None
"""A window start: a duration back from now (``"1h"``, seconds, a timedelta) or an absolute datetime."""

MAX_LIMIT = 1_000_000
MAX_NS = 2**63 - 1
"""The largest nanosecond count a database integer holds; longer durations are clamped to it."""
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BARE_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
LEVELS = {
    "trace": 1,
    "debug": 5,
    "info": 9,
    "warn": 13,
    "warning": 13,
    "error": 17,
    "fatal": 21,
    "critical": 21,
}
"""Level names → the lowest OTel severity number they stand for; a level filter keeps that level and above."""
TRACE_STATUSES = ("error", "ok")
STATS_GROUPS = ("name", "service")
STATS_HISTOGRAMS = ("chart", "fine", "none")  # a stat row's histogram: ≤ 40 bins, every fine bin, or none
USAGE_GROUPS = ("model", "provider", "service")


def missing_unit(text: str) -> str | None:
    """How to write ``text`` when it is a duration string without a unit (``"5"``), else None.

    A bare number reads as milliseconds to some and seconds to others (``--min-duration 5``), so a
    duration given as text needs its unit; only ``0`` means the same in every unit. (Python numbers
    stay seconds, as everywhere in Python.)
    """
    match = _BARE_NUMBER.match(text)
    if match is None or float(match.group(1)) == 0:
        return None
    number = match.group(1)
    return f"{text!r} has no unit; say which: {number}ms, {number}s, {number}m, {number}h or {number}d"


def cutoff_ns(since: Since, now_ns: int | None = None) -> int | None:
    """The start of the window ``since`` as Unix nanoseconds (``None`` for no window).

    Raises:
        ValueError: ``since`` is not a duration or a datetime.
    """
    if since is None:
        return None
    if isinstance(since, dt.datetime):
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        delta = since - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return min(max((delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000, 0), MAX_NS)
    now_ns = time.time_ns() if now_ns is None else now_ns
    if isinstance(since, dt.timedelta):
        seconds = since.total_seconds()
        if seconds < 0:
            raise ValueError(f"since={since!r} is negative; use e.g. 1h")
    else:
        hint = missing_unit(since) if isinstance(since, str) else None
        if hint is not None:
            raise ValueError(f"since={hint}")
        try:
            seconds = parse_duration(since)
        except ValueError:
            raise ValueError(f"since={since!r} is not a duration; use e.g. 90s, 30m, 1h or 7d") from None
    if seconds * 1e9 >= now_ns:
        return 0  # a window reaching past 1970 holds everything (and 99999999d must not overflow a bound int)
    return now_ns - int(seconds * 1e9)


def duration_ns(value: str | float | int | dt.timedelta | None, what: str = "min_duration") -> int | None:
    """Nanoseconds in a duration filter (``"100ms"``, a number of seconds, a timedelta); ``None`` when not given.

    Raises:
        ValueError: ``value`` is not a non-negative duration, or is text without a unit (the message names
            ``what``).
    """
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        if seconds < 0:
            raise ValueError(f"{what}={value!r} is negative; use e.g. 100ms")
    else:
        hint = missing_unit(value) if isinstance(value, str) else None
        if hint is not None:
            raise ValueError(f"{what}={hint}")
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise ValueError(f"{what}={value!r} is not a duration; use e.g. 100ms, 2s or 1m") from None
    return int(min(seconds * 1e9, MAX_NS))  # longer than anything storable: nothing matches, nothing overflows


def check_limit(limit: int | None, what: str = "limit") -> int | None:
    """``limit`` as a positive int up to :data:`MAX_LIMIT` (``None`` means no limit).

    Raises:
        ValueError: ``limit`` is not a whole number in range.
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"{what}={limit!r} is not valid; use a whole number from 1 to {MAX_LIMIT}")
    return limit


def choose(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` lower-cased when it is one of ``allowed`` (group-bys and sort keys never reach SQL otherwise).

    Raises:
        ValueError: ``value`` is not allowed (the message lists the valid ones).
    """
    lowered = str(value).strip().lower()
    if lowered not in allowed:
        raise ValueError(f"{what}={value!r} is not valid; use one of: {', '.join(allowed)}")
    return lowered


def severity_floor(level: str | int | None) -> int | None:
    """The lowest severity number a ``level`` filter keeps (``"warn"`` → 13); ``None`` when not given.

    Raises:
        ValueError: ``level`` is not a known level name or a severity number 1-24.
    """
    if level is None:
        return None
    if isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 24:
        return level
    floor = LEVELS.get(str(level).strip().lower())
    if floor is None:
        raise ValueError(f"level={level!r} is not valid; use one of: debug, info, warn, error, fatal")
    return floor


def trace_id_prefix(text: str) -> str:
    """``text`` as lower-case hex of at most 32 digits (a whole trace id or a prefix of one).

    Raises:
        ValueError: ``text`` is empty, not hex, or too long.
    """
    cleaned = str(text).strip().lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or len(cleaned) > 32 or not _HEX.match(cleaned):
        raise ValueError(f"{text!r} is not a trace id; give 1 to 32 hex digits (e.g. 4bf92f3577b34da6)")
    return cleaned


def prefix_range(prefix: str, size: int) -> tuple[bytes, bytes]:
    """The smallest and largest ``size``-byte ids starting with the hex ``prefix`` (an index range scan)."""
    low = prefix.ljust(size * 2, "0")
    high = prefix.ljust(size * 2, "f")
    return bytes.fromhex(low), bytes.fromhex(high)


def like_contains(text: str, escape: str = "!") -> str:
    """A LIKE pattern matching ``text`` anywhere, its own ``%``, ``_`` and escape characters taken literally."""
    escaped = text.replace(escape, escape * 2).replace("%", f"{escape}%").replace("_", f"{escape}_")
    return f"%{escaped}%"
