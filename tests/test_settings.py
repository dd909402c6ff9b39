"""Settings: OTEL_EXPORTER_LENS_* parsing, keyword overrides, and error messages that say how to fix them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_lens._units import parse_duration, parse_size
from otel_lens.settings import KNOWN_VARIABLES, Settings, SettingsError, default_database_path


def test_defaults_match_the_contract(tmp_path: Path) -> None:
    """With no variables: 7 days, 1 GiB, 5 minutes, text logs, no bodies, 64 KiB cap, XDG path."""
    settings = Settings.load(environ={"XDG_DATA_HOME": str(tmp_path)})
    assert settings.retention == 7 * 86400
    assert settings.max_size == 1024**3
    assert settings.sweep_interval == 300
    assert settings.log_format == "text"
    assert settings.capture_bodies is False
    assert settings.max_body_size == 64 * 1024
    assert settings.redact == ()
    assert settings.database == str(tmp_path / "otel-lens" / "lens.db")


def test_default_path_falls_back_to_local_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without XDG_DATA_HOME the store lives in ~/.local/share/otel-lens/lens.db."""
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_database_path() == tmp_path / ".local" / "share" / "otel-lens" / "lens.db"


def test_environment_is_read() -> None:
    """Each variable of the contract reaches its setting."""
    settings = Settings.load(
        environ={
            "OTEL_EXPORTER_LENS_DATABASE": "/data/x.db",
            "OTEL_EXPORTER_LENS_RETENTION": "12h",
            "OTEL_EXPORTER_LENS_MAX_SIZE": "500MB",
            "OTEL_EXPORTER_LENS_SWEEP_INTERVAL": "90s",
            "OTEL_EXPORTER_LENS_LOG_FORMAT": "JSON",
            "OTEL_EXPORTER_LENS_CAPTURE_BODIES": "true",
            "OTEL_EXPORTER_LENS_MAX_BODY_SIZE": "1KiB",
            "OTEL_EXPORTER_LENS_REDACT": " Session_Id , x-token ,,",
            "OTEL_SERVICE_NAME": "checkout",
        }
    )
    assert settings.database == "/data/x.db"
    assert settings.retention == 12 * 3600
    assert settings.max_size == 500 * 1000**2
    assert settings.sweep_interval == 90
    assert settings.log_format == "json"
    assert settings.capture_bodies is True
    assert settings.max_body_size == 1024
    assert settings.redact == ("session_id", "x-token")
    assert settings.service_name == "checkout"


def test_keywords_override_the_environment() -> None:
    """A keyword given to configure()/the exporters wins over the variable."""
    settings = Settings.load(environ={"OTEL_EXPORTER_LENS_RETENTION": "1d"}, retention="0", max_size=0)
    assert settings.retention == 0
    assert settings.max_size == 0


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("OTEL_EXPORTER_LENS_RETENTION", "seven days", "7d"),
        ("OTEL_EXPORTER_LENS_MAX_SIZE", "-1GB", "500MB"),
        ("OTEL_EXPORTER_LENS_SWEEP_INTERVAL", "5 parsecs", "5m"),
        ("OTEL_EXPORTER_LENS_CAPTURE_BODIES", "maybe", "true or false"),
        ("OTEL_EXPORTER_LENS_MAX_BODY_SIZE", "big", "64KiB"),
        ("OTEL_EXPORTER_LENS_LOG_FORMAT", "xml", "text or json"),
    ],
)
def test_bad_variable_names_itself_and_a_valid_example(variable: str, value: str, example: str) -> None:
    """A value that does not parse fails at configuration naming the variable and a valid value."""
    with pytest.raises(SettingsError) as error:
        Settings.load(environ={variable: value})
    message = str(error.value)
    assert variable in message
    assert value in message
    assert example in message


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("OTEL_EXPORTER_LENS_RETENTION", "7", "7d"),
        ("OTEL_EXPORTER_LENS_SWEEP_INTERVAL", "5", "5m"),
        ("OTEL_EXPORTER_LENS_MAX_SIZE", "1", "1MB"),
        ("OTEL_EXPORTER_LENS_MAX_BODY_SIZE", " 64 ", "64KiB"),
        ("OTEL_EXPORTER_LENS_RETENTION", "1.5", "1.5h"),
    ],
)
def test_text_without_a_unit_is_refused(variable: str, value: str, example: str) -> None:
    """RETENTION=7 meant 7 days and, read as 7 seconds, deleted everything at each sweep (MAX_SIZE=1: one
    byte): a duration or size given as text needs its unit; the one-line error names the variable and the
    number with units to choose from."""
    with pytest.raises(SettingsError) as error:
        Settings.load(environ={variable: value})
    message = str(error.value)
    assert f"{variable}={value.strip()!r} has no unit" in message
    assert example in message and "\n" not in message


def test_zero_text_and_python_numbers_need_no_unit() -> None:
    """``0`` means the same in every unit (off), and Python numbers keep meaning seconds and bytes, as the
    README says (``configure(retention=3600, sweep_interval=0)``)."""
    environ = {
        "OTEL_EXPORTER_LENS_RETENTION": "0",
        "OTEL_EXPORTER_LENS_MAX_SIZE": "0.0",
        "OTEL_EXPORTER_LENS_SWEEP_INTERVAL": "0",
        "OTEL_EXPORTER_LENS_MAX_BODY_SIZE": "0",
    }
    settings = Settings.load(environ=environ)
    assert (settings.retention, settings.max_size, settings.sweep_interval, settings.max_body_size) == (0, 0, 0, 0)
    settings = Settings.load(environ={}, retention=3600, max_size=5000, sweep_interval=2.5, max_body_size=64)
    assert (settings.retention, settings.max_size, settings.sweep_interval, settings.max_body_size) == (
        3600,
        5000,
        2.5,
        64,
    )


@pytest.mark.parametrize("keyword", ["retention", "sweep_interval", "max_size", "max_body_size"])
def test_string_keyword_without_a_unit_is_refused(keyword: str) -> None:
    """``configure(retention="3600")`` is text like the environment: refused under the keyword's name."""
    with pytest.raises(SettingsError, match=rf"^{keyword}='3600' has no unit"):
        Settings.load(environ={}, **{keyword: "3600"})


def test_bad_keyword_names_the_keyword() -> None:
    """A bad keyword value is reported under the keyword's name."""
    with pytest.raises(SettingsError, match=r"retention='soon'.*7d"):
        Settings.load(environ={}, retention="soon")


def test_unknown_keyword_is_refused() -> None:
    """A misspelt keyword is an error listing the valid ones, not silently ignored."""
    with pytest.raises(SettingsError, match=r"retension.*retention"):
        Settings.load(environ={}, retension="1d")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("12h", 43200), ("7d", 604800), ("0", 0), ("100ms", 0.1), ("1.5m", 90), ("2w", 1209600)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [("500MB", 500_000_000), ("1GiB", 1024**3), ("64KiB", 65536), ("0", 0), ("123", 123), ("1.5KB", 1500)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "-5s", "5 lightyears", "1e9"])
def test_bad_durations_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_absurd_retention_fails_at_configuration() -> None:
    with pytest.raises(SettingsError, match=r"OTEL_EXPORTER_LENS_RETENTION.*100 years"):
        Settings.load(environ={"OTEL_EXPORTER_LENS_RETENTION": "200000d"})


def test_absurd_sweep_interval_fails_at_configuration() -> None:
    """A sweep interval no timer can wait for is refused up front (it would kill the sweeper thread later)."""
    with pytest.raises(SettingsError, match=r"sweep_interval.*100 years"):
        Settings.load(environ={}, sweep_interval="99999999999d")


def test_every_documented_variable_is_known_and_others_are_warned_about_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """No ``OTEL_EXPORTER_LENS_*`` variable of docs/REFERENCE.md is warned about; an unknown one is, once per
    process, naming the closest known variable or, when none is close, where the known ones are listed."""
    reference = (Path(__file__).parent.parent / "docs" / "REFERENCE.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"OTEL_EXPORTER_LENS_[A-Z_]*[A-Z]", reference))
    assert documented == set(KNOWN_VARIABLES)
    for name in documented:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_LENS_DATABASE", str(tmp_path / "lens.db"))
    monkeypatch.setenv("OTEL_EXPORTER_LENS_SWEEP_INTERVL", "5m")
    monkeypatch.setenv("OTEL_EXPORTER_LENS_WHATEVER_ELSE", "1")
    with caplog.at_level("WARNING", logger="otel_lens.settings"):
        Settings.load()
        Settings.load()
    assert [record.getMessage() for record in caplog.records] == [
        "otel-lens: OTEL_EXPORTER_LENS_SWEEP_INTERVL is not an otel-lens setting and is ignored; "
        "did you mean OTEL_EXPORTER_LENS_SWEEP_INTERVAL?",
        "otel-lens: OTEL_EXPORTER_LENS_WHATEVER_ELSE is not an otel-lens setting and is ignored; "
        "the known ones are in the README's Configuration",
    ]
