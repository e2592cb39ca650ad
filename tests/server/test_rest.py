"""The REST API over a real SQLite store filled with real traceglass spans, through a real uvicorn server."""

from __future__ import annotations

import json

import httpx
import pytest

from traceglass.store import TraceStore

from .conftest import HOSTILE_PROMPT, get, record_sample


@pytest.fixture
def sample(recorder, db_path, serve_app):
    record_sample(recorder)
    server = serve_app(db_path)
    with TraceStore(db_path) as store:
        traces = {t.name: t for t in store.list_traces(limit=10)}
        assert len(traces) == 2  # two rag_agent traces share a name; keyed below by prompt
        all_rows = store.list_traces(limit=10).traces
    return server, all_rows


def test_list_traces_rows_match_the_store(sample, db_path):
    server, rows = sample
    response = get(f"{server.url}/api/traces/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["next_cursor"] is None
    assert [t["trace_id"] for t in body["traces"]] == [r.trace_id for r in rows]  # newest first
    assert [t["name"] for t in body["traces"]] == ["failing_chain", "rag_agent", "rag_agent"]
    by_id = {t["trace_id"]: t for t in body["traces"]}
    for row in rows:
        expected = row.to_dict()
        got = dict(by_id[row.trace_id])
        extras = {key: got.pop(key) for key in ("type", "models", "input_preview", "output_preview")}
        assert got == expected
        if row.name == "rag_agent":
            question = "What is the capital of France?" if row.input_tokens == 120 else HOSTILE_PROMPT
            assert extras == {"type": "agent", "models": ["gpt-4o-mini"], "input_preview": question,
                              "output_preview": "Answer to: " + question}
        else:  # no arguments, and it raised: nothing to preview
            assert extras == {"type": "chain", "models": [], "input_preview": None, "output_preview": None}
    first_rag = body["traces"][2]
    assert (first_rag["input_tokens"], first_rag["output_tokens"], first_rag["total_tokens"]) == (120, 30, 150)
    assert first_rag["cost_usd"] == pytest.approx(120 * 0.15 / 1000 + 30 * 0.6 / 1000)
    assert first_rag["status"] == "OK" and first_rag["span_count"] == 4
    assert (first_rag["session"], first_rag["user"]) == ("sess-1", "alice")
    failed = body["traces"][0]
    assert (failed["status"], failed["error_count"], failed["cost_usd"]) == ("ERROR", 1, None)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"status": "error"}, ["failing_chain"]),
        ({"status": "ok"}, ["rag_agent", "rag_agent"]),
        ({"model": "gpt-4o-mini"}, ["rag_agent", "rag_agent"]),
        ({"type": "tool"}, ["rag_agent", "rag_agent"]),
        ({"type": "chain"}, ["failing_chain"]),
        ({"session": "sess-1"}, ["rag_agent"]),
        ({"user": "alice"}, ["rag_agent"]),
        ({"user": "bob"}, []),
        ({"q": "capital of France?"}, ["rag_agent"]),
        ({"q": "<script>"}, ["rag_agent"]),
        ({"since": "1h"}, ["failing_chain", "rag_agent", "rag_agent"]),
        ({"until": "2000-01-01T00:00:00Z"}, []),
        ({"project": "no-such-project"}, []),
    ],
)
def test_list_filters(sample, query, names):
    server, _ = sample
    response = get(f"{server.url}/api/traces/", params=query)
    assert response.status_code == 200, response.text
    assert [t["name"] for t in response.json()["traces"]] == names


def test_list_filter_by_trace_id_prefix_and_project(sample):
    server, rows = sample
    target = rows[1]
    got = get(f"{server.url}/api/traces/", params={"trace_id": target.trace_id[:10]}).json()["traces"]
    assert [t["trace_id"] for t in got] == [target.trace_id]
    got = get(f"{server.url}/api/traces/", params={"project": target.project}).json()["traces"]
    assert len(got) == 3


def test_cursor_pagination_walks_every_trace_once(sample):
    server, rows = sample
    seen, cursor, pages = [], None, 0
    while pages < 10:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = get(f"{server.url}/api/traces/", params=params).json()
        seen += [t["trace_id"] for t in body["traces"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [r.trace_id for r in rows]
    assert pages == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit must be between 1 and 500"),
        ({"limit": "many"}, "limit must be a number"),
        ({"status": "maybe"}, "status must be 'ok' or 'error'"),
        ({"since": "yesterday-ish"}, "not a time"),
        ({"cursor": "garbage"}, "invalid cursor"),
        ({"colour": "red"}, "unknown query parameter(s) ['colour']"),
        ({"limit": "501"}, "limit must be between 1 and 500, got '501'"),
        ({"limit": "99999999999999999999999"}, "limit must be between 1 and 500"),
        ({"min_cost": "nan"}, "min_cost must be a finite number, got 'nan'"),
        ({"min_cost": "-1"}, "min_cost must be between 0 and None, got '-1'"),
        ({"min_latency_ms": "inf"}, "min_latency_ms must be a finite number, got 'inf'"),
        ({"min_latency_ms": "1e400"}, "min_latency_ms must be a finite number"),
        ({"since": "99999999999999999999"}, "since"),
        ({"until": "9999-01-01"}, "until"),
        ({"cursor": "99999999999999999999999." + "a" * 32}, "invalid cursor"),
    ],
)
def test_list_rejects_bad_parameters_with_a_message(sample, query, message):
    server, _ = sample
    response = get(f"{server.url}/api/traces/", params=query)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_list_limit_takes_up_to_500(sample):
    server, rows = sample
    response = get(f"{server.url}/api/traces/", params={"limit": "500"})
    assert response.status_code == 200
    assert [t["trace_id"] for t in response.json()["traces"]] == [r.trace_id for r in rows]


@pytest.mark.parametrize("query", [{"since": "99999999999999999999"}, {"until": "9999999999999999999999d"},
                                   {"since": "1e300"}])
def test_stats_rejects_times_out_of_range(sample, query):
    server, _ = sample
    response = get(f"{server.url}/api/stats", params={"group_by": "type", **query})
    assert response.status_code == 400
    assert next(iter(query)) in response.json()["error"]


def test_get_trace_returns_the_tree_with_every_span(sample, db_path):
    server, rows = sample
    hostile = next(r for r in rows if r.input_tokens == 200)
    response = get(f"{server.url}/api/traces/{hostile.trace_id.upper()}")
    assert response.status_code == 200
    body = response.json()
    with TraceStore(db_path) as store:
        expected = store.get_trace(hostile.trace_id).to_dict()
    assert {k: v for k, v in body.items() if k not in ("type", "models")} == expected
    assert (body["type"], body["models"]) == ("agent", ["gpt-4o-mini"])
    [root] = body["spans"]
    assert root["name"] == "rag_agent" and root["parent_id"] is None
    assert [c["name"] for c in root["children"]] == ["retrieve", "lookup_weather", "chat gpt-4o-mini"]
    chat = root["children"][2]
    assert chat["parent_id"] == root["span_id"]
    assert (chat["type"], chat["model"], chat["input_tokens"], chat["output_tokens"]) == ("llm", "gpt-4o-mini", 200, 50)
    assert chat["cost_usd"] == pytest.approx(0.06)
    assert chat["duration_ms"] == pytest.approx((chat["end_ns"] - chat["start_ns"]) / 1e6)
    assert json.loads(chat["attributes"]["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": HOSTILE_PROMPT}]},
    ]
    retrieve = root["children"][0]
    assert json.loads(retrieve["attributes"]["gen_ai.retrieval.documents"])[0]["id"] == "doc-1"


def test_get_trace_with_an_error_carries_the_exception_event(sample):
    server, rows = sample
    failed = next(r for r in rows if r.status == "ERROR")
    [root] = get(f"{server.url}/api/traces/{failed.trace_id}").json()["spans"]
    assert (root["status"], root["status_message"]) == ("ERROR", "RuntimeError: the model refused: quota exceeded")
    assert root["error_type"] == "RuntimeError"
    [event] = root["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "the model refused: quota exceeded"


def test_unknown_and_malformed_trace_ids(sample):
    server, _ = sample
    response = get(f"{server.url}/api/traces/{'0' * 31}1")
    assert response.status_code == 404
    assert response.json() == {"error": f"no trace with id {'0' * 31}1"}
    response = get(f"{server.url}/api/traces/not-an-id")
    assert response.status_code == 400
    assert response.json() == {"error": "trace_id must be 32 hex digits, got 'not-an-id'"}
    response = get(f"{server.url}/api/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "no such path: /api/nothing-here"}


def test_stats_match_the_store(sample, db_path):
    server, _ = sample
    with TraceStore(db_path) as store:
        for group in ("model", "type", "day", "project", "user", "session"):
            response = get(f"{server.url}/api/stats", params={"group_by": group})
            assert response.status_code == 200
            assert response.json() == {"group_by": group, "rows": [r.to_dict() for r in store.stats(group)],
                                       "count": {"traces": 3, "spans": 9}}
    body = get(f"{server.url}/api/stats").json()
    assert body["group_by"] == "model"
    [row] = body["rows"]
    assert (row["key"], row["calls"], row["errors"], row["input_tokens"], row["output_tokens"]) == (
        "gpt-4o-mini", 2, 0, 320, 80)
    assert row["cost_usd"] == pytest.approx(0.036 + 0.06)
    response = get(f"{server.url}/api/stats", params={"group_by": "colour"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("group_by must be one of")


# --- POST /api/traces/ ------------------------------------------------------------------------------
def _post(url: str, body, **kwargs) -> httpx.Response:
    if "content" not in kwargs:
        kwargs["json"] = body
    return httpx.post(f"{url}/api/traces/", timeout=10, **kwargs)


def test_post_creates_then_updates_a_span(db_path, serve_app):
    server = serve_app(db_path)
    trace_id, span_id = "ab" * 16, "cd" * 8
    created = _post(server.url, {
        "trace_id": trace_id, "span_id": span_id, "name": "manual step", "type": "llm", "model": "acme-1",
        "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25, "project": "demo", "start": 1_700_000_000,
        "end": 1_700_000_001.5, "attributes": {"custom.flag": True}, "input": {"question": "hi"},
    })
    assert created.status_code == 200, created.text
    span = created.json()["span"]
    assert (span["trace_id"], span["span_id"], span["name"], span["type"], span["model"]) == (
        trace_id, span_id, "manual step", "llm", "acme-1")
    assert (span["input_tokens"], span["output_tokens"], span["cost_usd"], span["duration_ms"]) == (10, 5, 0.25, 1500.0)
    assert span["attributes"]["custom.flag"] is True
    assert span["attributes"]["traceglass.input"] == '{"question": "hi"}'

    updated = _post(server.url, {"trace_id": trace_id, "span_id": span_id, "status": "error",
                                 "status_message": "boom", "attributes": {"more": 1}})
    assert updated.status_code == 200, updated.text
    trace = get(f"{server.url}/api/traces/{trace_id}").json()
    [root] = trace["spans"]
    assert (root["status"], root["status_message"], root["name"]) == ("ERROR", "boom", "manual step")
    assert root["attributes"]["custom.flag"] is True and root["attributes"]["more"] == 1
    assert (trace["project"], trace["status"], trace["cost_usd"]) == ("demo", "ERROR", 0.25)


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "body is not valid JSON"),
        ({"content": b"name=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
         "Content-Type must be application/json"),
        ({"json": [1, 2]}, 422, "body must be a JSON object (one span), got list"),
        ({"json": {"span_id": "zz"}}, 422, "span_id must be 16 hex digits, got 'zz'"),
        ({"json": {"span_id": "zz"}}, 422, "name is required for a new span"),
        ({"json": {"name": "x", "input_tokens": -1}}, 422, "input_tokens must be a non-negative integer"),
        ({"json": {"name": "x", "colour": "red"}}, 422, "unknown field(s) ['colour']"),
        ({"json": {"name": "x", "start": 10, "end": 5}}, 422, "end is before start"),
        # Values the store cannot hold or a reader could not render, each named (they were 500s).
        ({"json": {"name": "x", "events": [{"name": "e", "attributes": [1]}]}}, 422,
         "events[0].attributes must be an object, got list"),
        ({"json": {"name": "x", "events": [{"name": "e", "attributes": "s"}]}}, 422,
         "events[0].attributes must be an object, got str"),
        ({"json": {"name": "x", "events": "x"}}, 422, "events must be a list of objects, got str"),
        ({"json": {"name": "x", "events": [{"name": "e", "time_unix_nano": -5}]}}, 422,
         "events[0].time_unix_nano must be an integer from 0 to 9223372036854775807"),
        ({"json": {"name": "x", "attributes": [1]}}, 422, "attributes must be an object, got list"),
        ({"json": {"name": "x", "start": 1e300}}, 422, "start must be"),
        ({"json": {"name": "x", "start": -1e300}}, 422, "start must be"),
        ({"json": {"name": "x", "start": "9999-12-31T23:59:59"}}, 422, "start must be"),
        ({"json": {"name": "x", "start_ns": 2**70}}, 422, "start_ns must fit in 64 bits, got 1180591620717411303424"),
        ({"json": {"name": "x", "end_ns": 2**63}}, 422, "end_ns must fit in 64 bits"),
        ({"json": {"name": "x", "input_tokens": 2**64}}, 422, "input_tokens must fit in 64 bits"),
        ({"json": {"name": "x", "output_tokens": 10**13}}, 422, "output_tokens must be at most 1e+12"),
        ({"content": b'{"name": "x", "cost_usd": Infinity}'}, 422, "cost_usd must be a finite number, got inf"),
        ({"content": b'{"name": "x", "attributes": {"k": NaN}}'}, 422, "attributes['k'] must be a finite number"),
        ({"json": {"name": "x", "attributes": {"gen_ai.usage.cost": 1e300}}}, 422,
         "attribute 'gen_ai.usage.cost' must be an amount in USD between 0 and 1e+12, got 1e+300"),
        ({"json": {"name": "x", "attributes": {"gen_ai.usage.input_tokens": -3}}}, 422,
         "attribute 'gen_ai.usage.input_tokens' must be a token count between 0 and 1e+12, got -3"),
        ({"json": {"name": "x", "attributes": {"k": [2**70]}}}, 422, "attributes['k'][0] must fit in 64 bits"),
        ({"json": {"name": "x", "model": {"x": 1}}}, 422, "model must be a string, got {'x': 1}"),
        ({"json": {"name": "x", "project": 5}}, 422, "project must be a string, got 5"),
        ({"content": b'{"name": "\\ud800"}'}, 422, "name is not valid Unicode (it holds a lone surrogate)"),
        ({"content": b'{"name": "x", "attributes": {"\\udfff": 1}}'}, 422, "a key in attributes is not valid Unicode"),
        ({"json": {"name": "x", "resource": {"k": [1, {"a": 2}]}}}, 422, "resource attribute 'k' must map a string"),
        ({"json": {"name": "x", "links": [{"x": 2**70}]}}, 422, "links[0]['x'] must fit in 64 bits"),
    ],
)
def test_post_rejects_bad_bodies_and_writes_nothing(db_path, serve_app, kwargs, status, message):
    server = serve_app(db_path)
    if "content" in kwargs and "headers" not in kwargs:
        kwargs = {**kwargs, "headers": {"content-type": "application/json"}}
    response = httpx.post(f"{server.url}/api/traces/", timeout=10, **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"]
    with TraceStore(db_path) as store:
        assert store.count() == {"traces": 0, "spans": 0}


def test_post_update_that_fails_validation_leaves_the_span_unchanged(db_path, serve_app):
    server = serve_app(db_path)
    ids = {"trace_id": "12" * 16, "span_id": "34" * 8}
    assert _post(server.url, {**ids, "name": "step", "attributes": {"a": 1}}).status_code == 200
    bad = _post(server.url, {**ids, "attributes": {"a": 2, "b": {"nested": True}}})
    assert bad.status_code == 422
    assert "attribute 'b' must map a string to a string, number, bool or a list of them" in bad.json()["error"]
    [root] = get(f"{server.url}/api/traces/{ids['trace_id']}").json()["spans"]
    assert root["attributes"] == {"a": 1}


def test_an_infinite_cost_is_refused_and_stats_and_the_trace_still_answer(db_path, serve_app):
    server = serve_app(db_path)
    trace_id = "ee" * 16
    assert _post(server.url, {"trace_id": trace_id, "name": "root", "type": "chain"}).status_code == 200
    bad = _post(server.url, None, content=b'{"trace_id": "' + trace_id.encode() + b'", "name": "llm", '
                b'"type": "llm", "cost_usd": Infinity}', headers={"content-type": "application/json"})
    assert bad.status_code == 422
    assert bad.json() == {"error": "invalid span: cost_usd must be a finite number, got inf"}
    with TraceStore(db_path) as store:
        assert store.count() == {"traces": 1, "spans": 1}
    stats = get(f"{server.url}/api/stats", params={"group_by": "type"})
    assert stats.status_code == 200
    assert [(row["key"], row["calls"], row["cost_usd"]) for row in stats.json()["rows"]] == [("chain", 1, None)]
    assert [s["name"] for s in get(f"{server.url}/api/traces/{trace_id}").json()["spans"]] == ["root"]


def test_post_with_a_model_and_tokens_is_priced_like_any_span(db_path, serve_app):
    server = serve_app(db_path, prices={"acme-large": {"input_per_1k": 1.0, "output_per_1k": 2.0}})
    ids = {"trace_id": "ab" * 16, "span_id": "cd" * 8}
    created = _post(server.url, {**ids, "name": "chat acme-large", "type": "llm", "model": "acme-large",
                                 "input_tokens": 1000, "output_tokens": 500, "start_ns": 1_700_000_000 * 10**9})
    assert created.status_code == 200, created.text
    span = created.json()["span"]
    assert span["cost_usd"] == 2.0  # 1000 * $1/1K + 500 * $2/1K
    assert span["attributes"] == {
        "traceglass.span.type": "llm", "gen_ai.request.model": "acme-large", "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 500, "gen_ai.usage.cost": 2.0, "traceglass.cost.input_usd": 1.0,
        "traceglass.cost.output_usd": 1.0, "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 2.0, "traceglass.cost.source": "user",
        "traceglass.rollup.input_tokens": 1000, "traceglass.rollup.output_tokens": 500,
        "traceglass.rollup.total_tokens": 1500, "traceglass.rollup.cost_usd": 2.0,
    }
    # More tokens later: priced again. The trace's total follows.
    updated = _post(server.url, {**ids, "input_tokens": 3000})
    assert updated.json()["span"]["cost_usd"] == 4.0
    assert get(f"{server.url}/api/traces/{ids['trace_id']}").json()["cost_usd"] == 4.0
    # A cost the caller names is kept as given.
    named = _post(server.url, {"name": "named", "model": "acme-large", "input_tokens": 1000, "cost_usd": 0.125})
    assert named.json()["span"]["cost_usd"] == 0.125
    assert "traceglass.cost.source" not in named.json()["span"]["attributes"]
