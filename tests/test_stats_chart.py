"""The histogram a stats row carries: at most 40 log-spaced chart bins whose number and edges follow the spread
of a group's durations, not how many spans it has (the JSON of a dense store is no bigger than a sparse one's),
and the fine bins the percentiles come from only when asked (``--histogram fine``, ``?histogram=fine``), or none."""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import pytest

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.query import StatRow
from otel_lens.settings import Settings
from otel_lens.store import histogram
from tests._stats_helpers import HOUR_NS, T0, Span, write
from tests._web import serve

LOW, HIGH = 10**6, 10 * 10**9  # 1 ms to 10 s: 13 powers of two, 53 bins of the former 4-per-power display


def _spans(service: str, n: int, seed: int) -> list[Span]:
    """``n`` log-uniform durations between LOW and HIGH (both included) over three hours."""
    rng = random.Random(seed)
    durations = [LOW, HIGH] + [int(LOW * (HIGH / LOW) ** rng.random()) for _ in range(n - 2)]
    return [(service, "op", 1, T0 + rng.randrange(3 * HOUR_NS), d, False) for d in durations]


@pytest.fixture
def store_path(sqlite_settings: Settings) -> tuple[str, dict[str, list[int]]]:
    spans = _spans("sparse", 60, 1) + _spans("dense", 20_000, 2)
    write(sqlite_settings, spans, batch=5000)
    durations: dict[str, list[int]] = collections.defaultdict(list)
    for service, *_, duration, _failed in spans:
        durations[service].append(duration)
    return sqlite_settings.database, durations


def _by_service(database: str) -> dict[str, StatRow]:
    with open_store(database) as store:
        return {row.key: row for row in store.stats(since=None, by="service")}


def test_chart_bins_are_bounded_and_do_not_grow_with_the_spans(store_path: tuple[str, dict[str, list[int]]]) -> None:
    """60 and 20,000 spans over the same range get the same ≤ 40 contiguous bins (same edges, empty ones kept),
    covering min to max, their counts summing to the group's count, each bin's count the fine bins' within it."""
    database, durations = store_path
    rows = _by_service(database)
    sparse, dense = rows["sparse"].histogram, rows["dense"].histogram
    assert 20 <= len(dense) <= histogram.CHART_BINS
    assert [(lo, hi) for lo, hi, _ in sparse] == [(lo, hi) for lo, hi, _ in dense]
    for service, bins in (("sparse", sparse), ("dense", dense)):
        assert all(bins[i][1] == bins[i + 1][0] for i in range(len(bins) - 1))  # contiguous
        assert bins[0][0] <= LOW < bins[0][1] and bins[-1][0] <= HIGH < bins[-1][1]
        assert sum(count for *_, count in bins) == len(durations[service])
        for lo, hi, count in bins:
            assert count == sum(1 for d in durations[service] if lo <= d < hi)
    assert any(count == 0 for *_, count in sparse)  # the grid is fixed: empty bins are in it
    small, large = (len(json.dumps(rows[s].as_dict())) for s in ("sparse", "dense"))
    assert large < small * 1.25  # only the counts' digits differ


def test_fine_bins_when_asked_and_percentiles_unchanged(store_path: tuple[str, dict[str, list[int]]]) -> None:
    """``as_dict("fine")`` carries every non-empty fine bin (exactly the spans' bins); the percentiles are the same
    either way (read from the fine bins); an unknown histogram mode is a ValueError naming it."""
    database, durations = store_path
    row = _by_service(database)["dense"]
    fine = row.as_dict("fine")
    expected = collections.Counter(histogram.bin_of(d) for d in durations["dense"])
    assert fine["histogram"] == [
        [histogram.bounds(i)[0] / 1e6, histogram.bounds(i)[1] / 1e6, expected[i]] for i in sorted(expected)
    ]
    assert len(fine["histogram"]) > histogram.CHART_BINS
    assert {k: v for k, v in fine.items() if k != "histogram"} == {
        k: v for k, v in row.as_dict().items() if k != "histogram"
    }
    assert row.as_dict("none")["histogram"] == []
    assert {k: v for k, v in row.as_dict("none").items() if k != "histogram"} == {
        k: v for k, v in row.as_dict().items() if k != "histogram"
    }
    with pytest.raises(ValueError, match="histogram='colour'"):
        row.as_dict("colour")


def test_one_duration_is_one_bin(sqlite_settings: Settings) -> None:
    """A group whose spans all took the same time gets a single bin holding them all."""
    write(sqlite_settings, [("svc", "op", 1, T0 + i, 5_000_000, False) for i in range(7)])
    (row,) = _by_service(sqlite_settings.database).values()
    ((lo, hi, count),) = row.histogram
    assert lo <= 5_000_000 < hi and count == 7


def test_cli_histogram_flag(store_path: tuple[str, dict[str, list[int]]], capsys: pytest.CaptureFixture[str]) -> None:
    """``stats --json`` gives the chart bins, ``--histogram fine`` the fine ones; a bad value is refused."""
    database, _ = store_path
    argv = ["stats", "--by", "service", "--since", "100000d", "--json", "--database", database]
    assert main(argv) == 0
    chart = {r["service"]: r["histogram"] for r in json.loads(capsys.readouterr().out)}
    assert main([*argv, "--histogram", "fine"]) == 0
    fine = {r["service"]: r["histogram"] for r in json.loads(capsys.readouterr().out)}
    assert len(chart["dense"]) <= histogram.CHART_BINS < len(fine["dense"])
    assert sum(b[2] for b in chart["dense"]) == sum(b[2] for b in fine["dense"]) == 20_000
    with pytest.raises(SystemExit):
        main([*argv, "--histogram", "colour"])
    assert "--histogram" in capsys.readouterr().err


def test_api_histogram_parameter(store_path: tuple[str, dict[str, list[int]]], tmp_path: Path) -> None:
    """``/api/stats`` gives the chart bins; ``?histogram=fine`` the fine ones, ``none`` none (what the stats page asks); ``?histogram=colour`` a one-line
    400 naming the parameter (refused even when the window is empty)."""
    database, _ = store_path
    with serve(database) as viewer, viewer.client() as client:
        params = {"by": "service", "since": "100000d"}
        chart = {r["service"]: r["histogram"] for r in client.get("/api/stats", params=params).json()["stats"]}
        fine = client.get("/api/stats", params={**params, "histogram": "fine"}).json()["stats"]
        assert (
            len(chart["dense"])
            <= histogram.CHART_BINS
            < len(next(r for r in fine if r["service"] == "dense")["histogram"])
        )
        for since in ("100000d", "1s"):
            bad = client.get("/api/stats", params={"since": since, "histogram": "colour"})
            assert bad.status_code == 400 and "histogram='colour'" in bad.json()["error"]
