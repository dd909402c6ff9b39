"""What a read-only SQL query gives back, and why one could not run (shared by every dialect's runner)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from typing import Any


class SqlError(ValueError):
    """The query could not run: bad SQL (the message quotes the database's own), or empty."""


class SqlRefused(SqlError):
    """The query would write, attach, load an extension, change a PRAGMA or open a transaction."""


class SqlTimeout(SqlError):
    """The query ran past its time budget and was interrupted."""


@dataclasses.dataclass(frozen=True)
class SqlResult:
    """The first ``limit`` rows of a query, and how many more there were."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    more: int  # rows past the cap (counted, not fetched)
    more_exact: bool = True  # False when counting them ran out of time: "at least ``more``"

    def more_notice(self) -> str | None:
        """``"12 more rows (…)"`` when rows were cut, else None."""
        if not self.more:
            if not self.more_exact:  # the budget ran out before a single further row was counted
                return "more rows may exist (counting them ran out of time; raise the timeout or add LIMIT/WHERE)"
            return None
        count = f"{self.more}" if self.more_exact else f"at least {self.more}"
        return f"{count} more row{'s' if self.more != 1 else ''} not shown (raise the limit or add LIMIT/WHERE)"

    def records(self) -> list[dict[str, Any]]:
        """Rows as objects keyed by column (a repeated column name gets ``:1``, ``:2``, … as SQLite does)."""
        keys: list[str] = []
        seen: dict[str, int] = {}
        for name in self.columns:
            count = seen.get(name, 0)
            seen[name] = count + 1
            keys.append(name if count == 0 else f"{name}:{count}")
        return [dict(zip(keys, row, strict=True)) for row in self.rows]

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": [list(r) for r in self.rows], "more_rows": self.more,
                "more_rows_exact": self.more_exact}  # fmt: skip


def plain(value: Any) -> Any:
    """A result value as JSON can hold it: blobs as hex, PostgreSQL's numerics and times as numbers and text."""
    if value is None or isinstance(value, (str, int, float, dict, list)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)
