"""Default GenAI prices from Pydantic's ``genai-prices`` package (extra ``otel-lens[prices]``), offline.

Only the price data bundled with the installed package is read: nothing here starts its
``UpdatePrices`` downloader, so ``usage`` never touches the network (a process that started one
itself gets the prices it fetched). Prices are in USD per token count, looked up by provider and
model with genai-prices' own matching rules, and at the rates in force on the usage's day.

The user's ``--prices`` table is asked first (:mod:`otel_lens.query.prices`); these prices fill in
the models it does not name.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import threading
import time
from typing import Any

from otel_lens.query.prices import MatchKind

KEY_PREFIX = "genai-prices:"


_PROBE = 1000
"""Tokens per count when reading a model's per-token rates: small, so no long-context tier applies."""
_DAY_NS = 86400 * 10**9


@dataclasses.dataclass(frozen=True)
class BundledMatch:
    """A genai-prices model a usage row was priced by; ``key`` is ``genai-prices:<provider>/<model id>``.

    Costs are the counts times the model's per-token rates of that UTC day. The rates are read from
    genai-prices once per day (four small probes), not once per usage row: a price computation costs
    about half a millisecond, and a day's window holds a row per hour and model. Usage is kept as
    hourly sums, not per request, so per-request tiers (long-context prices) cannot apply; the base
    rates are what every request below such a threshold pays.
    """

    key: str
    kind: MatchKind
    _provider: Any = dataclasses.field(repr=False, compare=False)
    _model: Any = dataclasses.field(repr=False, compare=False)
    _rates: dict[int, tuple[float, float, float, float] | None] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_creation: int, when_ns: int | None = None
    ) -> float | None:
        """The USD cost of the counts at the rates of ``when_ns``'s day (today when None); None when unknown."""
        # genai-prices refuses cache counts larger than the input they are part of: an instrumentation
        # that reports them apart from the input is given the benefit of the doubt.
        cache_read = min(cache_read, input_tokens)
        cache_creation = min(cache_creation, input_tokens - cache_read)
        day = (when_ns if when_ns is not None else time.time_ns()) // _DAY_NS
        if day not in self._rates:
            self._rates[day] = self._day_rates(day)
        rates = self._rates[day]
        if rates is None:
            return None
        per_input, per_output, per_cache_read, per_cache_write = rates
        uncached = input_tokens - cache_read - cache_creation
        return (
            uncached * per_input
            + output_tokens * per_output
            + cache_read * per_cache_read
            + cache_creation * per_cache_write
        )

    def _day_rates(self, day: int) -> tuple[float, float, float, float] | None:
        """USD per input, output, cache-read and cache-write token on ``day`` (days since 1970, UTC)."""
        from genai_prices import Usage

        when = datetime.datetime.fromtimestamp(day * 86400 + 43200, datetime.timezone.utc)  # that day's noon
        probes = (
            Usage(input_tokens=_PROBE),
            Usage(output_tokens=_PROBE),
            Usage(input_tokens=_PROBE, cache_read_tokens=_PROBE),
            Usage(input_tokens=_PROBE, cache_write_tokens=_PROBE),
        )
        try:
            return tuple(  # type: ignore[return-value]
                float(self._model.calc_price(usage, self._provider, genai_request_timestamp=when).total_price) / _PROBE
                for usage in probes
            )
        except Exception:  # a price the package cannot compute is shown as unknown, never a traceback
            return None


class BundledPrices:
    """Looks models up in genai-prices' bundled data (one instance per process).

    The data (a large module, most of a second to import) loads at the first lookup, so a ``usage``
    that the user's table covers, or that finds no usage, does not pay for it.
    """

    def __init__(self) -> None:
        self._snapshot: Any = None
        self._broken = False
        self._matches: dict[tuple[str, str], BundledMatch | None] = {}

    def _data(self) -> Any:
        if self._snapshot is None and not self._broken:
            try:
                from genai_prices import data_snapshot

                self._snapshot = data_snapshot.get_snapshot()
            except Exception:  # a broken install: costs need a table, `usage` still works
                self._broken = True
        return self._snapshot

    def match(self, provider: str, model: str) -> BundledMatch | None:
        """The genai-prices model for ``model`` of ``provider``, or None when it has none.

        A provider genai-prices knows is searched alone (with the providers it resells, e.g. Azure →
        OpenAI); an unknown or missing provider lets the model name choose one.
        """
        key = (provider, model)
        if key not in self._matches:
            self._matches[key] = self._lookup(provider, model) if model else None
        return self._matches[key]

    def _lookup(self, provider: str, model: str) -> BundledMatch | None:
        snapshot = self._data()
        if snapshot is None:
            return None
        try:
            found = None
            if provider:
                try:
                    found = snapshot.find_provider(None, provider, None)
                except LookupError:
                    found = None
            if found is not None:
                priced = found.find_model(model, all_providers=snapshot.providers)
                if priced is None:
                    return None
                owner = found
            else:
                owner, priced = snapshot.find_provider_model(model, None, None, None)
        except LookupError:
            return None
        except Exception:  # bad data in a third-party package must not break `usage`
            return None
        kind: MatchKind = "exact" if _names_exactly(priced.match, model.lower()) else "prefix"
        return BundledMatch(f"{KEY_PREFIX}{owner.id}/{priced.id}", kind, owner, priced)


def _names_exactly(clause: Any, model: str) -> bool:
    """Whether genai-prices' match rule lists ``model`` by its full name (not by a prefix, suffix or pattern)."""
    if getattr(clause, "equals", None) is not None:
        return bool(clause.equals.lower() == model)
    for children in (getattr(clause, "or_", None), getattr(clause, "and_", None)):
        if children:
            return any(_names_exactly(child, model) for child in children)
    return False


_lock = threading.Lock()
_loaded: list[BundledPrices | None] = []


def bundled_prices() -> BundledPrices | None:
    """genai-prices' bundled data, or None when the package is not installed (a cheap check: nothing imported)."""
    with _lock:
        if not _loaded:
            _loaded.append(BundledPrices() if importlib.util.find_spec("genai_prices") is not None else None)
        return _loaded[0]
