"""A stand-in for Python's ``logging.lastResort``: what it prints (WARNING and above, the bare message, on stderr).

Two places need one where adding a handler would silence Python's own: ``configure()``'s root handler
(``facade/_routing.py``: the application's warnings still print while nothing else is configured) and
otel-lens's own logger (``_own_logs.py``: its diagnostics still print when only OTel bridges listen). They
differ only in when nobody else shows a record, which each says with the filter it passes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any


class LastResort(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints a record as ``logging.lastResort`` would, when ``nobody_else_shows(record)`` says it must."""

    def __init__(self, nobody_else_shows: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__()
        self.setLevel(logging.WARNING)
        self.addFilter(nobody_else_shows)

    @property
    def stream(self) -> Any:  # sys.stderr at the time of each record, as logging.lastResort does
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass
