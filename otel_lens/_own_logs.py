"""otel-lens's own log records (loggers ``otel_lens.*``): shown to the person at the terminal, never stored.

configure()'s warnings ("service_name … not applied", "configure() was already called") and the exporter's
("… not stored") are diagnostics about otel-lens, not the application's logs, so every logging bridge that
feeds the store skips them (:func:`is_own_logger`: our ``StoreHandler`` before it builds a record, the log
exporter for the SDK's or contrib's ``LoggingHandler``). They still reach the application's own handlers
as before. Where only OTel bridges would receive them (under ``opentelemetry-instrument`` the root logger
holds contrib's ``LoggingHandler``, so Python's last-resort printer stays silent) a stand-in prints them
on stderr as that last resort would: WARNING and above, the bare message.
"""

from __future__ import annotations

import logging

from otel_lens._last_resort import LastResort

OWN = "otel_lens"


def is_own_logger(name: str | None) -> bool:
    """Whether ``name`` is one of otel-lens's own loggers (``otel_lens`` or below it; not ``otel_lens_app``)."""
    return name is not None and name.startswith(OWN) and (len(name) == len(OWN) or name[len(OWN)] == ".")


def _bridge_or_ours(handler: logging.Handler) -> bool:
    """A handler that would not show a record to a person: an OTel bridge, or one of otel-lens's own."""
    module = type(handler).__module__
    return module.split(".", 1)[0] in ("opentelemetry", OWN)


def _nobody_else_shows(record: logging.LogRecord) -> bool:
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(not _bridge_or_ours(h) and record.levelno >= h.level for h in logger.handlers):
            return False
        if not logger.propagate:
            break
        logger = logger.parent
    return True


class _LastResortForOwn(LastResort):
    """Python's last resort for otel-lens's own records, also when bridges are the only other handlers."""

    def __init__(self) -> None:
        super().__init__(_nobody_else_shows)


def install() -> None:
    """Put the stand-in on the ``otel_lens`` logger (once)."""
    own = logging.getLogger(OWN)
    if not any(isinstance(h, _LastResortForOwn) for h in own.handlers):
        own.addHandler(_LastResortForOwn())


install()
