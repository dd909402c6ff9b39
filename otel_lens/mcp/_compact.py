"""Results small enough for an agent's context window: long values cut with a marker, lists bounded with a hint."""

from __future__ import annotations

from typing import Any

MAX_TEXT = 300  # characters of one string value
MAX_KEYS = 40  # keys of one attribute map
MAX_ITEMS = 20  # elements of one nested list


def cut_text(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars cut]"


def compact(value: Any, depth: int = 0) -> Any:
    """``value`` with strings cut, maps and lists bounded (the markers say how much is gone)."""
    if isinstance(value, str):
        return cut_text(value)
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k): compact(v, depth + 1) for k, v in items[:MAX_KEYS]}
        if len(items) > MAX_KEYS:
            out["…"] = f"{len(items) - MAX_KEYS} more keys"
        return out
    if isinstance(value, (list, tuple)):
        shown = [compact(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            shown.append(f"…{len(value) - MAX_ITEMS} more")
        return shown
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def bounded(
    items: list[Any], limit: int, what: str, hint: str, found: int | None = None, counted: int | None = None
) -> dict[str, Any]:
    """``{what: items[:limit]}`` plus ``more`` saying how many were left out and how to see them.

    ``found`` is how many matches there were (``len(items)`` when omitted). With ``counted``, the matches were
    read only up to ``limit + counted + 1`` (counting is bounded work): a read that came back full says "more
    than ``counted``", never a number that would be wrong.
    """
    out: dict[str, Any] = {what: items[:limit]}
    rest = (len(items) if found is None else found) - limit
    if counted is not None and rest > counted:
        out["more"] = f"more than {counted} more {what} not shown; {hint}"
    elif rest > 0:
        out["more"] = f"{rest} more {what} not shown; {hint}"
    return out
