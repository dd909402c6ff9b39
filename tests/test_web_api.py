"""The viewer's JSON API over a real ``otel-lens serve`` (uvicorn) and httpx: every endpoint, its filters,
cursor paging, and the error answers (400 bad parameter, 404 unknown id, never 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_lens.query import open_store
from tests._web import HOSTILE_NAME, Viewer, build_demo, serve


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    database = tmp_path_factory.mktemp("web-api") / "lens.db"
    return database, build_demo(str(database))


@pytest.fixture(scope="module")
def viewer(demo: tuple[Path, dict[str, str]]) -> Iterator[Viewer]:
    with serve(demo[0]) as running:
        yield running


def test_traces_are_newest_first_and_page_by_cursor_without_gaps_or_repeats(
    viewer: Viewer, demo: tuple[Path, dict[str, str]]
) -> None:
    """/api/traces pages through every trace once, newest first; the last page's ``next`` is null."""
    with viewer.client() as client, open_store(demo[0]) as store:
        # Two traces of the demo start in the same nanosecond: the trace id breaks the tie, the same on every page.
        ordered = sorted(store.traces(limit=None), key=lambda t: (t.start_ns, t.trace_id), reverse=True)
        expected = [t.trace_id for t in ordered]
        seen: list[str] = []
        before = None
        for _ in range(20):
            page = client.get("/api/traces", params={"limit": 4, **({"before": before} if before else {})})
            assert page.status_code == 200
            body = page.json()
            assert set(body) == {"traces", "next"}
            seen += [t["trace_id"] for t in body["traces"]]
            before = body["next"]
            if before is None:
                break
        assert seen == expected
        assert len(seen) == 19
        starts = [t["start_time"] for t in client.get("/api/traces", params={"limit": 50}).json()["traces"]]
        assert starts == sorted(starts, reverse=True)


def test_trace_filters(viewer: Viewer, demo: tuple[Path, dict[str, str]]) -> None:
    """service, name, errors, min_duration, since and free text q filter the list as the CLI's flags do."""
    ids = demo[1]
    with viewer.client() as client:

        def listed(**params: str) -> list[dict[str, object]]:
            response = client.get("/api/traces", params=params)
            assert response.status_code == 200, response.text
            return list(response.json()["traces"])

        assert {t["trace_id"] for t in listed(errors="1")} == {ids["checkout3"], ids["checkout9"]}
        assert {t["trace_id"] for t in listed(status="ok", service="shop", name="POST /checkout")} == {
            ids[f"checkout{i}"] for i in range(12) if i not in (3, 9)
        }
        assert {t["service"] for t in listed(service="agent")} == {"agent"}
        assert {t["trace_id"] for t in listed(min_duration="500ms")} == {ids[f"chat{i}"] for i in range(6)}
        assert len(listed(since="10m")) == 14  # the checkouts, the hostile span and the newest chat (1 min old)
        assert [t["root_name"] for t in listed(q="ONERROR")] == [HOSTILE_NAME]  # case-insensitive, literal
        assert listed(q="100%_") == []


def test_trace_detail_is_the_show_json_shape_and_takes_a_unique_prefix(
    viewer: Viewer, demo: tuple[Path, dict[str, str]]
) -> None:
    """/api/traces/{id} gives `show --json`'s shape (plus the summary) for a whole id or a unique prefix."""
    failed = demo[1]["failed"]
    with viewer.client() as client, open_store(demo[0]) as store:
        whole = client.get(f"/api/traces/{failed}").json()
        assert client.get(f"/api/traces/{failed[:12]}").json() == whole
        expected = store.trace(failed).as_dict()
        assert {k: whole[k] for k in expected} == expected
        assert whole["summary"]["error_count"] == 2
        assert {s["name"] for s in whole["spans"]} == {"POST /checkout", "authenticate", "SELECT cart", "charge card"}
        assert [log["severity_text"] for log in whole["logs"]] == ["INFO", "ERROR"]


def test_logs_filters_and_paging(viewer: Viewer, demo: tuple[Path, dict[str, str]]) -> None:
    """/api/logs filters by trace (prefix), level, text and window, newest first, paged by cursor."""
    failed = demo[1]["failed"]
    with viewer.client() as client:
        everything = client.get("/api/logs", params={"limit": 1000}).json()
        assert everything["next"] is None
        assert len(everything["logs"]) == 15
        paged, before = [], None
        while True:
            page = client.get("/api/logs", params={"limit": 4, **({"before": before} if before else {})}).json()
            paged += page["logs"]
            before = page["next"]
            if before is None:
                break
        assert paged == everything["logs"]
        of_trace = client.get("/api/logs", params={"trace": failed[:10]}).json()["logs"]
        assert {r["trace_id"] for r in of_trace} == {failed}
        errors = client.get("/api/logs", params={"level": "error"}).json()["logs"]
        assert [r["body"] for r in errors] == [{"event": "payment failed", "code": 51}] * 2
        found = client.get("/api/logs", params={"q": "CART OF USER 45"}).json()["logs"]
        assert [r["body"] for r in found] == ["cart of user 45: 3 items"]
        assert client.get("/api/logs", params={"since": "1s", "level": "fatal"}).json() == {"logs": [], "next": None}


def test_stats_and_usage(viewer: Viewer) -> None:
    """/api/stats gives p50/p95/p99 and error rate per name or service; /api/usage tokens (and a series per hour)."""
    with viewer.client() as client:
        stats = client.get("/api/stats").json()["stats"]
        checkout = next(r for r in stats if r["name"] == "POST /checkout")
        assert checkout["count"] == 12 and checkout["error_count"] == 2
        assert checkout["p50_ms"] <= checkout["p95_ms"] <= checkout["p99_ms"]
        services = {r["service"]: r for r in client.get("/api/stats", params={"by": "service"}).json()["stats"]}
        assert set(services) == {"shop", "payments", "agent"}
        usage = client.get("/api/usage", params={"series": "1", "since": "24h"}).json()
        by_model = {r["model"]: r for r in usage["usage"]}
        assert by_model["gpt-4o"]["input_tokens"] == 1100 + 1700 + 2300
        assert sum(p["input_tokens"] for p in usage["series"]) == sum(r["input_tokens"] for r in usage["usage"])
        assert len({p["time"] for p in usage["series"]}) == 6  # one chat per hour
        providers = client.get("/api/usage", params={"by": "provider"}).json()["usage"]
        assert [r["provider"] for r in providers] == ["openai"]


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/api/traces?limit=0", 400, "limit"),
        ("/api/traces?limit=1001", 400, "limit"),
        ("/api/traces?limit=abc", 400, "limit"),
        ("/api/traces?before=nonsense", 400, "before"),
        ("/api/traces?before=1.zz", 400, "before"),
        ("/api/traces?since=5", 400, "since"),
        ("/api/traces?min_duration=soon", 400, "min_duration"),
        ("/api/traces?status=maybe", 400, "status"),
        ("/api/traces?errors=perhaps", 400, "errors"),
        ("/api/traces/not-hex", 400, "trace id"),
        ("/api/traces/" + "a" * 40, 400, "trace id"),
        ("/api/traces/" + "0" * 32, 404, "no trace"),
        ("/api/traces/ffff", 404, "no trace"),
        ("/api/logs?level=loud", 400, "level"),
        ("/api/logs?trace=xyz", 400, "trace id"),
        ("/api/logs?trace=ffffffff", 404, "no trace"),
        ("/api/logs?before=9" + "9" * 30 + ".1", 400, "before"),
        ("/api/stats?by=colour", 400, "by"),
        ("/api/stats?since=yesterday", 400, "since"),
        ("/api/usage?by=colour", 400, "by"),
        ("/api/live?traces=maybe", 400, "traces"),
        ("/api/nothing", 404, "no API route"),
        ("/api/traces?q=" + "x" * 5000, 400, "q"),
    ],
)
def test_bad_parameters_are_400_unknown_ids_404_never_500(viewer: Viewer, path: str, status: int, names: str) -> None:
    """A bad id, limit, cursor or filter is a one-line JSON error naming it; never a 500 or a stack trace."""
    with viewer.client() as client:
        response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert names in message
    assert "\n" not in message and "Traceback" not in message


def test_pages_answer_and_unknown_pages_are_404(viewer: Viewer, demo: tuple[Path, dict[str, str]]) -> None:
    """Every page is an HTML shell loading its module; an unknown path is a 404 page, a bad trace id still a page."""
    with viewer.client() as client:
        for path, module in [("/", "traces"), (f"/traces/{demo[1]['ok']}", "trace"), ("/logs", "logs"),
                             ("/stats", "stats"), ("/usage", "usage")]:  # fmt: skip
            response = client.get(path)
            assert response.status_code == 200
            assert f'<script type="module" src="/static/{module}.js"></script>' in response.text
        missing = client.get("/no/such/page")
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
        hostile = client.get('/traces/"><img src=x onerror=alert(1)>')
        assert hostile.status_code == 200  # the page says the id is bad, from the API's 400
        assert "<img src=x" not in hostile.text and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in hostile.text
        lost = client.get('/"><script>alert(1)</script>')
        assert lost.status_code == 404
        assert "<script>alert(1)" not in lost.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in lost.text
        assert (
            client.get("/static/trace.js")
            .headers["content-type"]
            .startswith(("text/javascript", "application/javascript"))
        )


def test_no_database_yet_is_503_then_found(tmp_path: Path) -> None:
    """A viewer started before anything is stored answers 503 with the reason, then serves the store once it exists."""
    database = tmp_path / "later.db"
    with serve(database) as running, running.client() as client:
        waiting = client.get("/api/traces")
        assert waiting.status_code == 503
        assert "no otel-lens database" in waiting.json()["error"]
        build_demo(str(database))
        assert len(client.get("/api/traces").json()["traces"]) == 19


def test_subtree_parameter_and_named_bad_parameters(viewer: Viewer, demo: tuple[Path, dict[str, str]]) -> None:
    """``?subtree=<span>`` gives that span and all below it with their logs, ns ints exact; an unknown span is
    a one-line 400; a filter that does not parse names its parameter (so the page marks the field)."""
    trace_id = demo[1]["failed"]
    with viewer.client() as client:
        full = client.get(f"/api/traces/{trace_id}").json()
        root = next(s for s in full["spans"] if not s.get("parent_span_id"))
        cut = client.get(f"/api/traces/{trace_id}", params={"subtree": root["span_id"]}).json()
        assert set(cut) == {"trace_id", "spans", "logs"}
        assert [s["span_id"] for s in cut["spans"]] == [
            s["span_id"] for s in sorted(full["spans"], key=lambda s: s["start_time_unix_nano"])
        ]
        assert cut["spans"][0]["start_time_unix_nano"] == root["start_time_unix_nano"]  # an int, not a float
        leaf = next(s for s in full["spans"] if s["name"] == "charge card")
        one = client.get(f"/api/traces/{trace_id}", params={"subtree": leaf["span_id"]}).json()
        assert [s["name"] for s in one["spans"]] == ["charge card"] and len(one["logs"]) == 1
        bad = client.get(f"/api/traces/{trace_id}", params={"subtree": "0" * 16})
        assert bad.status_code == 400 and "subtree=" in bad.json()["error"]
        invalid = client.get("/api/traces", params={"min_duration": "5"})
        assert invalid.status_code == 400 and invalid.json()["parameter"] == "min_duration"


def test_no_database_yet_is_a_503_naming_the_path(tmp_path: Path) -> None:
    """Before anything is stored the list and the live feed answer 503 with ``not_ready`` and the database path."""
    database = tmp_path / "none-yet.db"
    with serve(database) as running, running.client() as client:
        for path in ("/api/traces", "/api/live"):
            answer = client.get(path)
            assert answer.status_code == 503
            assert answer.json()["not_ready"] is True and answer.json()["database"] == str(database)
