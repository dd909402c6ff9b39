"""The sessions rollup (lens_sessions + lens_session_traces) on SQLite and PostgreSQL: kept in the export
transaction from the spans actually inserted, whatever order a trace's spans arrive in; read as pages and as
turns; swept with its traces; filled by migration 5 from an older store exactly as live writes fill it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from otel_lens import open_store
from otel_lens.query import AmbiguousSessionId, SessionNotFound
from otel_lens.settings import Settings
from otel_lens.store.migrations import MIGRATIONS
from otel_lens.store.shared import acquire, release
from otel_lens.testing import IncrementalIdGenerator, SpanFactory
from tests._sessions_helpers import export, traces_split_between_writers, turn
from tests._store_helpers import downgrade, models

STEP = next(v for v, step in MIGRATIONS.items() if step.__name__ == "_add_sessions_rollup")
DAY_NS = 86400 * 10**9


def _rows(settings: Settings) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every session row (without its row id) and every membership (by session key), sorted."""
    store = acquire(settings)
    try:
        m = models(store)
        session, member = m.session, m.sessiontrace
        sessions = sorted(
            tuple(row[1:])
            for row in session.select(
                session.id, session.kind, session.session_id, session.service, session.trace_count,
                session.start_ns, session.end_ns, session.error_count, session.genai_count, session.input_tokens,
                session.output_tokens, session.cache_read_tokens, session.cache_creation_tokens,
                session.reasoning_tokens,
            ).tuples()
        )  # fmt: skip
        members = sorted(
            (kind, sid, bytes(trace_id).hex(), genai, inp, out)
            for kind, sid, trace_id, genai, inp, out in member.select(
                session.kind, session.session_id, member.trace_id, member.genai_count, member.input_tokens,
                member.output_tokens,
            ).join(session, on=(session.id == member.session_row)).tuples()
        )  # fmt: skip
        return sessions, members
    finally:
        release(store)


def _listed(settings: Settings, **filters: Any) -> list[tuple[str, str, int, int, int, int]]:
    with open_store(settings.database) as store:
        page = store.sessions(limit=1000, **filters)
    return [(s.kind, s.session_id, s.trace_count, s.error_count, s.input_tokens, s.output_tokens)
            for s in page.sessions]  # fmt: skip


def _multi_agent(factory: SpanFactory, start_ns: int | None = None) -> list[list[Any]]:
    """Session "s-1" with conversations "planner" (2 traces) and "coder" (1 trace, one failed call)."""
    begin = time.time_ns() - 60 * 10**9 if start_ns is None else start_ns
    return [
        turn(factory, {"session.id": "s-1", "gen_ai.conversation.id": "planner"}, ((100, 10),), start_ns=begin),
        turn(factory, {"session.id": "s-1", "gen_ai.conversation.id": "coder"}, ((200, 20), (300, 30)),
             start_ns=begin + 10**9, fail=True),
        turn(factory, {"session.id": "s-1", "gen_ai.conversation.id": "planner"}, ((400, 40),), start_ns=begin + 2 * 10**9),
    ]  # fmt: skip


def test_several_conversations_in_one_session(settings: Settings) -> None:
    """Three traces of one session.id in two gen_ai.conversation.ids: the session totals all three (traces,
    errors, tokens, time span), each conversation its own; the session lists its conversations, each
    conversation its session, every turn names both; turns are in time order with their own tokens."""
    traces = _multi_agent(SpanFactory("agents"))
    export(settings, *traces)
    assert sorted(_listed(settings)) == [
        ("conversation", "coder", 1, 1, 500, 50),
        ("conversation", "planner", 2, 0, 500, 50),
        ("session", "s-1", 3, 1, 1000, 100),
    ]
    with open_store(settings.database) as store:
        detail = store.session("s-1")
        planner = store.session("planner")
    assert [r.session_id for r in detail.related] == ["planner", "coder"]  # latest activity first
    assert [(t.conversations, t.input_tokens, t.genai_count, t.error_count) for t in detail.turns] == [
        (("planner",), 100, 1, 0), (("coder",), 500, 2, 1), (("planner",), 400, 1, 0)]  # fmt: skip
    assert [t.trace_id for t in detail.turns] == [t[0].context.trace_id.to_bytes(16, "big").hex() for t in traces]
    data = detail.as_dict()
    assert (data["kind"], data["trace_count"], data["error_count"], data["input_tokens"]) == ("session", 3, 1, 1000)
    assert data["start_time"] < data["end_time"] and data["duration_ms"] > 2000
    assert [s["session_id"] for s in planner.as_dict()["sessions"]] == ["s-1"]
    assert planner.summary.kind == "conversation" and [t.sessions for t in planner.turns] == [("s-1",), ("s-1",)]


def test_a_reexported_or_overlapping_batch_counts_once(settings: Settings) -> None:
    """The same spans exported again, alone or overlapping new ones, add nothing: a trace is counted once per
    session, its tokens and errors once."""
    first, second, third = _multi_agent(SpanFactory("agents"))
    export(settings, first, second)
    before = _rows(settings)
    export(settings, first, second, first + second)
    assert _rows(settings) == before
    export(settings, second + third)  # overlapping: the second trace again, the third new
    assert sorted(_listed(settings)) == [
        ("conversation", "coder", 1, 1, 500, 50),
        ("conversation", "planner", 2, 0, 500, 50),
        ("session", "s-1", 3, 1, 1000, 100),
    ]


def test_totals_do_not_depend_on_the_order_spans_arrive_in(settings: Settings, tmp_path: Path) -> None:
    """A trace's session key may come with its first batch (the children then add to it) or its last (its
    earlier spans are then counted when it joins), or each span alone: the same rows every time."""
    traces = _multi_agent(SpanFactory("agents"))
    export(settings, *[[span] for trace in traces for span in trace])  # children (tokens) first, root last
    in_order = _rows(settings)
    for name, batches in (
        ("root-first", [[span] for trace in traces for span in reversed(trace)]),
        ("whole", [span for trace in traces for span in trace]),
    ):
        other = Settings.load(environ={}, database=str(tmp_path / f"{name}.db"), sweep_interval=0)
        export(other, *(batches if name != "whole" else [batches]))
        assert _rows(other) == in_order, name


def test_a_key_on_every_span_joins_the_trace_once(settings: Settings, tmp_path: Path) -> None:
    """OpenInference and Langfuse put session.id on every span: a trace whose spans arrive one batch each joins
    its session once (its later spans only add their own tokens), the same rows as one whole batch."""
    factory = SpanFactory("agents")
    key = {"session.id": "everywhere"}
    traces = [turn(factory, key, ((10, 1), (20, 2)), llm_attributes=key) for _ in range(3)]
    export(settings, *[[span] for trace in traces for span in trace])
    whole = Settings.load(environ={}, database=str(tmp_path / "whole.db"), sweep_interval=0)
    export(whole, [span for trace in traces for span in trace])
    assert _rows(settings) == _rows(whole)
    assert _listed(settings) == [("session", "everywhere", 3, 0, 90, 9)]


def test_one_id_only_falls_back_to_what_is_there(settings: Settings) -> None:
    """Only session.id: a session with no conversations; only gen_ai.conversation.id (on the model call, not
    the root): a conversation in no session; OpenInference's session.id and Langfuse's langfuse.session.id
    group like OTel's; a span without either groups nothing."""
    factory = SpanFactory("chat")
    export(
        settings,
        turn(factory, {"session.id": "only-session"}),
        turn(factory, {}, llm_attributes={"gen_ai.conversation.id": "only-conversation"}),
        turn(factory, {"langfuse.session.id": "lf-1"}),
        turn(factory, {"user.id": "nobody"}),
    )
    assert sorted(_listed(settings)) == [
        ("conversation", "only-conversation", 1, 0, 100, 20),
        ("session", "lf-1", 1, 0, 100, 20),
        ("session", "only-session", 1, 0, 100, 20),
    ]
    with open_store(settings.database) as store:
        session = store.session("only-session")
        conversation = store.session("only-conversation")
    assert session.related == [] and session.as_dict()["conversations"] == []
    assert conversation.related == [] and conversation.as_dict()["sessions"] == []
    assert [t.conversations for t in session.turns] == [()]


def test_list_filters_and_cursor_pages(settings: Settings) -> None:
    """Newest activity first; kind, service, since/until and id text filter; pages by cursor hold every
    session exactly once; a bad cursor or kind is a ValueError naming it."""
    now = time.time_ns()
    export(settings, *[turn(SpanFactory("a" if i % 2 else "b"), {"session.id": f"sess-{i}"}, start_ns=now - (10 - i) * 3600 * 10**9)
                       for i in range(10)])  # fmt: skip
    with open_store(settings.database) as store:
        ids = [s.session_id for s in store.sessions(limit=100).sessions]
        assert ids == [f"sess-{i}" for i in reversed(range(10))]
        seen, cursor = [], None
        while True:
            page = store.sessions(limit=3, before=cursor)
            seen += [s.session_id for s in page.sessions]
            if page.next is None:
                break
            cursor = page.next
        assert seen == ids
        assert [s.session_id for s in store.sessions(service="a").sessions] == [f"sess-{i}" for i in (9, 7, 5, 3, 1)]
        assert [s.session_id for s in store.sessions(since="150m").sessions] == ["sess-9", "sess-8"]
        assert [s.session_id for s in store.sessions(until="510m").sessions] == ["sess-1", "sess-0"]
        assert [s.session_id for s in store.sessions(search="s-7").sessions] == ["sess-7"]
        assert store.sessions(kind="conversation").sessions == []
        with pytest.raises(ValueError, match="before="):
            store.sessions(before="nope")
        with pytest.raises(ValueError, match="kind"):
            store.sessions(kind="chat")


def test_hostile_and_odd_ids(settings: Settings) -> None:
    """Ids are text as stored: markup, LIKE wildcards and non-ASCII are literal (a search for "%" finds only the
    id holding one, a prefix "a_" not "ab"); an int id is its decimal text; an over-long id, a list or an empty
    string groups nothing; a unique prefix names a session, an ambiguous one or an unknown id is a lookup error."""
    hostile = '<img src=x onerror="alert(1)">'
    factory = SpanFactory("chat")
    export(settings, *[turn(factory, {"session.id": value}) for value in
                       (hostile, "50%", "a_1", "ab1", "ünï", 42, "x" * 2000, ["l"], "", "  ")])  # fmt: skip
    assert sorted(s[1] for s in _listed(settings)) == sorted([hostile, "50%", "a_1", "ab1", "ünï", "42"])
    with open_store(settings.database) as store:
        assert [s.session_id for s in store.sessions(search="%").sessions] == ["50%"]
        assert store.session("ün").summary.session_id == "ünï"
        assert store.session(hostile).summary.session_id == hostile
        with pytest.raises(AmbiguousSessionId, match="ambiguous"):
            store.session("a")
        assert store.session("a_").summary.session_id == "a_1"
        with pytest.raises(SessionNotFound, match="no session or conversation 'zz'"):
            store.session("zz")


def test_turns_carry_question_answer_and_cost(settings: Settings) -> None:
    """A turn shows the user message its model call was sent and the answer, its tokens and cost priced by the
    given table; the session's cost is its turns' sum; an unpriced model makes the cost unknown, not 0."""
    factory = SpanFactory("chat")
    export(settings, turn(factory, {"session.id": "priced"}, ((1_000_000, 1_000_000),), question="What <b>is</b> 2+2?"))
    prices = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    with open_store(settings.database) as store:
        from otel_lens.query import PriceTable

        detail = store.session("priced", prices=PriceTable(prices), bundled_prices=False)
        unpriced = store.session("priced", bundled_prices=False)
    (only,) = detail.turns
    assert (only.user_message, only.assistant_message) == ("What <b>is</b> 2+2?", "Sure.")
    assert only.cost == pytest.approx(0.75) and detail.cost == pytest.approx(0.75)
    assert only.models == ("gpt-4o-mini",)
    assert unpriced.turns[0].cost is None and unpriced.cost is None


def test_a_sweep_drops_memberships_and_shrinks_sessions(settings: Settings) -> None:
    """A retention pass deleting old traces removes their memberships; a session keeping newer traces is
    recomputed from them (count, time span, errors, tokens); a session left with none is gone."""
    now = time.time_ns()
    factory = SpanFactory("agents")
    old = turn(factory, {"session.id": "long"}, ((1000, 100),), start_ns=now - 10 * DAY_NS, fail=True)
    gone = turn(factory, {"session.id": "expired"}, start_ns=now - 9 * DAY_NS)
    recent = turn(factory, {"session.id": "long"}, ((5, 1),), start_ns=now - 10**9)
    export(settings, old, gone, recent)
    assert sorted(_listed(settings)) == [("session", "expired", 1, 0, 100, 20), ("session", "long", 2, 1, 1005, 101)]
    with open_store(settings.database) as store:
        summary = store.prune(max_age="7d", max_size=0)
    assert summary.traces_deleted == 2
    assert _listed(settings) == [("session", "long", 1, 0, 5, 1)]
    with open_store(settings.database) as store:
        detail = store.session("long")
    assert detail.summary.start_ns == recent[-1].start_time and len(detail.turns) == 1
    assert _rows(settings)[1] == [("session", "long", recent[0].context.trace_id.to_bytes(16, "big").hex(), 1, 5, 1)]


def test_migration_fills_the_rollup_as_live_writes_do(settings: Settings, tmp_path: Path) -> None:
    """A store of version 4 (its spans written before the sessions tables existed) reads as having no sessions
    (a reader never changes it); the first writer's migration 5 builds, chunk by chunk, exactly the session and
    membership rows live writes made for the same spans (session keys after and before the tokens)."""
    factory = SpanFactory("agents")
    batches = [[span] for trace in _multi_agent(factory) for span in trace]
    batches += [turn(factory, {"session.id": "other"}, ((7, 3),)), turn(factory, {"gen_ai.conversation.id": "solo"})]
    fresh = Settings.load(environ={}, database=str(tmp_path / "fresh.db"), sweep_interval=0)
    export(fresh, *batches)
    export(settings, *batches)
    downgrade(settings, STEP - 1, "lens_session_traces", "lens_sessions")
    with open_store(settings.database) as store:
        assert store.sessions().sessions == []
        with pytest.raises(SessionNotFound, match="predates sessions"):
            store.session("s-1")
    from otel_lens.store import _sessions_upkeep

    old_chunk, _sessions_upkeep._BACKFILL_CHUNK = _sessions_upkeep._BACKFILL_CHUNK, 2  # many chunks
    try:
        release(acquire(settings))  # the first writer migrates
    finally:
        _sessions_upkeep._BACKFILL_CHUNK = old_chunk
    assert _rows(settings) == _rows(fresh)
    assert len(_rows(settings)[0]) == 5


_WRITER = """
import os, sys, time
sys.path.insert(0, os.getcwd())
from otel_lens.settings import Settings
from otel_lens.testing import IncrementalIdGenerator, SpanFactory
from tests._sessions_helpers import export, traces_split_between_writers
url, go, half = sys.argv[1:4]
batches = traces_split_between_writers(SpanFactory("agents", id_generator=IncrementalIdGenerator()), int(half))
while not os.path.exists(go):
    time.sleep(0.005)
export(Settings.load(environ={}, database=url, sweep_interval=0), *batches)
print(len(batches))
"""


@pytest.mark.postgres
def test_concurrent_postgres_writers_split_traces_exactly(postgres_url: str, tmp_path: Path) -> None:
    """Two processes at once on PostgreSQL, each storing half the spans of the same 40 traces (one has the roots
    with session.id, the model calls are split): the session rows and memberships equal one writer's."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    release(acquire(settings))  # schema in place before the race
    go = tmp_path / "go"
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}
    workers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, postgres_url, str(go), half], cwd=repo, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for half in ("0", "1")
    ]  # fmt: skip
    go.touch()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    single = Settings.load(environ={}, database=str(tmp_path / "single.db"), sweep_interval=0)
    both = [traces_split_between_writers(SpanFactory("agents", id_generator=IncrementalIdGenerator()), half)
            for half in (0, 1)]  # fmt: skip
    export(single, *both[0], *both[1])
    assert _rows(settings) == _rows(single)
    assert sorted(_listed(settings))[0] == ("session", "sess-0", 10, 0, 10 * 300, 10 * 30)
