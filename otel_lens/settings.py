"""One frozen dataclass holding every otel-lens setting: ``OTEL_*`` environment variables with keyword overrides."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from otel_lens._own_logs import OWN
from otel_lens._redact import Redactor
from otel_lens._units import parse_duration, parse_size, unitless

_DEFAULT_RETENTION = "7d"
_DEFAULT_MAX_SIZE = "1GiB"
_DEFAULT_SWEEP_INTERVAL = "5m"
_DEFAULT_MAX_BODY_SIZE = "64KiB"
_DURATION_UNITS = ("s", "m", "h", "d")
_SIZE_UNITS = ("B", "KiB", "MB", "GiB")
_logger = logging.getLogger(f"{OWN}.settings")  # otel-lens's own logger: its warnings print on stderr
MAX_DURATION_S = 100 * 365.25 * 86400.0
"""Settings past this are refused: nanosecond times that far off overflow the store's 64-bit integers."""


class SettingsKeywords(TypedDict, total=False):
    """The keyword form of every ``OTEL_EXPORTER_LENS_*`` setting, as ``configure()`` and the exporters take them.

    One definition spelled out for IDEs and type checkers (``configure(databse=…)`` is a type error, not
    only a runtime :class:`SettingsError`); ``None`` means "not given": the environment, else the default.
    Durations and sizes take a number (seconds, bytes) or text with a unit such as ``"7d"`` or ``"500MB"``
    (text without one, ``"7"``, is refused: 7 seconds or 7 days? Only ``"0"`` needs none).
    """

    database: str | os.PathLike[str] | None
    retention: str | float | None
    max_size: str | int | None
    sweep_interval: str | float | None
    log_format: str | None
    capture_bodies: bool | str | None
    max_body_size: str | int | None
    redact: str | Sequence[str] | None
    service_name: str | None


class SettingsError(ValueError):
    """A setting does not parse; the message names the variable or keyword and shows a valid value."""


VARIABLE_PREFIX = "OTEL_EXPORTER_LENS_"
KNOWN_VARIABLES = frozenset(
    VARIABLE_PREFIX + name
    for name in (
        *("DATABASE", "RETENTION", "MAX_SIZE", "SWEEP_INTERVAL", "LOG_FORMAT", "CAPTURE_BODIES", "MAX_BODY_SIZE"),
        *("REDACT", "RUNNING_SPANS", "TOKEN"),  # TOKEN: the one of `otel-lens serve`
    )
)
"""Every ``OTEL_EXPORTER_LENS_*`` variable otel-lens reads; another one is warned about (a misspelling)."""
_warned: set[str] = set()


def warn_unknown_variables(environ: Mapping[str, str]) -> None:
    """One warning per process for each ``OTEL_EXPORTER_LENS_*`` variable otel-lens does not read.

    ``OTEL_EXPORTER_LENS_DATABSE=app.db`` was ignored without a word and the data went to the default
    database; the warning names the closest known variable.
    """
    for name in sorted(environ):
        if name.startswith(VARIABLE_PREFIX) and name not in KNOWN_VARIABLES and name not in _warned:
            _warned.add(name)
            # Compared without the long shared prefix, which would make every name "close" to every other.
            suffixes = [known[len(VARIABLE_PREFIX) :] for known in sorted(KNOWN_VARIABLES)]
            closest = difflib.get_close_matches(name[len(VARIABLE_PREFIX) :], suffixes, n=1, cutoff=0.6)
            hint = (
                f"did you mean {VARIABLE_PREFIX}{closest[0]}?"
                if closest
                else "the known ones are in the README's Configuration"
            )
            _logger.warning("otel-lens: %s is not an otel-lens setting and is ignored; %s", name, hint)


def default_database_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/otel-lens/lens.db``, falling back to ``~/.local/share/otel-lens/lens.db``."""
    env = os.environ if environ is None else environ
    data_home = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "otel-lens" / "lens.db"


@dataclasses.dataclass(frozen=True, repr=False)
class Settings:
    """Resolved otel-lens configuration. Build it with :meth:`Settings.load`, not directly.

    Its ``repr`` shows a PostgreSQL URL without the password or secret options (``?password=…``),
    so printing or logging the settings never prints a credential.
    """

    database: str
    retention: float
    max_size: int
    sweep_interval: float
    log_format: str
    capture_bodies: bool
    max_body_size: int
    redact: tuple[str, ...]
    service_name: str | None

    def __repr__(self) -> str:
        fields = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "database" and "://" in value:
                value = Redactor().display_url(value)
            fields.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(fields)})"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the ``OTEL_*`` environment, then apply keyword overrides (``None`` means "not given").

        Raises:
            SettingsError: a value does not parse, or an unknown keyword was given.
        """
        env = os.environ if environ is None else environ
        if environ is None:
            warn_unknown_variables(env)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(cls))
            raise SettingsError(f"unknown otel-lens setting(s) {', '.join(sorted(unknown))}; valid ones are: {valid}")

        def raw(keyword: str, variable: str, default: Any) -> tuple[Any, str]:
            given = overrides.get(keyword)
            if given is not None:
                return given, f"{keyword}={given!r}"
            value = env.get(variable, "").strip()
            if value:
                return value, f"{variable}={value!r}"
            return default, f"default {keyword}={default!r}"

        def parsed(
            keyword: str, variable: str, default: Any, parse: Any, example: str, units: tuple[str, ...] = ()
        ) -> Any:
            value, origin = raw(keyword, variable, default)
            # Text without a unit is refused, not read as seconds or bytes: RETENTION=7 meant 7 days, and
            # read as 7 s it deleted everything at each sweep. Python numbers stay seconds and bytes.
            number = unitless(value) if units and isinstance(value, str) else None
            if number is not None:
                which = ", ".join(number + unit for unit in units[:-1]) + f" or {number}{units[-1]}"
                raise SettingsError(f"{origin} has no unit: say which, {which} (only 0 needs none)")
            try:
                return parse(value)
            except (TypeError, ValueError) as exc:
                raise SettingsError(f"{origin} is not valid ({exc}); use e.g. {example}") from None

        database, _ = raw("database", "OTEL_EXPORTER_LENS_DATABASE", None)
        if database is not None and not isinstance(database, (str, os.PathLike)):
            raise SettingsError(f"database={database!r} is not valid; use e.g. ./lens.db or postgresql://host/db")
        database = os.fspath(database) if database is not None else str(default_database_path(env))
        log_format = str(raw("log_format", "OTEL_EXPORTER_LENS_LOG_FORMAT", "text")[0]).lower()
        if log_format not in ("text", "json"):
            raise SettingsError(
                f"OTEL_EXPORTER_LENS_LOG_FORMAT / log_format={log_format!r} is not valid; use text or json"
            )
        return cls(
            database=database,
            retention=parsed(
                "retention",
                "OTEL_EXPORTER_LENS_RETENTION",
                _DEFAULT_RETENTION,
                _setting_duration,
                "7d",
                _DURATION_UNITS,
            ),
            max_size=parsed(
                "max_size", "OTEL_EXPORTER_LENS_MAX_SIZE", _DEFAULT_MAX_SIZE, parse_size, "500MB", _SIZE_UNITS
            ),
            sweep_interval=parsed(
                "sweep_interval",
                "OTEL_EXPORTER_LENS_SWEEP_INTERVAL",
                _DEFAULT_SWEEP_INTERVAL,
                _setting_duration,
                "5m",
                _DURATION_UNITS,
            ),
            log_format=log_format,
            capture_bodies=parsed(
                "capture_bodies", "OTEL_EXPORTER_LENS_CAPTURE_BODIES", False, _parse_bool, "true or false"
            ),
            max_body_size=parsed(
                "max_body_size",
                "OTEL_EXPORTER_LENS_MAX_BODY_SIZE",
                _DEFAULT_MAX_BODY_SIZE,
                parse_size,
                "64KiB",
                _SIZE_UNITS,
            ),
            redact=parsed("redact", "OTEL_EXPORTER_LENS_REDACT", (), _parse_keys, "api_key,session_id"),
            service_name=raw("service_name", "OTEL_SERVICE_NAME", None)[0],
        )


RUNNING_SPANS_VARIABLE = "OTEL_EXPORTER_LENS_RUNNING_SPANS"


def running_spans_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``OTEL_EXPORTER_LENS_RUNNING_SPANS`` (default true): whether spans still open are stored as running.

    Not a :class:`Settings` field: it says which processors a provider gets (``configure()``'s
    ``running_spans=`` keyword, the distro), not how the exporters store.

    Raises:
        SettingsError: the value is not a boolean.
    """
    env = os.environ if environ is None else environ
    value = env.get(RUNNING_SPANS_VARIABLE, "").strip()
    if not value:
        return True
    try:
        return _parse_bool(value)
    except ValueError:
        raise SettingsError(f"{RUNNING_SPANS_VARIABLE}={value!r} is not valid; use true or false") from None


def _setting_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{value!r} is longer than 100 years")
    return seconds


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _parse_keys(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        parts = [str(v) for v in value]
    else:
        raise ValueError(f"{value!r} is not a list of keys")
    return tuple(p.strip().lower() for p in parts if p.strip())
