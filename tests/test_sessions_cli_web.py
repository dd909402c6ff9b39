"""Sessions through the real front ends: ``otel-lens sessions`` / ``otel-lens session ID`` as subprocesses, the
viewer's ``/api/sessions`` routes and pages served by a real ``otel-lens serve``, and a real instrumentation
(opentelemetry-instrumentation-openai-v2 against the fake OpenAI server) feeding a session of several
conversations."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_lens import open_store
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.testing import SpanFactory
from tests._sessions_helpers import export, turn
from tests._web import Viewer, serve
from tests.test_real_genai import RESPONSE_MODEL, _FakeOpenAI, serving

HOSTILE = '"><img src=x onerror=alert(1)>/../x'


def _cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_lens", *args, "--database", str(database)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session "sess-1" (conversations "conv-a" ×2, "conv-b" ×1, one failure), a conversation in no session,
    and a session whose id is hostile markup with a slash."""
    database = tmp_path_factory.mktemp("sessions") / "lens.db"
    settings = Settings.load(environ={}, database=str(database), sweep_interval=0)
    factory = SpanFactory("agents")
    export(
        settings,
        turn(factory, {"session.id": "sess-1", "gen_ai.conversation.id": "conv-a"}, question="first question"),
        turn(factory, {"session.id": "sess-1", "gen_ai.conversation.id": "conv-b"}, fail=True),
        turn(factory, {"session.id": "sess-1", "gen_ai.conversation.id": "conv-a"}, ((50, 5),)),
        turn(factory, {"gen_ai.conversation.id": "lonely"}),
        turn(factory, {"session.id": HOSTILE}),
    )
    return database


def test_cli_lists_and_shows_sessions(store: Path) -> None:
    """``sessions --json`` is the list in the contract's shape, newest first, filtered by --kind; ``session ID``
    prints the totals, the conversations and one line per turn; a unique prefix is accepted."""
    listed = json.loads(_cli(store, "sessions", "--json").stdout)
    assert [s["session_id"] for s in listed] == [HOSTILE, "lonely", "sess-1", "conv-a", "conv-b"]
    one = next(s for s in listed if s["session_id"] == "sess-1")
    for key in ("session_id", "kind", "trace_count", "start_time", "end_time", "duration_ms", "error_count",
                "input_tokens", "output_tokens"):  # fmt: skip
        assert key in one
    assert (one["kind"], one["trace_count"], one["error_count"], one["input_tokens"]) == ("session", 3, 1, 250)
    kinds = json.loads(_cli(store, "sessions", "--json", "--kind", "conversation", "--limit", "2").stdout)
    assert [s["session_id"] for s in kinds] == ["lonely", "conv-a"]
    shown = _cli(store, "session", "sess")
    assert shown.returncode == 0, shown.stderr
    assert "session sess-1" in shown.stdout and "conversations: conv-a, conv-b" in shown.stdout
    assert "user: first question" in shown.stdout and "assistant: Sure." in shown.stdout
    assert shown.stdout.count("agent turn") == 3 and "1 error" in shown.stdout
    detail = json.loads(_cli(store, "session", "conv-a", "--json").stdout)
    assert [t["sessions"] for t in detail["turns"]] == [["sess-1"], ["sess-1"]]
    table = _cli(store, "sessions").stdout
    assert "sess-1" in table and "lonely" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("session", "nope"), "no session or conversation 'nope'"),
        (("session", "conv-"), "is ambiguous"),
        (("sessions", "--kind", "chat"), "invalid choice"),
        (("sessions", "--since", "soon"), "not a duration"),
    ],
)
def test_cli_errors_are_one_line(store: Path, args: tuple[str, ...], message: str) -> None:
    """An unknown id or an ambiguous prefix exits 1 with one error line; a bad flag is a usage error (2)."""
    result = _cli(store, *args)
    assert result.returncode == (1 if args[0] == "session" else 2)
    assert message in result.stderr and "Traceback" not in result.stderr
    if args[0] == "session":
        assert result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.fixture(scope="module")
def viewer(store: Path) -> Iterator[Viewer]:
    with serve(store) as running:
        yield running


def test_api_sessions_pages_and_details(viewer: Viewer) -> None:
    """/api/sessions is {sessions, next} paged by cursor without repeats; /api/sessions/{id} the session with its
    turns and conversations (an id holding a slash and markup too, percent-encoded); the pages are shells."""
    with viewer.client() as client:
        seen: list[str] = []
        cursor = ""
        while True:
            page = client.get("/api/sessions", params={"limit": 2, "before": cursor}).json()
            assert set(page) == {"sessions", "next"}
            seen += [s["session_id"] for s in page["sessions"]]
            if page["next"] is None:
                break
            cursor = page["next"]
        assert seen == [HOSTILE, "lonely", "sess-1", "conv-a", "conv-b"]
        detail = client.get("/api/sessions/sess-1").json()
        assert [c["session_id"] for c in detail["conversations"]] == ["conv-a", "conv-b"]
        assert len(detail["turns"]) == 3 and detail["turns"][1]["error"] is True
        hostile = client.get("/api/sessions/" + quote(HOSTILE, safe=""))
        assert hostile.status_code == 200 and hostile.json()["session_id"] == HOSTILE
        conversation = client.get("/api/sessions/conv-a", params={"kind": "conversation"}).json()
        assert conversation["kind"] == "conversation" and [s["session_id"] for s in conversation["sessions"]] == [
            "sess-1"
        ]
        assert [s["session_id"] for s in client.get("/api/sessions", params={"q": "conv"}).json()["sessions"]] == [
            "conv-a", "conv-b"]  # fmt: skip
        for path, module in (("/sessions", "sessions"), ("/sessions/" + quote(HOSTILE, safe=""), "session")):
            response = client.get(path)
            assert response.status_code == 200
            assert f'<script type="module" src="/static/{module}.js"></script>' in response.text
            assert "<img src=x" not in response.text
            assert '<a href="/sessions" aria-current="page">Sessions</a>' in response.text


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/api/sessions/nope", 404, "no session or conversation 'nope'"),
        ("/api/sessions/conv-", 400, "ambiguous"),
        ("/api/sessions?limit=0", 400, "limit"),
        ("/api/sessions?before=zzz", 400, "before"),
        ("/api/sessions?kind=chat", 400, "kind"),
        ("/api/sessions?since=soon", 400, "since"),
        ("/api/sessions?until=soon", 400, "until"),
        ("/api/sessions/sess-1?kind=chat", 400, "kind"),
    ],
)
def test_api_bad_parameters_are_400_unknown_ids_404(viewer: Viewer, path: str, status: int, names: str) -> None:
    """A bad filter, cursor or kind is a 400 naming it, an unknown session a 404: one JSON line, never a 500."""
    with viewer.client() as client:
        response = client.get(path)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert names in message and "\n" not in message


def test_openai_v2_calls_in_a_session_of_two_conversations(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """opentelemetry-instrumentation-openai-v2 (content on the span) under an app span carrying session.id and
    gen_ai.conversation.id, through a BatchSpanProcessor: the session has three turns in two conversations,
    each turn the tokens the fake API returned, the question it sent and the answer it got."""
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    provider = TracerProvider(resource=Resource.create({"service.name": "chatbot"}), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(LensSpanExporter(sqlite_settings)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    tracer = provider.get_tracer("chat-app")
    try:
        with serving(_FakeOpenAI) as (base_url, calls):
            client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, timeout=30)
            for question, conversation in (("hi", "c-main"), ("tell me more", "c-side"), ("bye", "c-main")):
                attributes = {"session.id": "user-42", "gen_ai.conversation.id": conversation}
                with tracer.start_as_current_span("chat turn", attributes=attributes):
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
                    )
            client.close()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    assert len(calls) == 3
    with open_store(sqlite_settings.database) as store:
        detail = store.session("user-42")
        listed = store.sessions().as_dict()["sessions"]
    assert sorted((s["session_id"], s["kind"], s["trace_count"]) for s in listed) == [
        ("c-main", "conversation", 2), ("c-side", "conversation", 1), ("user-42", "session", 3)]  # fmt: skip
    assert [r.session_id for r in detail.related] == ["c-main", "c-side"]
    data: dict[str, Any] = detail.as_dict()
    assert (data["input_tokens"], data["output_tokens"], data["genai_count"]) == (3 * 1200, 3 * 300, 3)
    turns = data["turns"]
    assert [t["user_message"] for t in turns] == ["hi", "tell me more", "bye"]
    assert [t["assistant_message"] for t in turns] == ["Hello"] * 3
    assert [t["conversations"] for t in turns] == [["c-main"], ["c-side"], ["c-main"]]
    assert all(t["models"] == [RESPONSE_MODEL] and t["root_name"] == "chat turn" for t in turns)
    assert trace.get_tracer_provider() is not provider  # the test left the global provider alone
