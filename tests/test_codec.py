"""The store's JSON value format: every OTel value type round-trips; hostile sizes are cut with a marker."""

from __future__ import annotations

import math

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens import LensSpanExporter, open_store
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


@pytest.mark.parametrize(
    "value",
    [
        {"$int": "12"},  # a whole attribute map of one attribute named like a tag: it was read back as the int 12
        {"body": {"$bytes": "AAE="}},
        {"f": {"$float": "NaN"}},
        {"m": {"$map": {"$int": "1"}}},
        [{"$int": 5}, {"$bytes": "not base64"}],
        {"$schema": "x"},
    ],
)
def test_user_maps_whose_one_key_is_a_tag_come_back_as_maps(value: object) -> None:
    """A map with one key that is also a tag name (``$int``, ``$bytes``, ``$float``, ``$map``) is stored so it
    reads back as that map, not as the tagged value (a span's only attribute ``$int`` = "12" was lost)."""
    assert codec.loads(codec.dumps(value)) == value
    assert codec.jsonable(codec.loads(codec.dumps(value))) == value  # the read side shows it as it was given


def test_loads_none_is_none() -> None:
    assert codec.loads(None) is None


def test_jsonable_keeps_what_was_stored() -> None:
    """The read side's JSON form does not cut a stored value again (its truncation marker stays exact)."""
    stored = codec.loads(codec.dumps({f"k{i}": i for i in range(5000)}))
    assert stored["…"] == "[+4000 keys truncated]"
    assert codec.jsonable(stored) == stored
    assert codec.jsonable({"b": b"\x01", "n": float("inf")}) == {"b": {"$bytes": "AQ=="}, "n": {"$float": "Infinity"}}


def test_one_huge_list_does_not_cost_the_small_attributes_beside_it() -> None:
    """Scenario 13: a 5000×1 KB array next to small attributes is cut with a marker on its own; the small keys
    stay whole, in their order, and the row stays within MAX_ENCODED."""
    statement = "SELECT * FROM orders WHERE id = ?"
    value = {"big.list": ["y" * 1000] * 5000, "db.statement": statement, "db.system": "sqlite", "n": 7}
    text = codec.dumps(value)
    assert len(text.encode()) <= codec.MAX_ENCODED
    decoded = codec.loads(text)
    assert list(decoded) == ["big.list", "db.statement", "db.system", "n"]
    assert (decoded["db.statement"], decoded["db.system"], decoded["n"]) == (statement, "sqlite", 7)
    kept = decoded["big.list"]
    assert len(kept) > 100  # most of the budget goes to the big value, not a token part of it
    assert kept[-1].endswith("items truncated]")
    assert all(item == "y" * 1000 for item in kept[:-2])


def test_the_biggest_values_are_cut_first() -> None:
    """Over budget, values smaller than an equal share stay whole; the larger ones share what is left, each
    cut with a marker, so a 5 KB statement and a 60 KB string survive beside two 300 KB arrays."""
    statement = "UPDATE t SET x = 1 WHERE " + "y = 2 AND " * 500
    value = {"a": ["a" * 1000] * 300, "b": "b" * 60_000, "statement": statement, "c": ["c" * 1000] * 300}
    decoded = codec.loads(text := codec.dumps(value))
    assert len(text.encode()) <= codec.MAX_ENCODED
    assert (decoded["statement"], decoded["b"]) == (statement, "b" * 60_000)
    for key in ("a", "c"):
        assert 150 < len(decoded[key]) < 300 and decoded[key][-1].endswith("items truncated]")
    assert abs(len(decoded["a"]) - len(decoded["c"])) <= 2  # the two big ones share alike


def test_nested_and_escaped_values_stay_within_the_budget() -> None:
    """Byte size, not character count, is what is bounded: NUL (6 bytes escaped) and 2-byte characters next to
    nested big maps still give a row within MAX_ENCODED, with the small nested keys kept."""
    value = {
        "nul": "\x00" * 60_000,
        "accents": "é" * 60_000,
        "nested": {f"k{i}": {"small": i, "big": "z" * 60_000} for i in range(20)},
        "bytes": b"\x01" * 60_000,
    }
    text = codec.dumps(value)
    assert len(text.encode()) <= codec.MAX_ENCODED
    decoded = codec.loads(text)
    assert [decoded["nested"][f"k{i}"]["small"] for i in range(20)] == list(range(20))
    assert all(decoded["nested"][f"k{i}"]["big"].endswith("chars truncated]") for i in range(20))
    assert decoded["bytes"] == b"\x01" * 60_000  # 80 KB as base64: under its share, kept whole and decodable
    assert decoded["accents"] == "é" * 60_000
    assert decoded["nul"].startswith("\x00" * 1000) and decoded["nul"].endswith("chars truncated]")


def test_huge_array_beside_db_statement_reaches_the_read_api_intact(
    span_exporter: LensSpanExporter, database_url: str
) -> None:
    """Scenario 13 end to end: a span with a 5000×1 KB array and db.statement, exported by a real SDK provider
    to the store, reads back through open_store() with db.statement whole and the array cut with a marker."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    with provider.get_tracer("tests.codec").start_as_current_span("query") as span:
        span.set_attribute("big.list", ["y" * 1000] * 5000)
        span.set_attribute("db.statement", "SELECT name FROM users WHERE id = 42")
        trace_id = f"{span.get_span_context().trace_id:032x}"
    provider.shutdown()
    with open_store(database_url) as store:
        (stored,) = store.trace(trace_id).spans
    assert stored.attributes["db.statement"] == "SELECT name FROM users WHERE id = 42"
    kept = stored.attributes["big.list"]
    assert 100 < len(kept) < 5000 and kept[0] == "y" * 1000 and kept[-1].endswith("items truncated]")
