"""The latency histogram of ``lens_latency``: log-scale bins with a bounded relative error, and its byte form.

Bins are HDR-like: durations below 32 ns have a bin each (exact); above, every power of two is split
into 16 equal bins, so a bin ``[lo, hi)`` is at most ``lo / 16`` wide. A percentile read from the
histogram is the middle of the bin holding the exact nearest-rank value (clamped to the group's
minimum and maximum, which are kept exactly), hence within :data:`RELATIVE_ERROR` (1/32 = 3.125 %)
of the exact value.

A histogram is stored as bytes: a little-endian uint16 first bin, then one little-endian uint32
count per bin from there to the last non-empty bin. In memory it is one Python int whose 32-bit
field ``i`` is the count of bin ``i``: merging histograms is one integer addition (C speed, however
many bins), which is what keeps ``stats`` cheap over thousands of hourly rows. A field overflows
only past 2**32 - 1 spans in one bin; the reader checks a group's total before summing that way.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Iterator

SUB_BITS = 4
SUB = 1 << SUB_BITS  # bins per power of two
_EXACT = 2 * SUB  # durations below this have a bin of their own
FIELD_BITS = 32
FIELD_LIMIT = 1 << FIELD_BITS
RELATIVE_ERROR = 1 / (2 * SUB)
"""The bound on a histogram percentile's relative error (a bin is at most 1/16 of its lower edge wide)."""
_HEADER = struct.Struct("<H")
_SWAP = sys.byteorder != "little"


def bin_of(duration_ns: int) -> int:
    """The bin of a duration in nanoseconds (negative durations count as 0)."""
    if duration_ns < _EXACT:
        return duration_ns if duration_ns > 0 else 0
    shift = duration_ns.bit_length() - 1 - SUB_BITS
    return (shift + 1) * SUB + (duration_ns >> shift) - SUB


def bounds(index: int) -> tuple[int, int]:
    """The durations ``[lo, hi)`` (ns) that fall in bin ``index``."""
    if index < _EXACT:
        return index, index + 1
    shift = index // SUB - 1
    lo = (index % SUB + SUB) << shift
    return lo, lo + (1 << shift)


def representative(index: int, low: int, high: int) -> float:
    """The value reported for a percentile in bin ``index``: its middle, kept within ``[low, high]`` (ns).

    ``low`` and ``high`` are the group's exact minimum and maximum: a bin holding only one distinct
    value (the common case for the extremes) then reports it exactly.
    """
    lo, hi = bounds(index)
    middle = (lo + hi - 1) / 2
    return float(min(max(middle, low), high))


def from_counts(counts: dict[int, int]) -> int:
    """The packed form of ``{bin: count}``."""
    packed = 0
    for index, count in counts.items():
        packed += count << (index * FIELD_BITS)
    return packed


def encode(packed: int) -> bytes:
    """The stored bytes of a packed histogram (empty for an empty one)."""
    if not packed:
        return b""
    first = ((packed & -packed).bit_length() - 1) // FIELD_BITS
    body = packed >> (first * FIELD_BITS)
    return _HEADER.pack(first) + body.to_bytes((body.bit_length() + FIELD_BITS - 1) // FIELD_BITS * 4, "little")


def decode(blob: bytes | memoryview | None) -> int:
    """The packed histogram of stored bytes (0 for empty or NULL)."""
    if not blob or len(blob) < _HEADER.size:
        return 0
    first = blob[0] | blob[1] << 8  # the uint16 header, without a struct call: this runs once per row read
    return int.from_bytes(blob[_HEADER.size :], "little") << (first * FIELD_BITS)


def merge_stored(left: bytes | None, right: bytes | None) -> bytes:
    """Two stored histograms added (the SQLite function the upsert calls as ``lens_histogram_add``)."""
    return encode(decode(left) + decode(right))


def bins(packed: int) -> Iterator[tuple[int, int]]:
    """The non-empty ``(bin, count)`` of a packed histogram, smallest durations first."""
    if not packed:
        return
    first = ((packed & -packed).bit_length() - 1) // FIELD_BITS
    body = packed >> (first * FIELD_BITS)
    fields = array("I")
    if fields.itemsize != 4:  # pragma: no cover - every platform CPython supports has a 4-byte unsigned int
        fields = array("L")
    fields.frombytes(body.to_bytes((body.bit_length() + FIELD_BITS - 1) // FIELD_BITS * 4, "little"))
    if _SWAP:  # pragma: no cover - big-endian machines
        fields.byteswap()
    for offset, count in enumerate(fields):
        if count:
            yield first + offset, count


def add_durations(packed: int, durations: Iterable[int]) -> int:
    """``packed`` with ``durations`` (ns) counted in."""
    counts: dict[int, int] = {}
    for duration in durations:
        index = bin_of(duration)
        counts[index] = counts.get(index, 0) + 1
    return packed + from_counts(counts)


def percentile_values(
    found: Iterable[tuple[int, int]], total: int, low: int, high: int, percentiles: Iterable[int]
) -> list[float]:
    """The nearest-rank ``percentiles`` (ns) of ``total`` spans between ``low`` and ``high`` whose non-empty
    ``(bin, count)`` are ``found``, smallest first (what :func:`bins` yields)."""
    ranks = iter([(total * p + 99) // 100 for p in percentiles])
    values: list[float] = []
    seen = 0
    rank = next(ranks, None)
    for index, count in found:
        seen += count
        while rank is not None and seen >= rank:
            # The first and the last rank are the exact minimum and maximum, kept beside the bins.
            values.append(
                float(low) if rank <= 1 else float(high) if rank >= total else representative(index, low, high)
            )
            rank = next(ranks, None)
        if rank is None:
            break
    return values
