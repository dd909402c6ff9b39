"""The settings the facade runs with: those of the last configure(), else read once from the environment."""

from __future__ import annotations

import threading

from otel_lens._redact import Redactor
from otel_lens.settings import Settings

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
                _settings = Settings.load()
                _redactor = Redactor(_settings.redact)
            settings, redactor = _settings, _redactor
    return settings, redactor


def activate(settings: Settings | None) -> None:
    """Make ``settings`` the active ones (``None``: read the environment again on next use)."""
    global _settings, _redactor
    with _lock:
        _settings = settings
        _redactor = Redactor(settings.redact) if settings is not None else None
