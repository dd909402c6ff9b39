"""``OTEL_EXPORTER_LENS_RUNNING_SPANS``: the one switch of the running-span processor, for ``configure()`` as for the distro."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_lens import SettingsError, configure
from tests._facade_helpers import otel_globals_restored


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    with otel_globals_restored():
        yield


@pytest.mark.parametrize(
    ("value", "keyword", "installed"), [("", None, True), ("false", None, False), ("off", True, True)]
)
def test_the_variable_is_the_default_of_configure_s_keyword(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, keyword: bool | None, installed: bool
) -> None:
    """Unset: a RunningSpanProcessor is installed; `false` leaves it out; an explicit keyword wins over the variable."""
    monkeypatch.setenv("OTEL_EXPORTER_LENS_RUNNING_SPANS", value)
    options = {} if keyword is None else {"running_spans": keyword}
    lens = configure(database=str(db_path), sweep_interval=0, **options)
    try:
        assert (lens.running_processor is not None) is installed
    finally:
        lens.shutdown()


def test_a_value_that_is_not_a_boolean_is_refused_by_name(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configure() raises SettingsError naming the variable and the valid values, as for every other setting."""
    monkeypatch.setenv("OTEL_EXPORTER_LENS_RUNNING_SPANS", "sometimes")
    with pytest.raises(
        SettingsError, match=r"^OTEL_EXPORTER_LENS_RUNNING_SPANS='sometimes' is not valid; use true or false$"
    ):
        configure(database=str(db_path), sweep_interval=0)
