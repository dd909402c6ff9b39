"""The settings the facade runs with: those of the last configure(), else read once from the environment."""

from __future__ import annotations

import logging
import threading

from otel_lens._redact import Redactor
from otel_lens.settings import Settings, SettingsError

_logger = logging.getLogger(__name__)

_lock = threading.Lock()
_settings: Settings | None = None
_redactor: Redactor | None = None


def current() -> tuple[Settings, Redactor]:
    """The active settings and the redactor built from their ``redact`` keys."""
    global _settings, _redactor
    settings, redactor = _settings, _redactor
    if settings is None or redactor is None:
        with _lock:
            if _settings is None or _redactor is None:
                try:
                    _settings = Settings.load()
                except SettingsError as exc:
                    # Without configure() nothing reported it at configuration time; a decorated call or a
                    # log line must not fail for it: say it once and use the defaults.
                    _logger.warning("otel-lens: %s; using the default settings", exc)
                    _settings = Settings.load(environ={})
                _redactor = Redactor(_settings.redact)
            settings, redactor = _settings, _redactor
    return settings, redactor


def activate(settings: Settings | None) -> None:
    """Make ``settings`` the active ones (``None``: read the environment again on next use)."""
    global _settings, _redactor
    with _lock:
        _settings = settings
        _redactor = Redactor(settings.redact) if settings is not None else None
