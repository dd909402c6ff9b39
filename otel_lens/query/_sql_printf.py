"""A bounded ``printf()``/``format()`` for the SQLite SQL runner: SQLite's own runs past any time budget.

``printf('%.*c', 2000000000, 'x')`` is a single function call that loops two billion times inside SQLite
(the length limit stops the string growing, not the loop), and the progress handler only runs between VM
instructions, so a query of one such call ignores ``--timeout``. The runner's connection gets this
replacement under both names: it refuses a width or precision past the value-length limit (no result could
hold it anyway) and hands the call to SQLite's own printf on a private in-memory connection.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

# A conversion: flags, width (digits or *), precision (. then digits or *), the conversion letter.
_SPEC = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d*))?(.?)", re.S)


class PrintfRefused(ValueError):
    """A printf()/format() call asked for a width or precision no value may hold."""


class BoundedPrintf:
    """``printf(FORMAT, …)`` checked against ``max_width``, then run by SQLite's printf on a side connection."""

    def __init__(self, max_width: int) -> None:
        self.max_width = max_width
        self.refused: str | None = None  # why the last refused call was refused (the runner quotes it)
        self._side: sqlite3.Connection | None = None  # opened on the first call: most queries never call printf

    def __call__(self, fmt: Any = None, *args: Any) -> Any:
        if isinstance(fmt, str):
            self._check(fmt, args)
        if self._side is None:
            self._side = sqlite3.connect(":memory:", check_same_thread=False)
            setlimit = getattr(self._side, "setlimit", None)  # Python 3.11+
            if setlimit is not None:
                setlimit(0, self.max_width)  # SQLITE_LIMIT_LENGTH, as on the runner's connection
        placeholders = ",".join("?" * (1 + len(args)))
        return self._side.execute(f"SELECT printf({placeholders})", (fmt, *args)).fetchone()[0]

    def _check(self, fmt: str, args: tuple[Any, ...]) -> None:
        index = 0
        for match in _SPEC.finditer(fmt):
            _flags, width, precision, conversion = match.groups()
            if conversion == "%":
                continue
            for part in (width, precision):
                if part == "*":
                    value = args[index] if index < len(args) else None
                    index += 1
                    if value is not None and not isinstance(value, (int, float)):
                        self._refuse(f"printf(): a * width or precision must be a number, not {value!r:.40}")
                    amount = abs(int(value or 0))
                elif part:
                    amount = int(part)
                else:
                    continue
                if amount > self.max_width:
                    self._refuse(f"printf(): width or precision {amount} is over the {self.max_width}-byte value limit")
            index += 1

    def _refuse(self, why: str) -> None:
        self.refused = why
        raise PrintfRefused(why)
