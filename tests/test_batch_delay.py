"""The export delay configure()'s processors use: 500 ms by default (bigger batches, cheaper per span),
``OTEL_BSP_SCHEDULE_DELAY`` / ``OTEL_BLRP_SCHEDULE_DELAY`` still the user's override."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_lens import configure
from otel_lens.facade._batch import BatchOptions
from tests._facade_helpers import otel_globals_restored


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    with otel_globals_restored():
        yield


def test_configure_exports_every_500_ms_by_default(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a variable, configure()'s span and log processors wait 500 ms for a batch to fill (the distro's
    value too): within the "queryable in about a second" promise, with batches ~2.5× those of 200 ms under load."""
    monkeypatch.delenv("OTEL_BSP_SCHEDULE_DELAY", raising=False)
    monkeypatch.delenv("OTEL_BLRP_SCHEDULE_DELAY", raising=False)
    lens = configure(database=str(db_path), sweep_interval=0)
    assert lens.span_processor is not None and lens.log_processor is not None
    assert lens.span_processor._options.schedule_delay_s == 0.5
    assert lens.log_processor._options.schedule_delay_s == 0.5


def test_schedule_delay_variables_still_override_the_default(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_BSP_SCHEDULE_DELAY / OTEL_BLRP_SCHEDULE_DELAY (ms) replace the default: 200 gives the former delay."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "1000")
    lens = configure(database=str(db_path), sweep_interval=0)
    assert lens.span_processor is not None and lens.log_processor is not None
    assert lens.span_processor._options.schedule_delay_s == 0.2
    assert lens.log_processor._options.schedule_delay_s == 1.0
    assert BatchOptions("OTEL_BSP", environ={}).schedule_delay_s == 0.5
