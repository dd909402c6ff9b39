"""The JSON of one trace built from the stored rows (``Store.trace_dict``, used by ``/api/traces/{id}`` and
``show --json``) is byte for byte the record path's (``Store.trace().as_dict()``), and the outline
(``?view=outline``) agrees with it span by span.

The stores are written through the real SDK and exporters; the odd-text cases then rewrite columns of a
real SQLite file, as an older writer or another tool could have left them.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import Link, SpanKind

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.facade._capture import body_attributes
from otel_lens.settings import Settings
from tests._read_helpers import MS, T0, recorder
from tests._web import serve

ODD_TEXT = 'é 😀 \x00\x1f \u2028 "quoted" \\ back </script> {"$bytes": "AA=="} $1 $bytes'
EVERY_ATTRIBUTE: dict[str, Any] = {
    "str": "plain",
    "odd": ODD_TEXT,
    "empty": "",
    "bool": True,
    "false": False,
    "int": 42,
    "negative": -7,
    "int64": 2**63 - 1,
    "beyond_int64": 2**63 + 5,
    "huge": 2**70,
    "huge_negative": -(2**70),
    "float": 1.5,
    "tiny": 5e-324,
    "big_float": 1e300,
    "nan": math.nan,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "bytes": b"\x00\xffbinary",
    "strs": ["a", ODD_TEXT, ""],
    "bools": [True, False],
    "ints": [1, 2**64 + 1, -3],
    "floats": [0.1, math.nan],
    "k" * 300: "a key longer than the 256 characters a JSON key keeps",
    "$bytes": "a key that looks like a tag",
    "digits": "12345678901234567890123",  # looks like an integer beyond 64 bits, but is text
}


def _plain_digest_body() -> str:
    """A body whose sha256 reference looks like no number (the rows path must route it by its key alone)."""
    for i in range(10_000):
        text = f"request body {i} " * 300
        digest = hashlib.sha256(text.encode()).hexdigest()
        if not re.search(r"\d[eE]\d{3}|\d{19}", digest):
            return text
    raise AssertionError("no such body among 10,000")


BODY = _plain_digest_body()


def _record_json(store: Any, trace_id: str, option: int = 0) -> bytes:
    detail = store.trace(trace_id)
    return orjson.dumps(detail.as_dict() | {"summary": detail.summary.as_dict()}, option=option)


def _write_everything(settings: Settings) -> str:
    """One trace with every kind of span: every attribute type, events, links, error, GenAI, bodies, logs."""
    with recorder(settings) as rec:
        root = rec.span("shop", "POST /odd " + ODD_TEXT, 0, 100, kind=SpanKind.SERVER, attributes=EVERY_ATTRIBUTE)
        plain = rec.span("shop", "plain child", 1, 2, root, attributes={"item": 1, "lane": 2, "payload": "value-1"})
        rec.end(plain)
        bare = rec.span("shop", "no attributes", 2, 3, root)
        rec.end(bare)
        evented = rec.span("payments", "charge", 3, 50, root, SpanKind.CLIENT, {"rpc.method": "Charge"}, "declined")
        evented.add_event("exception", {"exception.type": "E", "exception.stacktrace": "Traceback\n  x"}, rec_ns(10))
        evented.add_event("retry", EVERY_ATTRIBUTE, rec_ns(11))
        evented.add_event("bare", None, rec_ns(12))
        rec.end(evented)
        linked = rec.tracer("shop").start_span(
            "linked",
            context=trace.set_span_in_context(root),
            links=[Link(root.get_span_context(), {"why": "follows", "n": 2**65}), Link(evented.get_span_context())],
            start_time=rec_ns(4),
        )
        linked.end(end_time=rec_ns(5))
        chat = rec.span("agent", "chat gpt-4o", 6, 40, root, SpanKind.CLIENT,
                        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                         "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3})  # fmt: skip
        chat.add_event("gen_ai.user.message", {"content": "hi"}, rec_ns(7))
        rec.end(chat)
        usage = rec.span("agent", "usage only", 6, 7, root, SpanKind.CLIENT,
                         {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 1})  # fmt: skip
        rec.end(usage)
        bodies = rec.span("shop", "with bodies", 7, 8, root,
                          attributes=body_attributes("request", BODY, "text/plain", len(BODY), False))  # fmt: skip
        rec.end(bodies)
        logged = rec.span("shop", "logged", 8, 9, root, attributes={"a": 1})
        rec.log("shop", logged, 8.5, SeverityNumber.WARN, {"nested": {"body": [1, "two"]}})
        rec.end(logged)
        told = rec.span("shop", "conversation in its logs", 8, 9, root)
        rec.log(
            "shop",
            told,
            8.6,
            SeverityNumber.INFO,
            {"content": "hello"},
            attributes={"event.name": "gen_ai.user.message"},
        )
        rec.end(told)
        for kind in SpanKind:
            rec.end(rec.span("shop", f"kind {kind.name}", 9, 10, root, kind))
        rec.end(root)
        return f"{root.get_span_context().trace_id:032x}"


def rec_ns(ms: float) -> int:
    return T0 + int(ms * MS)


def test_trace_dict_is_the_record_paths_json_for_every_kind_of_span(settings: Settings) -> None:
    """Every attribute type (tagged bytes, NaN/±inf, integers beyond 64 bits, a key longer than 256
    characters, odd text), events, links, error status, every kind, a GenAI span with a transcript, captured
    bodies and a span with logs: the rows path gives the record path's bytes, compact and indented."""
    trace_id = _write_everything(settings)
    with open_store(settings.database) as store:
        fast = store.trace_dict(trace_id)
        assert orjson.dumps(fast) == _record_json(store, trace_id)
        option = orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2  # show --json's options
        assert orjson.dumps(fast, option=option) == _record_json(store, trace_id, option)
        assert len(fast["spans"]) == 15
        by_name = {span["name"]: span for span in fast["spans"]}
        assert by_name["chat gpt-4o"]["messages"], "the GenAI span keeps its transcript"
        assert by_name["with bodies"]["attributes"]["lens.body.request"] == BODY
        assert by_name["usage only"]["genai"]["usage"], "a transcript from attributes alone"
        assert by_name["conversation in its logs"]["messages"], "a transcript from the span's log records"


# Column texts an older writer or another tool may have left; each replaces one column of one span.
ODD_COLUMNS = [
    ("attributes", '{"a": 1, "b": [1, 2]}'),  # whitespace
    ("attributes", '{"nested":{"deep":{"k":[{"x":1}]}},"$":"x"}'),
    ("attributes", '{"tag":{"$bytes":"!!"}}'),  # a tag that does not decode cleanly
    ("attributes", '{"tag":{ "$float":"1.5"}}'),
    ("attributes", '{"tag":{"$int":"12"},"other":1}'),
    ("attributes", '{"u64":18446744073709551615}'),
    ("attributes", '{"i64":-9223372036854775808}'),
    ("attributes", '{"overflow":1e999}'),
    ("attributes", '{"dup":1,"dup":2}'),
    ("attributes", "[1, 2]"),  # not a map: the record path shows {}
    ("attributes", '"text"'),
    ("attributes", "null"),
    ("attributes", '{"escaped":"\\u00e9\\ud83d\\ude00\\/"}'),
    ("attributes", "{" + ",".join(f'"{"k" * 257}{i}":{i}' for i in range(3)) + "}"),
    ("attributes", '{"nested":{"' + "n" * 300 + '":1}}'),
    ("events", '[["e",1704067200000000000,{"a":1}]]'),  # no dropped count
    ("events", '[["e",1704067200000000000,{"a":1},0],["f",1704067200000000001,null,2]]'),
    ("events", '[["e",1704067200000000000,[1]]]'),  # attributes not a map
    ("events", '[["e",1.5,{}]]'),  # a float time: int() in the record path
    ("events", '[["e",true,{}]]'),
    ("events", '[[7,1704067200000000000,{"$bytes":"AA=="}]]'),
    ("events", '[["e",1704067200000000000,{"a":1},"3"]]'),
    ("events", "[]"),
    ("events", "{}"),
    ("links", '[["' + "ab" * 16 + '","' + "cd" * 8 + '",{"k":"v"}]]'),
    ("links", '[["t","s",{"k":1},1,"ts",2]]'),
    ("links", '[["t","s",null,null,null,null]]'),
    ("links", '[["t","s",{},"x"]]'),
    ("links", "[]"),
]


@pytest.mark.parametrize(("column", "text"), ODD_COLUMNS)
def test_trace_dict_matches_the_record_path_on_odd_stored_text(
    sqlite_settings: Settings, db_path: Path, column: str, text: str
) -> None:
    """A column text the rows path cannot take as it is goes the record path's way (or fails as it does)."""
    with recorder(sqlite_settings) as rec:
        root = rec.span("shop", "root", 0, 10)
        child = rec.span("shop", "child", 1, 2, root, attributes={"a": 1})
        rec.end(child)
        rec.end(root)
        trace_id = f"{root.get_span_context().trace_id:032x}"
    with sqlite3.connect(db_path) as connection:
        connection.execute(f"UPDATE lens_spans SET {column} = ? WHERE name = 'child'", (text,))
    with open_store(sqlite_settings.database) as store:
        try:
            expected: Any = _record_json(store, trace_id)
        except Exception as exc:  # the record path refuses it: so must the rows path, the same way
            expected = type(exc)
        try:
            got: Any = orjson.dumps(store.trace_dict(trace_id))
        except Exception as exc:
            got = type(exc)
    assert got == expected


def test_api_and_show_json_serve_the_record_paths_json(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """/api/traces/{id} (whole and ?subtree=) over a real ``otel-lens serve`` and ``show --json`` give the
    record path's JSON; the outline has one entry per span in the same order, with the same values."""
    trace_id = _write_everything(sqlite_settings)
    with open_store(sqlite_settings.database) as store:
        expected = _record_json(store, trace_id)
        record = store.trace(trace_id)
        spans = [span.as_dict() for span in record.spans]
    assert main(["show", trace_id, "--json", "--database", sqlite_settings.database]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed == {key: value for key, value in orjson.loads(expected).items() if key != "summary"}
    with serve(sqlite_settings.database) as viewer, viewer.client() as client:
        whole = client.get(f"/api/traces/{trace_id}")
        assert whole.status_code == 200
        assert whole.content == expected
        chat = next(span for span in spans if span["name"] == "chat gpt-4o")
        subtree = client.get(f"/api/traces/{trace_id}", params={"subtree": chat["span_id"]}).json()
        assert [span["span_id"] for span in subtree["spans"]] == [chat["span_id"]]
        outline = client.get(f"/api/traces/{trace_id[:12]}", params={"view": "outline"}).json()
        bad = client.get(f"/api/traces/{trace_id}", params={"view": "tree"})
        both = client.get(f"/api/traces/{trace_id}", params={"view": "outline", "subtree": chat["span_id"]})
    assert bad.status_code == 400 and "view='tree'" in bad.json()["error"]
    assert both.status_code == 400
    assert outline["trace_id"] == trace_id
    assert outline["summary"] == record.summary.as_dict()
    assert outline["log_count"] == len(record.logs) == 2
    columns = outline["spans"]
    assert all(len(values) == len(spans) for values in columns.values())
    for i, span in enumerate(spans):
        assert columns["span_id"][i] == span["span_id"]
        assert columns["parent_span_id"][i] == span["parent_span_id"]
        assert columns["name"][i] == span["name"]
        assert outline["services"][columns["service"][i]] == span["resource"].get("service.name")
        assert columns["start_time_unix_nano"][i] == span["start_time_unix_nano"]
        assert columns["end_time_unix_nano"][i] == span["end_time_unix_nano"]
        assert columns["status"][i] == span["status"]["code"]
        assert columns["status_message"][i] == span["status"]["message"]
        assert columns["events"][i] == [[event["name"], event["time_unix_nano"]] for event in span["events"]]
