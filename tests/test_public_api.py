"""The package's public names (httpx checks its exported members the same way)."""

from __future__ import annotations

import types

import otel_lens


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` is sorted, every name in it exists, and every public attribute is listed."""
    assert otel_lens.__all__ == sorted(otel_lens.__all__)
    for name in otel_lens.__all__:
        assert getattr(otel_lens, name) is not None
    public = {
        name
        for name, value in vars(otel_lens).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)  # submodules others imported
    }
    assert public - {"annotations"} == set(otel_lens.__all__)


def test_contract_names_are_exported() -> None:
    """The names CONTRACT.md promises are importable from the package."""
    for name in (
        "configure",
        "lens_fn",
        "lens_route",
        "instrument_asgi",
        "Logger",
        "Lens",
        "LensSpanExporter",
        "LensLogExporter",
        "open_store",
        "Store",
        "PruneSummary",
    ):
        assert name in otel_lens.__all__
    assert otel_lens.lens_fn.__module__ == "otel_lens.facade.functions"
