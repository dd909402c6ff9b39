"""``otel-lens diff`` / ``diff_traces``: two runs aligned span by span (name path + occurrence), on SQLite and
PostgreSQL — an added span, a slower span, a changed attribute, a status change and token deltas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

from otel_lens.cli import main
from otel_lens.query import TraceNotFound, diff_traces, open_store, previous_trace
from otel_lens.settings import Settings
from tests._read_helpers import ChosenIdGenerator, Recorder, recorder


def _run(rec: Recorder, at: float, *, slow_llm: bool, version: str, save_error: str | None, moderation: bool) -> str:
    """One request of a chat app starting at T0 + ``at`` ms; the flags are what the second run changes."""
    llm_end = at + (330 if slow_llm else 150)
    end = llm_end + 70
    attributes = {"http.route": "/chat", "app.version": version}
    if version == "2":
        attributes["feature.flag"] = "stream"
    root = rec.span("chat", "POST /chat", at, end, kind=SpanKind.SERVER, attributes=attributes)
    history = rec.span("chat", "load history", at + 5, at + 25, root)
    rec.end(history)
    tokens = (180, 90) if slow_llm else (100, 50)
    llm = rec.span("chat", "chat gpt-4o", at + 30, llm_end, root, SpanKind.CLIENT,
                   {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": tokens[0],
                    "gen_ai.usage.output_tokens": tokens[1]})  # fmt: skip
    rec.end(llm)
    save = rec.span("chat", "save", llm_end + 5, llm_end + 35, root, error=save_error)
    rec.end(save)
    if moderation:
        check = rec.span("chat", "moderation", llm_end + 40, llm_end + 65, root)
        rec.end(check)
    rec.end(root)
    return f"{root.get_span_context().trace_id:032x}"


def _two_runs(settings: Settings) -> tuple[str, str]:
    with recorder(settings, ChosenIdGenerator([0xA1 << 120, 0xB2 << 120])) as rec:
        a = _run(rec, 0, slow_llm=False, version="1", save_error=None, moderation=False)
        b = _run(rec, 10_000, slow_llm=True, version="2", save_error="disk full", moderation=True)
    return a, b


def test_diff_reports_added_slower_status_attribute_and_token_changes(settings: Settings) -> None:
    """Each kind of change lands in its place: the added span, the slower LLM call (delta and ratio, largest
    first), the new error status, the changed/added attributes, the token deltas per span and in total."""
    a, b = _two_runs(settings)
    with open_store(settings.database) as store:
        diff = diff_traces(store, a[:12], b[:12])  # unique prefixes, as show takes them
    assert [s.label for s in diff.added] == ["POST /chat › moderation"] and diff.removed == []
    assert [(s.label, round(s.delta_ms)) for s in diff.matched[:2]] == [
        ("POST /chat", 180),
        ("POST /chat › chat gpt-4o", 180),
    ]
    llm = diff.matched[1]
    assert llm.ratio == pytest.approx(300 / 120)
    assert llm.tokens == {"input_tokens": (100, 180), "output_tokens": (50, 90)}
    assert llm.attributes.changed == {"gen_ai.usage.input_tokens": (100, 180), "gen_ai.usage.output_tokens": (50, 90)}
    [save] = diff.status_changes
    assert save.label == "POST /chat › save"
    assert save.a is not None and save.b is not None
    assert (save.a.status_code, save.b.status_code, save.b.status_message) == ("UNSET", "ERROR", "disk full")
    root = diff.matched[0]
    assert root.attributes.changed == {"app.version": ("1", "2")}
    assert root.attributes.added == {"feature.flag": "stream"} and root.attributes.removed == {}
    unchanged = next(s for s in diff.matched if s.label == "POST /chat › load history")
    assert unchanged.delta_ms == 0 and not unchanged.attributes and not unchanged.status_changed
    assert diff.tokens == {"input_tokens": (100, 180), "output_tokens": (50, 90)}
    shape = diff.as_dict()
    assert shape["duration_ms"]["delta"] == pytest.approx(180.0) and shape["tokens"]["input_tokens"]["delta"] == 80
    assert shape["added"][0]["b"]["duration_ms"] == 25.0 and shape["added"][0]["a"] is None
    assert shape["status_changes"] == 1 and shape["attribute_changes"] == 2


def test_spans_of_one_name_are_aligned_by_occurrence(settings: Settings) -> None:
    """Three same-name siblings meet their counterparts in start order: only the second one is reported slower."""
    ids = []
    with recorder(settings) as rec:
        for at, slow in ((0, False), (5000, True)):
            root = rec.span("db", "job", at, at + 500)
            for i in range(3):
                start = at + 10 + i * 100
                query = rec.span("db", "SELECT", start, start + (90 if slow and i == 1 else 20), root)
                rec.end(query)
            rec.end(root)
            ids.append(f"{root.get_span_context().trace_id:032x}")
    with open_store(settings.database) as store:
        diff = diff_traces(store, ids[0], ids[1])
    moved = [(s.label, s.delta_ms) for s in diff.matched if s.delta_ms]
    assert moved == [("job › SELECT #2", 70.0)]


def test_previous_is_the_latest_earlier_trace_of_the_same_root_and_service(settings: Settings) -> None:
    """``--previous`` picks the newest earlier trace with the same root name and service, never a later one,
    another root or another service's; the first of its kind has none (a one-line TraceNotFound)."""
    with recorder(settings) as rec:
        first = _run(rec, 0, slow_llm=False, version="1", save_error=None, moderation=False)
        second = _run(rec, 1000, slow_llm=False, version="1", save_error=None, moderation=False)
        other_root = rec.span("chat", "GET /health", 1500, 1501)
        rec.end(other_root)
        other_service = rec.span("billing", "POST /chat", 1600, 1700)
        rec.end(other_service)
        third = _run(rec, 2000, slow_llm=True, version="2", save_error=None, moderation=False)
    with open_store(settings.database) as store:
        assert previous_trace(store, third) == second
        assert previous_trace(store, second) == first
        with pytest.raises(TraceNotFound, match="no trace before"):
            previous_trace(store, first)


def test_cli_diff_text_json_and_previous(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``otel-lens diff A B`` prints the sections a person reads; ``--json`` the shape; ``B --previous`` equals
    ``A B``; a missing second trace is a one-line error."""
    a, b = _two_runs(Settings.load(environ={}, database=str(db_path), sweep_interval=0))
    assert main(["diff", a, b, "--database", str(db_path)]) == 0
    text = capsys.readouterr().out
    for expected in ("duration  220ms → 400ms  (+180ms, ×1.82)", "tokens    input 100 → 180 (+80), output 50 → 90 (+40)",
                     "+180ms   ×2.50  POST /chat › chat gpt-4o  120ms → 300ms", "+ POST /chat › moderation  25ms",
                     "POST /chat › save  UNSET → ERROR disk full", "~ app.version: 1 → 2", "+ feature.flag: stream"):  # fmt: skip
        assert expected in text, text
    assert main(["diff", a, b, "--database", str(db_path), "--json"]) == 0
    shape = json.loads(capsys.readouterr().out)
    assert main(["diff", b, "--previous", "--database", str(db_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == shape
    assert main(["diff", a, "--database", str(db_path)]) == 1
    assert capsys.readouterr().err == (
        "otel-lens: error: give TRACE_B, or --previous to compare with the trace before TRACE_A (not both)\n"
    )
