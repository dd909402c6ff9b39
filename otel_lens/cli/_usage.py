"""The text view of ``otel-lens usage``: token totals per model, provider or service, their cost and price key.

Numbers are never cut. Piped, every value is whole (``1,234,567``) and every column is there, for
scripts and grep. On a terminal too narrow for that, step by step until the table fits: counts of
10,000 and more are written compactly (``1.23M``), the cache/reasoning columns that are zero in every
row are left out, the price keys move to a list under the table, and the columns close up (two
spaces, costs to four digits). The name column wraps rather than push a number off the screen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from otel_lens.query import UsageRow

PREFIX_MARK = "*"
_OPTIONAL = ("cache read", "cache write", "reasoning")  # left out when narrow and zero in every row
_COUNTS = (  # title, title when compact, UsageRow field
    ("spans", "spans", "span_count"),
    ("input", "input", "input_tokens"),
    ("output", "output", "output_tokens"),
    ("cache read", "c.read", "cache_read_tokens"),
    ("cache write", "c.write", "cache_creation_tokens"),
    ("reasoning", "reason", "reasoning_tokens"),
    ("total", "total", "total_tokens"),
)
_MIN_NAME = 16  # the name column wraps, but never narrower than this (or its longest name)
_UNBOUNDED = 1_000_000


@dataclasses.dataclass(frozen=True)
class _Layout:
    compact: bool  # counts as 1.23M
    leave_out: tuple[str, ...]  # count columns not shown
    key_column: bool  # the price key in a column (else listed under the table)
    terse: bool  # a prefix match marked with PREFIX_MARK (else in words)
    tight: bool = False  # two spaces between columns instead of three, costs to 4 significant digits


def compact(count: int) -> str:
    """``9,999``, ``12.3k``, ``123k``, ``1.23M``, ``45.6G``: at most 6 characters up to 999 T."""
    if count < 10_000:
        return f"{count:,}"
    value = float(count)
    for unit in ("k", "M", "G", "T", "P"):
        value /= 1000
        if value < 999.5 or unit == "P":
            digits = 2 if value < 9.995 else 1 if value < 99.95 else 0
            return f"{value:.{digits}f}{unit}"
    raise AssertionError("unreachable")


def _whole(count: int) -> str:
    return f"{count:,}"


def _cost(cost: float | None, tight: bool = False) -> Text:
    return Text("?", "yellow") if cost is None else Text(_money(cost, tight))


def _money(cost: float, tight: bool) -> str:
    if not tight or cost < 1:
        return f"{cost:,.4f}"
    return f"{cost:,.{max(3 - len(str(int(cost))), 0)}f}"  # 1.234, 12.35, 123.5, 1,235


def _price_key(row: UsageRow, terse: bool) -> Text:
    if row.price_key is None:
        return Text("-", "dim")
    text = Text(row.price_key)
    if row.price_match == "prefix":
        text.append(PREFIX_MARK if terse else " (prefix)", "yellow")
    return text


def _build(rows: Sequence[UsageRow], by: str, priced: bool, layout: _Layout) -> Table:
    """The table with a footer of totals (the footer rule of box.SIMPLE sets it off from the rows)."""
    fmt = compact if layout.compact else _whole
    counts = [
        (short if layout.compact else title, field) for title, short, field in _COUNTS if title not in layout.leave_out
    ]
    table = Table(
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        show_footer=True,
        padding=(0, 1, 0, 0) if layout.tight else (0, 1),
    )
    longest = max(len(row.key or "(unknown)") for row in rows)
    table.add_column(by, overflow="fold", min_width=min(longest, _MIN_NAME), footer=Text("total", "bold"))
    for title, field in counts:
        total = sum(getattr(row, field) for row in rows)
        table.add_column(title, justify="right", no_wrap=True, footer=Text(fmt(total), "bold"))
    if priced:
        known = [row.cost for row in rows if row.cost is not None]
        cost = Text(_money(sum(known), layout.tight), "bold") if known else Text("?", "yellow")
        if known and len(known) < len(rows):
            cost.append("+?", "yellow")  # the rows without a price are not in the total
        if layout.key_column:
            # The price key goes before the cost: the last column is right-aligned, so no line ends in padding.
            table.add_column("price key", overflow="fold")
        table.add_column("cost", justify="right", no_wrap=True, footer=cost)
    for row in rows:
        cells: list[str | Text] = [Text(row.key or "(unknown)")]
        cells.extend(fmt(getattr(row, field)) for _, field in counts)
        if priced:
            if layout.key_column:
                cells.append(_price_key(row, layout.terse))
            cells.append(_cost(row.cost, layout.tight))
        table.add_row(*cells)
    return table


PRICES_HINT = (
    "cost unknown: pip install 'otel-lens[prices]' (genai-prices' table, read offline)"
    " or pass --prices FILE (JSON: model → price per million tokens)"
)
"""Said once wherever a cost is unknown (``usage`` without prices or with an unpriced model, ``session``'s ``$?``)."""


def _width(console: Console, table: Table) -> int:
    """The width ``table`` needs with nothing cut (rich's own measure stops at the console's width)."""
    return Measurement.get(console, console.options.update(max_width=_UNBOUNDED), table).maximum


def render_usage(
    rows: Sequence[UsageRow],
    console: Console,
    by: str,
    priced: bool,
    notes: Console | None = None,
    prices_off: bool = False,
) -> None:
    """The usage table on ``console`` with a total row; the legend of its marks on ``notes`` (stderr).
    ``prices_off``: the user asked for no price source (nothing to explain when there is no cost column)."""
    if not rows:
        console.print("no GenAI usage in this window", style="dim")
        return
    # On a terminal a prefix match is marked with PREFIX_MARK and explained under the table; piped, in words.
    terse = console.is_terminal
    zero = tuple(
        title for title, _, field in _COUNTS if title in _OPTIONAL and not any(getattr(r, field) for r in rows)
    )
    layouts = [_Layout(False, (), True, terse)]
    if terse:  # narrower and narrower until it fits: compact counts, no all-zero columns, price keys below
        layouts += [
            _Layout(True, (), True, terse),
            _Layout(True, zero, True, terse),
            _Layout(True, zero, False, terse),
            _Layout(True, zero, False, terse, tight=True),
        ]
    for layout in layouts:
        table = _build(rows, by, priced, layout)
        if _width(console, table) <= console.width:
            break
    console.print(table)
    if priced and not layout.key_column:
        for row in rows:
            key = _price_key(row, terse=False) if row.price_key is not None else Text("no price", "yellow")
            console.print(Text(f"  {row.key or '(unknown)'}: ", "dim") + key)
    if notes is None:
        return
    if not priced:  # no cost column at all: say how to get one, unless the user turned prices off
        if not prices_off:
            notes.print(PRICES_HINT, style="yellow", markup=False)
        return
    if any(row.cost is None for row in rows):
        notes.print("? = a model without a price (not in --prices, nor in genai-prices when installed)", style="yellow")
        notes.print(PRICES_HINT, style="yellow", markup=False)
    if layout.key_column and terse and any(row.price_match == "prefix" for row in rows):
        notes.print(
            f"{PREFIX_MARK} = priced by a key the model name starts with, followed by a version/date suffix",
            style="yellow",
        )
