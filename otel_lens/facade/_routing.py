"""Send the application's stdlib ``logging`` records to the store without changing what it sees on stderr.

``configure()`` adds a :class:`StoreHandler` to the root logger. With no root handler, Python prints
warnings through its last-resort handler, and a later ``logging.basicConfig()`` configures the root
logger; a handler of ours would silently stop both. So a stand-in for the last-resort handler is
added beside ours, and ``basicConfig`` is wrapped to set ours aside while it runs.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from otel_lens._last_resort import LastResort
from otel_lens.facade._handler import StoreHandler


def route_stdlib_logging() -> StoreHandler | None:
    """Add the store handler to the root logger without changing what the application sees on stderr.

    With no root handler, Python prints warnings through its last-resort handler, and a later
    ``logging.basicConfig()`` configures the root logger; a handler of ours would silently stop both.
    So a stand-in for the last-resort handler is added beside ours, and ``basicConfig`` is wrapped
    to set ours aside while it runs (it then configures as if otel-lens were not there).
    """
    root = logging.getLogger()
    for handler in root.handlers:
        # The application (or opentelemetry-instrument) already sends stdlib records to OTel.
        if isinstance(handler, StoreHandler) or type(handler).__name__ == "LoggingHandler":
            return None
    handler = StoreHandler()
    if not root.handlers:
        root.addHandler(_LastResort())
    root.addHandler(handler)
    _keep_basic_config_working()
    return handler


class _LastResort(LastResort):
    """What Python prints with no handler configured: WARNING and above, the bare message, on stderr."""

    def __init__(self) -> None:
        super().__init__(_no_other_handler)


def _no_other_handler(record: logging.LogRecord) -> bool:
    """Python's last resort speaks only when no handler at all was found for the record: the same here."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(not isinstance(h, (StoreHandler, _LastResort)) for h in logger.handlers):
            return False
        if not logger.propagate:
            break
        logger = logger.parent
    return True


def _keep_basic_config_working() -> None:
    original = logging.basicConfig
    if getattr(original, "_otel_lens", False):
        return

    @functools.wraps(original)
    def basic_config(**kwargs: Any) -> None:
        root = logging.getLogger()
        ours = [h for h in root.handlers if isinstance(h, (StoreHandler, _LastResort))]
        if len(ours) == len(root.handlers):  # nothing but otel-lens: configure as on a fresh root
            for handler in ours:
                root.removeHandler(handler)
        try:
            original(**kwargs)
        finally:  # also when basicConfig refuses its arguments: records are still stored afterwards
            for handler in ours:
                if (isinstance(handler, StoreHandler) and handler not in root.handlers) or (
                    not isinstance(handler, StoreHandler) and not root.handlers
                ):
                    root.addHandler(handler)

    basic_config._otel_lens = True  # type: ignore[attr-defined]
    logging.basicConfig = basic_config
