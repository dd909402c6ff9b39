"""A user-supplied GenAI price table (JSON), so ``usage`` can show a cost next to the token counts.

The file maps model names to prices in currency units per million tokens::

    {"gpt-4o": {"input": 2.5, "output": 10, "cache_read": 1.25},
     "anthropic/claude-sonnet-4": {"input": 3, "output": 15, "cache_read": 0.3, "cache_creation": 3.75}}

How a model finds its key (names compared without regard to case):

- A key is either a model name (``gpt-4o``) or ``provider/model`` (``openai/gpt-4o``), which only
  applies to spans of that provider.
- The key's model part matches the model exactly, or is a prefix of it followed only by
  version/date suffixes: ``-2024-08-06``, ``-20240806``, ``-0613``, ``-001``, ``-v2``, ``-latest``,
  and anything after ``@`` or ``:`` (``claude-sonnet-4@20250514``, ``llama3.1:8b``). So ``gpt-4o``
  prices ``gpt-4o-2024-08-06`` but never ``gpt-4o-mini``, another model with another price.
- Among the keys that match, the longest model part wins (an exact match is the longest); a
  provider-qualified key wins only over a bare key of the same model part.

Following the GenAI semantic conventions, ``input_tokens`` include cached tokens, so the cache-read
and cache-creation tokens are priced at their own rate (default: the input rate) and the rest of
the input at the input rate. Reasoning tokens are part of the output and priced as output.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import orjson

_FIELDS = ("input", "output", "cache_read", "cache_creation")

_VERSION_SUFFIX = re.compile(r"(?:-(?:\d{4}-\d{2}-\d{2}|\d{3,}|v\d+(?:\.\d+)*|latest))*(?:[@:].*)?", re.DOTALL)
"""What may follow a key's model part for the key to price a longer model name (see the module docstring)."""

MatchKind = Literal["exact", "prefix"]


@dataclasses.dataclass(frozen=True)
class Price:
    """Prices per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_creation: float

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int, cache_creation: int) -> float:
        uncached = max(input_tokens - cache_read - cache_creation, 0)
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_creation * self.cache_creation
            + output_tokens * self.output
        ) / 1e6


@dataclasses.dataclass(frozen=True)
class PriceMatch:
    """The price a model was given: the key that matched, how, and the price itself."""

    key: str
    kind: MatchKind
    price: Price

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_creation: int, when_ns: int | None = None
    ) -> float | None:
        """The cost of the counts (a table's prices do not change with time: ``when_ns`` is not used)."""
        return self.price.cost(input_tokens, output_tokens, cache_read, cache_creation)


class Priced(Protocol):
    """What a usage row is priced by: a table key (:class:`PriceMatch`) or a bundled genai-prices model."""

    @property
    def key(self) -> str: ...

    @property
    def kind(self) -> MatchKind: ...

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_creation: int, when_ns: int | None = None
    ) -> float | None: ...


def is_version_suffix(rest: str) -> bool:
    """Whether ``rest`` (what follows a key in a model name) holds only version/date suffixes."""
    return bool(rest) and _VERSION_SUFFIX.fullmatch(rest) is not None


class PriceTable:
    """Model → :class:`Price`, from :meth:`load` or a mapping of the same shape as the file."""

    def __init__(self, prices: Mapping[str, Mapping[str, Any]]) -> None:
        self._prices: dict[str, tuple[str, Price]] = {}  # lower-cased key → (key as written, price)
        self._matches: dict[tuple[str, str], PriceMatch | None] = {}
        for model, entry in prices.items():
            if not isinstance(entry, Mapping):
                raise ValueError(f'price of {model!r} must be an object like {{"input": 2.5, "output": 10}}')
            unknown = set(entry) - set(_FIELDS)
            if unknown:
                raise ValueError(f"price of {model!r} has unknown field(s) {', '.join(sorted(unknown))}")
            values = {name: _number(model, name, entry.get(name)) for name in _FIELDS}
            if values["input"] is None or values["output"] is None:
                raise ValueError(f'price of {model!r} needs both "input" and "output"')
            key = str(model)
            if not key.strip():
                raise ValueError("a price table key must name a model, not be empty")
            other = self._prices.get(key.lower())
            if other is not None:
                raise ValueError(f"price keys {other[0]!r} and {key!r} name the same model (case is ignored)")
            self._prices[key.lower()] = (
                key,
                Price(
                    input=values["input"],
                    output=values["output"],
                    cache_read=values["input"] if values["cache_read"] is None else values["cache_read"],
                    cache_creation=values["input"] if values["cache_creation"] is None else values["cache_creation"],
                ),
            )

    def __len__(self) -> int:
        return len(self._prices)

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

    def match(self, provider: str, model: str) -> PriceMatch | None:
        """The key pricing ``model`` of ``provider`` under the rules of the module docstring, or None."""
        cached = self._matches.get((provider, model), _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = self._match(provider.lower(), model.lower()) if model else None
        self._matches[(provider, model)] = found
        return found

    def _match(self, provider: str, model: str) -> PriceMatch | None:
        best: tuple[int, bool] | None = None
        found: PriceMatch | None = None
        qualifier = f"{provider}/" if provider else None
        for lowered, (key, price) in self._prices.items():
            parts = [(lowered, False)]  # a key is a bare model name …
            if qualifier is not None and lowered.startswith(qualifier):
                parts.append((lowered[len(qualifier) :], True))  # … or this provider's model
            for part, qualified in parts:
                if not part or not model.startswith(part):
                    continue
                exact = len(part) == len(model)
                if not exact and not is_version_suffix(model[len(part) :]):
                    continue
                rank = (len(part), qualified)
                if best is None or rank > best:
                    best, found = rank, PriceMatch(key, "exact" if exact else "prefix", price)
        return found

    def price(self, provider: str, model: str) -> Price | None:
        """The price of ``model`` (see :meth:`match`), or None when no key matches."""
        found = self.match(provider, model)
        return found.price if found is not None else None

    def cost(
        self, provider: str, model: str, input_tokens: int, output_tokens: int, cache_read: int, cache_creation: int
    ) -> float | None:
        """The cost of the given token counts, or ``None`` when the model has no price."""
        price = self.price(provider, model)
        return None if price is None else price.cost(input_tokens, output_tokens, cache_read, cache_creation)


_MISSING = object()


def _number(model: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"price {name!r} of {model!r} must be a non-negative number, not {value!r}")
    return float(value)
