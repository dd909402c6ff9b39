"""Small text helpers shared by the CLI views: local times, durations, levels, one-line values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from otel_lens._units import format_duration_ms

LEVEL_STYLES = {
    "TRC": "dim",
    "DBG": "cyan",
    "INF": "green",
    "WRN": "yellow",
    "ERR": "bold red",
    "FTL": "bold white on red",
}


def utc(ns: int, with_date: bool = True) -> str:
    """``2024-01-02 03:04:05.678`` (UTC), or only the time of day."""
    seconds, rest = divmod(int(ns), 10**9)
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    text = f"{moment:%H:%M:%S}.{rest // 10**6:03d}"
    return f"{moment:%Y-%m-%d} {text}" if with_date else text


def _local(ns: int) -> dt.datetime:
    seconds = int(ns) // 10**9
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)
    try:
        return moment.astimezone()  # the local zone (TZ, else the system's), with its offset at that moment
    except (OverflowError, OSError, ValueError):  # outside what the C library can convert: say it in UTC
        return moment


def local_time(ns: int, with_date: bool = True, with_offset: bool = False) -> str:
    """The local time of ``ns``: ``2024-01-02 04:04:05.678`` (``+01:00`` appended ``with_offset``).

    Text for people is in local time, as the application's own log lines (the ``Logger``) are, and says
    its offset; JSON is always UTC (RFC 3339 with ``Z``).
    """
    moment = _local(ns)
    text = f"{moment:%H:%M:%S}.{int(ns) % 10**9 // 10**6:03d}"
    if with_date:
        text = f"{moment:%Y-%m-%d} {text}"
    return text + utc_offset(ns) if with_offset else text


def utc_offset(ns: int) -> str:
    """The local zone's offset from UTC at ``ns``: ``+01:00``, ``-05:30``, ``+00:00``."""
    offset = _local(ns).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def duration(ms: float) -> str:
    return format_duration_ms(max(ms, 0.0))


def level(severity_number: int | None, severity_text: str | None) -> str:
    """A three-letter level: from the OTel severity number, else the text."""
    if severity_number:
        for floor, name in ((21, "FTL"), (17, "ERR"), (13, "WRN"), (9, "INF"), (5, "DBG"), (1, "TRC")):
            if severity_number >= floor:
                return name
    text = (severity_text or "").upper()
    for prefix, name in (("FATAL", "FTL"), ("CRIT", "FTL"), ("ERR", "ERR"), ("WARN", "WRN"), ("INFO", "INF")):
        if text.startswith(prefix):
            return name
    return "DBG" if text.startswith("DEBUG") else "---"


def one_line(value: Any, limit: int = 200) -> str:
    """A value as one line of text (JSON for structures), cut to ``limit`` characters."""
    if isinstance(value, str):
        text = value
    elif value is None:
        text = ""
    else:
        try:
            text = orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            text = repr(value)
    text = " ".join(text.split()) if ("\n" in text or "\r" in text or "\t" in text) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"
