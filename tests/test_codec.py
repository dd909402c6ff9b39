"""The store's JSON value format: every OTel value type round-trips; hostile sizes are cut with a marker."""

from __future__ import annotations

import math

import pytest

from otel_lens.store import codec


@pytest.mark.parametrize(
    "value",
    [
        {"s": "text", "b": True, "i": 42, "f": 1.5, "none": None},
        {"seq_s": ["a", "b"], "seq_i": [1, 2], "seq_f": [0.5], "seq_b": [True, False]},
        {"nested": {"deep": {"deeper": [1, {"x": "y"}]}}},
        {"bytes": b"\x00\xff\x10binary"},
        {"big": 2**100, "neg_big": -(2**70), "max64": 2**63 - 1, "min64": -(2**63)},
        {"unicode": "żółć ☃ 🎉", "nul": "a\x00b"},
        ["a list", 1, None],
        "a plain string body",
    ],
)
def test_round_trip(value: object) -> None:
    """loads(dumps(v)) == v for the values OTel attributes and log bodies can hold."""
    assert codec.loads(codec.dumps(value)) == value


def test_non_finite_floats_round_trip() -> None:
    """NaN and ±inf survive (plain JSON, and orjson, would turn them into null)."""
    decoded = codec.loads(codec.dumps({"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "list": [math.nan]}))
    assert math.isnan(decoded["nan"])
    assert decoded["inf"] == math.inf
    assert decoded["ninf"] == -math.inf
    assert math.isnan(decoded["list"][0])


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    """A lone surrogate (invalid UTF-8) becomes U+FFFD; the rest of the value is kept."""
    decoded = codec.loads(codec.dumps({"bad": "a\ud800b", "ok": "fine", "pair": "\U0001f600"}))
    assert decoded == {"bad": "a\ufffdb", "ok": "fine", "pair": "\U0001f600"}


def test_tuples_and_sets_become_lists() -> None:
    """Sequences of any kind are stored as JSON arrays."""
    assert codec.loads(codec.dumps({"t": (1, 2)})) == {"t": [1, 2]}


def test_huge_string_is_truncated_with_marker() -> None:
    """A 5 MB string attribute is cut to MAX_STRING characters and says how much was cut."""
    text = codec.dumps({"big": "x" * 5_000_000})
    assert len(text) < codec.MAX_STRING + 200
    value = codec.loads(text)["big"]
    assert value.startswith("x" * 1000)
    assert value.endswith(f"…[+{5_000_000 - codec.MAX_STRING} chars truncated]")


def test_huge_list_is_truncated_with_marker() -> None:
    """A 10k-element list keeps MAX_ITEMS elements plus a marker element."""
    value = codec.loads(codec.dumps({"l": list(range(10_000))}))["l"]
    assert len(value) == codec.MAX_ITEMS + 1
    assert value[: codec.MAX_ITEMS] == list(range(codec.MAX_ITEMS))
    assert value[-1] == f"…[+{10_000 - codec.MAX_ITEMS} items truncated]"


def test_many_attributes_are_bounded() -> None:
    """1000 attributes of 10 KB each stay within MAX_ENCODED bytes, strings cut with markers."""
    text = codec.dumps({f"key{i}": "v" * 10_000 for i in range(1000)})
    assert len(text.encode()) <= codec.MAX_ENCODED
    assert "truncated" in text


def test_deep_nesting_is_cut() -> None:
    """10k-deep nesting does not overflow the stack; below MAX_DEPTH it becomes a marker."""
    value: object = "leaf"
    for _ in range(10_000):
        value = {"k": value}
    text = codec.dumps(value)
    assert "nesting truncated" in text
    assert len(text) < 1000


def test_cyclic_structure_is_stored_not_fatal() -> None:
    """A cyclic list cannot recurse forever: it is cut at MAX_DEPTH."""
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    assert "nesting truncated" in codec.dumps({"c": cyclic})


def test_hostile_repr_does_not_raise() -> None:
    """An unknown object whose __repr__ raises is stored as a placeholder, never an exception."""

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert codec.loads(codec.dumps({"h": Hostile()})) == {"h": "<Hostile>"}


def test_user_dict_that_looks_like_a_tag_with_two_keys_is_left_alone() -> None:
    """Only one-key tag objects are decoded; other dicts using $-keys come back as they were."""
    value = {"x": {"$bytes": "AA==", "other": 1}}
    assert codec.loads(codec.dumps(value)) == value


def test_loads_none_is_none() -> None:
    assert codec.loads(None) is None


def test_jsonable_keeps_what_was_stored() -> None:
    """The read side's JSON form does not cut a stored value again (its truncation marker stays exact)."""
    stored = codec.loads(codec.dumps({f"k{i}": i for i in range(5000)}))
    assert stored["…"] == "[+4000 keys truncated]"
    assert codec.jsonable(stored) == stored
    assert codec.jsonable({"b": b"\x01", "n": float("inf")}) == {"b": {"$bytes": "AQ=="}, "n": {"$float": "Infinity"}}
