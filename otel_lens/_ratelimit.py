"""Warnings logged at most once per interval per kind, the way the SDK's batch processor rate-limits its own."""

from __future__ import annotations

import logging
import threading
import time

_DEFAULT_INTERVAL_S = 20.0


class RateLimitedLog:
    """Logs a warning of each kind at most once per ``interval`` seconds, counting what it held back."""

    def __init__(self, logger: logging.Logger, interval: float = _DEFAULT_INTERVAL_S) -> None:
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, kind: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless a ``kind`` warning was logged within the interval; True if logged."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            self._last[kind] = now
            held = self._held.pop(kind, 0)
        suffix = f" ({held} similar message(s) suppressed)" if held else ""
        self._logger.warning(message + suffix, *args)
        return True
