"""Shared helpers of the benchmarks: medians of repeated runs and the compact PASS/MISS table they print."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Where benchmarks cache the stores they build: set OTEL_LENS_BENCH_CACHE to keep several checkouts with
# different schemas from sharing (and rebuilding) one cache.
CACHE_ROOT = Path(os.environ.get("OTEL_LENS_BENCH_CACHE", "/tmp"))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """``min–max`` of repeated measurements, so a reader sees how noisy the machine was."""
    return f"{fmt(min(values))}–{fmt(max(values))}" if len(values) > 1 else ""


@dataclass
class Table:
    """Rows of ``measure | value | detail``, then goals as ``ratio | goal | PASS/MISS``."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    goals: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def add(self, measure: str, value: str, detail: str = "") -> None:
        self.rows.append((measure, value, detail))

    def goal(self, measure: str, value: float, goal: str, ok: bool, fmt: str = "{:.2f}×") -> bool:
        self.goals.append((measure, fmt.format(value), goal, ok))
        return ok

    def print(self) -> None:
        print(f"\n== {self.title} ==")
        width = max([len(r[0]) for r in self.rows] + [len(g[0]) for g in self.goals] + [10])
        vwidth = max([len(r[1]) for r in self.rows] + [len(g[1]) for g in self.goals] + [8])
        for measure, value, detail in self.rows:
            print(f"  {measure:<{width}}  {value:>{vwidth}}  {detail}".rstrip())
        if self.goals:
            print(f"  {'goal':<{width}}  {'measured':>{vwidth}}  target      verdict")
            for measure, value, goal, ok in self.goals:
                print(f"  {measure:<{width}}  {value:>{vwidth}}  {goal:<10}  {'PASS' if ok else 'MISS'}")
        print(flush=True)

    @property
    def missed(self) -> int:
        return sum(1 for g in self.goals if not g[3])
