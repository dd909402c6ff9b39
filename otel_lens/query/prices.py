"""A user-supplied GenAI price table (JSON), so ``usage`` can show a cost next to the token counts.

The file maps model names to prices in currency units per million tokens::

    {"gpt-4o": {"input": 2.5, "output": 10, "cache_read": 1.25},
     "claude-sonnet-4": {"input": 3, "output": 15, "cache_read": 0.3, "cache_creation": 3.75}}

A model matches its exact name, else the longest key it starts with (``gpt-4o`` prices
``gpt-4o-2024-08-06``); a ``provider/model`` key wins over a bare model key. Following the
GenAI semantic conventions, ``input_tokens`` include cached tokens, so the cache-read and
cache-creation tokens are priced at their own rate (default: the input rate) and the rest of the
input at the input rate.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

import orjson

_FIELDS = ("input", "output", "cache_read", "cache_creation")


@dataclasses.dataclass(frozen=True)
class Price:
    """Prices per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_creation: float


class PriceTable:
    """Model → :class:`Price`, from :meth:`load` or a mapping of the same shape as the file."""

    def __init__(self, prices: Mapping[str, Mapping[str, Any]]) -> None:
        self._prices: dict[str, Price] = {}
        for model, entry in prices.items():
            if not isinstance(entry, Mapping):
                raise ValueError(f'price of {model!r} must be an object like {{"input": 2.5, "output": 10}}')
            unknown = set(entry) - set(_FIELDS)
            if unknown:
                raise ValueError(f"price of {model!r} has unknown field(s) {', '.join(sorted(unknown))}")
            values = {name: _number(model, name, entry.get(name)) for name in _FIELDS}
            if values["input"] is None or values["output"] is None:
                raise ValueError(f'price of {model!r} needs both "input" and "output"')
            self._prices[str(model)] = Price(
                input=values["input"],
                output=values["output"],
                cache_read=values["input"] if values["cache_read"] is None else values["cache_read"],
                cache_creation=values["input"] if values["cache_creation"] is None else values["cache_creation"],
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PriceTable:
        """Read a price table file.

        Raises:
            ValueError: the file cannot be read or is not a valid price table (the message names it).
        """
        try:
            with open(path, "rb") as handle:
                data = orjson.loads(handle.read())
        except OSError as exc:
            raise ValueError(f"cannot read price table {os.fspath(path)}: {exc.strerror or exc}") from None
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"price table {os.fspath(path)} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"price table {os.fspath(path)} must be a JSON object of model → prices")
        try:
            return cls(data)
        except ValueError as exc:
            raise ValueError(f"price table {os.fspath(path)}: {exc}") from None

    def price(self, provider: str, model: str) -> Price | None:
        """The price of ``model`` (exact name, then longest matching prefix; ``provider/model`` keys first)."""
        for name in (f"{provider}/{model}" if provider else None, model):
            if not name:
                continue
            exact = self._prices.get(name)
            if exact is not None:
                return exact
            prefixes = [key for key in self._prices if name.startswith(key)]
            if prefixes:
                return self._prices[max(prefixes, key=len)]
        return None

    def cost(
        self, provider: str, model: str, input_tokens: int, output_tokens: int, cache_read: int, cache_creation: int
    ) -> float | None:
        """The cost of the given token counts, or ``None`` when the model has no price."""
        price = self.price(provider, model)
        if price is None:
            return None
        uncached = max(input_tokens - cache_read - cache_creation, 0)
        return (
            uncached * price.input
            + cache_read * price.cache_read
            + cache_creation * price.cache_creation
            + output_tokens * price.output
        ) / 1e6


def _number(model: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"price {name!r} of {model!r} must be a non-negative number, not {value!r}")
    return float(value)
