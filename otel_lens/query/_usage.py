"""GenAI usage over a time window: token totals per model, provider or service, priced where a price is known."""

from __future__ import annotations

import collections
from typing import Any

import peewee as pw

from otel_lens.query._bundled_prices import BundledPrices
from otel_lens.query._decode import column
from otel_lens.query.prices import Priced, PriceTable
from otel_lens.query.results import UsageRow
from otel_lens.store.rows import USAGE_BUCKET_NS
from otel_lens.store.schema import Models

_DAY_NS = 86400 * 10**9


class _Costs:
    """The cost of one row as its parts are priced: unknown as soon as one part has no price."""

    def __init__(self) -> None:
        self.total = 0.0
        self.unknown = False
        self.keys: dict[str, None] = {}  # the keys that priced it, in the order met
        self.prefix = False

    def add(self, priced: Priced | None, cost: float | None) -> None:
        if priced is not None:
            self.keys[priced.key] = None
            self.prefix = self.prefix or priced.kind == "prefix"
        if priced is None or cost is None:
            self.unknown = True
        else:
            self.total += cost


def usage_totals(
    models: Models, by: str, cutoff: int | None, prices: PriceTable | None, bundled: BundledPrices | None = None
) -> list[UsageRow]:
    """GenAI token totals per ``by`` ("model", "provider" or "service") from the hourly usage table.

    The window is whole hours: the hour holding ``cutoff`` counts in full. Each day/provider/model
    is priced by the user's ``prices`` first, then by ``bundled`` (genai-prices, at that day's
    rates); a row's cost is None unless every part of it has a price. The hourly rows are summed per
    UTC day in SQL, so a window returns a row per day and model, whatever the store's size.
    """
    usage: Any = models.usage
    # Integer division on both dialects (BIGINT / BIGINT); the divisor inline, not a parameter, so that
    # PostgreSQL sees the same expression in the SELECT list and in GROUP BY.
    day = usage.bucket_ns / pw.SQL(str(_DAY_NS))
    query = usage.select(
        usage.service,
        usage.provider,
        usage.model,
        day,
        pw.fn.SUM(usage.span_count),
        pw.fn.SUM(usage.input_tokens),
        pw.fn.SUM(usage.output_tokens),
        pw.fn.SUM(usage.cache_read_tokens),
        pw.fn.SUM(usage.cache_creation_tokens),
        pw.fn.SUM(column(usage, "reasoning_tokens")),  # NULL (0) on a store no writer has migrated yet
    )
    if cutoff is not None:
        query = query.where(usage.bucket_ns >= cutoff - cutoff % USAGE_BUCKET_NS)
    query = query.group_by(usage.service, usage.provider, usage.model, day)
    totals: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    costs: dict[str, _Costs] = collections.defaultdict(_Costs)
    priced_at_all = prices is not None or bundled is not None
    for service, provider, model, day_number, *sums in query.tuples():
        bucket = int(day_number) * _DAY_NS
        key = {"service": service, "provider": provider, "model": model}[by] or ""
        counts = [int(v or 0) for v in sums]
        total = totals[key]
        for index, value in enumerate(counts):
            total[index] += value
        if not priced_at_all:
            continue
        priced: Priced | None = prices.match(provider, model) if prices is not None else None
        if priced is None and bundled is not None:
            priced = bundled.match(provider, model)
        _spans, input_tokens, output_tokens, cache_read, cache_creation, _reasoning = counts
        cost = priced.cost(input_tokens, output_tokens, cache_read, cache_creation, bucket) if priced else None
        costs[key].add(priced, cost)
    rows = []
    for key, (spans, input_tokens, output_tokens, cache_read, cache_creation, reasoning) in totals.items():
        found = costs.get(key)
        rows.append(
            UsageRow(
                by,
                key,
                spans,
                input_tokens,
                output_tokens,
                cache_read,
                cache_creation,
                cost=None if found is None or found.unknown else found.total,
                reasoning_tokens=reasoning,
                price_key=", ".join(found.keys) if found is not None and found.keys else None,
                price_match=None if found is None or not found.keys else ("prefix" if found.prefix else "exact"),
            )
        )
    rows.sort(key=lambda r: (-r.total_tokens, r.key))
    return rows
