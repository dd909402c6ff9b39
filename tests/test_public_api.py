"""The package's public names (httpx checks its exported members the same way)."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import otel_lens

REPO = Path(__file__).resolve().parent.parent


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
    """The names docs/REFERENCE.md promises are importable from the package."""
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


_KEYWORD_CALLS = """
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Send

from otel_lens import LensLogExporter, LensSpanExporter, configure, instrument_asgi


async def plain(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None: ...


async def not_asgi(scope: dict[str, object]) -> None: ...


lens = configure(database="/tmp/x.db", retention="7d", max_size=10**9, capture_logging=False, service_name="s")
spans = LensSpanExporter(database="/tmp/x.db", sweep_interval=0, redact=["api_key"])
logs = LensLogExporter(None, capture_bodies=True, max_body_size="64KiB", log_format="json")
app: Starlette = instrument_asgi(Starlette(), capture_bodies=True, exclude_spans=[])
wrapped: ASGIApp = instrument_asgi(plain, redact="session_id")
configure(databse="/tmp/x.db")  # expect: Unexpected keyword argument "databse"
LensSpanExporter(max_sise="1GiB")  # expect: Unexpected keyword argument "max_sise"
LensLogExporter(retention=object())  # expect: incompatible type "object"
instrument_asgi(Starlette(), capture_body=True)  # expect: Unexpected keyword argument "capture_body"
instrument_asgi(not_asgi)  # expect: incompatible type
"""


def test_keyword_typos_are_type_errors(tmp_path: Path) -> None:
    """mypy --strict sees the entry points' keywords: a typo (``databse=``) or a wrong type is an error on
    exactly the marked lines, the correct calls (every setting, the facade's own keywords, a Starlette app
    coming back as a Starlette) type-check, and a callable that is not an ASGI app is refused."""
    snippet = tmp_path / "keyword_calls.py"
    snippet.write_text(_KEYWORD_CALLS)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         f"--cache-dir={tmp_path / 'mypy-cache'}", str(snippet)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    errors: dict[int, str] = {}
    for line in result.stdout.splitlines():
        match = re.match(rf"{re.escape(str(snippet))}:(\d+): error: (.*)", line)
        if match:
            errors[int(match[1])] = errors.get(int(match[1]), "") + match[2]
    expected = {
        number: text.split("# expect: ")[1]
        for number, text in enumerate(_KEYWORD_CALLS.splitlines(), start=1)
        if "# expect: " in text
    }
    assert set(errors) == set(expected), result.stdout + result.stderr
    for number, wanted in expected.items():
        assert wanted in errors[number], (number, errors[number])
