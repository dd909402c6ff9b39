"""The latency histogram of ``lens_latency``: log-scale bins with a bounded relative error, and its byte form.

Bins are HDR-like: durations below 32 ns have a bin each (exact); above, every power of two is split
into 16 equal bins, so a bin ``[lo, hi)`` is at most ``lo / 16`` wide. A percentile read from the
histogram is the middle of the bin holding the exact nearest-rank value (clamped to the group's
minimum and maximum, which are kept exactly), hence within :data:`RELATIVE_ERROR` (1/32 = 3.125 %)
of the exact value.

A histogram is stored as bytes: a little-endian uint16 first bin, a byte saying how wide each count
is (1, 2 or 4 bytes), then one little-endian count per bin from there to the last non-empty bin. In memory it is one Python int whose 32-bit
field ``i`` is the count of bin ``i``: merging histograms is one integer addition (C speed, however
many bins), which is what keeps ``stats`` cheap over thousands of hourly rows. A field overflows
only past 2**32 - 1 spans in one bin; the reader checks a group's total before summing that way.
"""

from __future__ import annotations

import bisect
import itertools
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence

SUB_BITS = 4
SUB = 1 << SUB_BITS  # bins per power of two
_EXACT = 2 * SUB  # durations below this have a bin of their own
FIELD_BITS = 32
FIELD_LIMIT = 1 << FIELD_BITS
RELATIVE_ERROR = 1 / (2 * SUB)
"""The bound on a histogram percentile's relative error (a bin is at most 1/16 of its lower edge wide)."""
_HEADER = struct.Struct("<HB")  # first bin, bytes per count
_U32 = "I" if array("I").itemsize == 4 else "L"
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
    """The packed form of ``{bin: count}``.

    Built as one uint32 array turned into an int at once: shifting and adding each count would build and add
    an int as wide as the histogram per bin (``stats`` packs the durations of a window's partial first hour).
    """
    if not counts:
        return 0
    first = min(counts)
    fields = array(_U32, bytes((max(counts) - first + 1) * 4))
    try:
        for index, count in counts.items():
            fields[index - first] = count
    except OverflowError:  # a count past a field (2**32 spans in one bin): the sum carries, as it always did
        return sum(count << (index * FIELD_BITS) for index, count in counts.items())
    if _SWAP:  # pragma: no cover - big-endian machines
        fields.byteswap()
    return int.from_bytes(fields.tobytes(), "little") << (first * FIELD_BITS)


def _fields(packed: int) -> tuple[int, array[int]]:
    """The first non-empty bin of a non-zero packed histogram and the uint32 counts from there on."""
    first = ((packed & -packed).bit_length() - 1) // FIELD_BITS
    body = packed >> (first * FIELD_BITS)
    fields = array(_U32)
    fields.frombytes(body.to_bytes((body.bit_length() + FIELD_BITS - 1) // FIELD_BITS * 4, "little"))
    if _SWAP:  # pragma: no cover - big-endian machines
        fields.byteswap()
    return first, fields


def encode(packed: int) -> bytes:
    """The stored bytes of a packed histogram (empty for an empty one).

    Counts are stored 1, 2 or 4 bytes each, whichever holds the row's largest: most hourly rows count
    a few spans per bin, and the read cost follows the bytes read.
    """
    if not packed:
        return b""
    first, fields = _fields(packed)
    largest = max(fields)
    width = 1 if largest < 0x100 else 2 if largest < 0x10000 else 4
    if _SWAP:  # pragma: no cover - big-endian machines
        fields.byteswap()
    data = fields.tobytes()  # little-endian: a narrow count is the low bytes of each 4
    if width != 4:
        data = b"".join(data[byte::4] for byte in range(width)) if width == 1 else _interleave(data, width)
    return _HEADER.pack(first, width) + data


def _interleave(data: bytes, width: int) -> bytes:
    """The low ``width`` bytes of each little-endian uint32 in ``data``, in order."""
    narrow = bytearray(len(data) // 4 * width)
    for byte in range(width):
        narrow[byte::width] = data[byte::4]
    return bytes(narrow)


def encode_counts(counts: dict[int, int]) -> bytes:
    """The stored bytes of ``{bin: count}`` (what :func:`encode` gives for its packed form), built without
    the packed int: the writer's per-batch cost stays O(non-empty bins)."""
    if not counts:
        return b""
    first = min(counts)
    largest = max(counts.values())
    width = 1 if largest < 0x100 else 2 if largest < 0x10000 else 4
    if width == 1:
        narrow = bytearray(max(counts) - first + 1)
        for index, count in counts.items():
            narrow[index - first] = count
        return _HEADER.pack(first, 1) + narrow
    fields = array("H" if width == 2 else _U32, bytes((max(counts) - first + 1) * width))
    for index, count in counts.items():
        fields[index - first] = count
    if _SWAP:  # pragma: no cover - big-endian machines
        fields.byteswap()
    return _HEADER.pack(first, width) + fields.tobytes()


def decode(blob: bytes | memoryview | None) -> int:
    """The packed histogram of stored bytes (0 for empty or NULL)."""
    if not blob or len(blob) < _HEADER.size:
        return 0
    first: int
    width: int
    first, width = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size :]
    if width == 4:
        return int.from_bytes(payload, "little") << (first * FIELD_BITS)
    wide = bytearray(len(payload) // width * 4)  # widened with extended-slice copies (C loops, little-endian)
    for byte in range(width):
        wide[byte::4] = payload[byte::width]
    return int.from_bytes(wide, "little") << (first * FIELD_BITS)


def merge_stored(left: bytes | None, right: bytes | None) -> bytes:
    """Two stored histograms added (the SQLite function the upsert calls as ``lens_histogram_add``)."""
    return encode(decode(left) + decode(right))


def bins(packed: int) -> Iterator[tuple[int, int]]:
    """The non-empty ``(bin, count)`` of a packed histogram, smallest durations first."""
    if not packed:
        return
    first, fields = _fields(packed)
    for offset, count in enumerate(fields):
        if count:
            yield first + offset, count


Dense = tuple[int, Sequence[int]]
"""A histogram as its first non-empty bin and the counts of every bin from there on."""


def dense(packed: int) -> Dense:
    """The dense form of a packed histogram (a tuple of counts: rows holding it stay hashable)."""
    if not packed:
        return 0, ()
    first, fields = _fields(packed)
    return first, tuple(fields)


def dense_from_counts(counts: dict[int, int]) -> Dense:
    """The dense form of ``{bin: count}`` (any counts: used where a packed field could overflow)."""
    if not counts:
        return 0, ()
    first = min(counts)
    fields = [0] * (max(counts) - first + 1)
    for index, count in counts.items():
        fields[index - first] = count
    return first, tuple(fields)


def add_durations(packed: int, durations: Iterable[int]) -> int:
    """``packed`` with ``durations`` (ns) counted in."""
    counts: dict[int, int] = {}
    exact, sub_bits = _EXACT, SUB_BITS
    for duration in durations:  # bin_of inlined: ``stats`` runs this for every span of a window's first hour
        if duration >= exact:
            shift = duration.bit_length() - 1 - sub_bits
            index = (shift << sub_bits) + (duration >> shift)
        else:
            index = duration if duration > 0 else 0
        counts[index] = counts.get(index, 0) + 1
    return packed + from_counts(counts)


def percentile_values(found: Dense, total: int, low: int, high: int, percentiles: Iterable[int]) -> list[float]:
    """The nearest-rank ``percentiles`` (ns) of a histogram of ``total`` spans between ``low`` and ``high``.

    The first and the last rank are the exact minimum and maximum, kept beside the bins.
    """
    first, fields = found
    cumulative = list(itertools.accumulate(fields))  # C loops: no Python step per bin
    values: list[float] = []
    for p in percentiles:
        rank = (total * p + 99) // 100
        if rank <= 1:
            values.append(float(low))
        elif rank >= total:
            values.append(float(high))
        else:
            values.append(representative(first + bisect.bisect_left(cumulative, rank), low, high))
    return values


CHART_BINS = 40
"""The most bins :func:`chart_bins` gives a group, however many spans it has."""


def chart_grid(found: Dense, most: int = CHART_BINS) -> tuple[list[int], list[int]]:
    """The edges (ns, one more than bins) and counts of at most ``most`` bins log-spaced from the group's
    shortest to its longest duration, each a run of whole fine bins (so the edges are the fine bins' and every
    count exact), empty ones included: a fixed grid for a chart, whose size follows the spread of the
    durations, not their number. Fewer bins when the range holds fewer fine bins (one duration: one bin).
    """
    first, fields = found
    if not fields:
        return [], []
    size = len(fields)
    # Fine bins are log-spaced themselves (16 per power of two above 32 ns), so cuts evenly spaced in bin
    # numbers are log-spaced durations; no cut splits a fine bin.
    offsets = range(size + 1) if size <= most else sorted({size * k // most for k in range(most + 1)})
    total = [0, *itertools.accumulate(fields)]  # C loops: no Python step per fine bin
    # Bins are contiguous: a bin's upper edge is the next one's lower edge, so one bounds() per cut.
    edges = [bounds(first + offset)[0] for offset in offsets]
    sums = [total[offset] for offset in offsets]
    return edges, [b - a for a, b in itertools.pairwise(sums)]


def chart_bins(found: Dense, most: int = CHART_BINS) -> list[tuple[int, int, int]]:
    """``(lo_ns, hi_ns, count)`` of :func:`chart_grid`'s bins, shortest first."""
    edges, counts = chart_grid(found, most)
    return list(zip(edges, edges[1:], counts, strict=False))


def fine_bins(found: Dense) -> list[tuple[int, int, int]]:
    """``(lo_ns, hi_ns, count)`` of every non-empty fine bin (16 per power of two), shortest first."""
    first, fields = found
    return [(*bounds(first + offset), count) for offset, count in enumerate(fields) if count]
