"""GET /api/evals/runs, /api/evals/runs/{id}, /api/datasets, /api/datasets/{name} on a real server on
127.0.0.1, checked against the OpenAPI document."""

from __future__ import annotations

import httpx

from traceglass.evals import EvalDataset, EvalItem, evaluate_traces
from traceglass.server import create_app
from traceglass.store import TraceStore

from ..server.conftest import RunningServer
from ..server.test_openapi import check
from ._traces import Spans


def test_runs_and_datasets_over_rest(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    trace_id, span_id = spans.chat(0, "refund?", "Your refund is on its way.")
    spans.close()
    run = evaluate_traces(["contains:refund", "max_latency:100"], store=path)
    EvalDataset([EvalItem("a")]).save("golden", store=path)
    EvalDataset([EvalItem("a"), EvalItem("b", "B")]).save("golden", store=path)
    server = RunningServer(create_app(path)).start()
    try:
        def get(route, **params):
            return httpx.get(server.url + route, params=params, timeout=10)

        document = get("/openapi.json").json()
        schemas = document["components"]["schemas"]

        runs = get("/api/evals/runs")
        assert runs.status_code == 200
        check(runs.json(), schemas["EvalRuns"], document)
        [listed] = runs.json()["runs"]
        assert (listed["id"], listed["item_count"], listed["scorers"]) == (run.id, 1, ["contains", "max_latency"])
        assert listed["summary"]["max_latency"] == {"mean": 0.0, "pass_rate": 0.0, "count": 1, "errors": 0,
                                                    "no_score": 0}

        detail = get(f"/api/evals/runs/{run.id}")
        assert detail.status_code == 200
        check(detail.json(), schemas["EvalRunDetail"], document)
        assert [(r["scorer"], r["value"], r["trace_id"], r["span_id"]) for r in detail.json()["results"]] == [
            ("contains", 1.0, trace_id, span_id), ("max_latency", 0.0, trace_id, span_id)]
        assert detail.json()["results"][0]["item"]["output"] == "Your refund is on its way."
        missing = get("/api/evals/runs/nope")
        assert (missing.status_code, missing.json()) == (404, {"error": "no evaluation run 'nope'"})

        datasets = get("/api/datasets")
        check(datasets.json(), schemas["Datasets"], document)
        assert [(d["name"], d["version"], d["item_count"]) for d in datasets.json()["datasets"]] == [
            ("golden", 2, 2)]
        latest = get("/api/datasets/golden")
        check(latest.json(), schemas["DatasetDetail"], document)
        assert [i["input"] for i in latest.json()["items"]] == ["a", "b"]
        assert [v["version"] for v in latest.json()["versions"]] == [2, 1]
        first = get("/api/datasets/golden", version="1")
        assert (first.json()["version"], [i["input"] for i in first.json()["items"]]) == (1, ["a"])
        assert (get("/api/datasets/golden", version="3").status_code,
                get("/api/datasets/golden", version="3").json()) == (
            404, {"error": "no saved dataset version 3 of 'golden'"})
        bad = get("/api/datasets/golden", version="x")
        assert (bad.status_code, bad.json()) == (400, {"error": "version must be a number, got 'x'"})
        bad = get("/api/evals/runs", limit="0")
        assert (bad.status_code, bad.json()) == (400, {"error": "limit must be between 1 and 500, got '0'"})
    finally:
        server.stop()


def test_adding_traces_to_a_dataset_over_rest(tmp_path):
    """POST /api/datasets/{name}/items (the dashboard's "add to dataset"): each addition is a new
    version holding the earlier items; adding what is there already makes none."""
    path = tmp_path / "t.db"
    spans = Spans(path)
    first, first_span = spans.chat(0, "refund?", "Your refund is on its way.")
    second, second_span = spans.chat(1000, "hours?", "We open at 9.")
    judged, _ = spans.chat(2000, "judge me", "fine", judge=True)
    plain = spans.span("plain step", 3000, 3100, {"traceglass.span.type": "chain", "traceglass.input": "in",
                                                  "traceglass.output": "out"})
    plain_trace = format(plain.get_span_context().trace_id, "032x")
    spans.close()
    server = RunningServer(create_app(path)).start()
    try:
        document = httpx.get(server.url + "/openapi.json", timeout=10).json()

        def add(name, body=None, **kw):
            return httpx.post(f"{server.url}/api/datasets/{name}/items", json=body, timeout=10, **kw)

        made = add("picked", {"trace_id": first})
        assert made.status_code == 201
        check(made.json(), document["components"]["schemas"]["DatasetAdded"], document)
        assert (made.json()["dataset"]["version"], made.json()["dataset"]["item_count"], made.json()["added"]) == (
            1, 1, 1)
        again = add("picked", {"trace_id": first.upper()})
        assert (again.status_code, again.json()["dataset"]["version"], again.json()["added"]) == (200, 1, 0)
        assert add("picked", {"trace_id": second, "span_id": second_span}).status_code == 201
        assert add("picked", {"trace_id": plain_trace}).status_code == 201  # no model call: the root's item
        items = EvalDataset.load("picked", store=path)
        assert [(i.input, i.output, i.trace_id, i.span_id) for i in items] == [
            ([{"role": "user", "content": "refund?"}], "Your refund is on its way.", first, first_span),
            ([{"role": "user", "content": "hours?"}], "We open at 9.", second, second_span),
            ("in", "out", plain_trace, format(plain.get_span_context().span_id, "016x"))]
        assert [d.version for d in TraceStore(path).datasets("picked")] == [3, 2, 1]  # v1 still holds one item
        assert len(EvalDataset.load("picked", version=1, store=path)) == 1

        missing = add("picked", {"trace_id": "e" * 32})
        assert (missing.status_code, missing.json()) == (404, {"error": f"no trace {'e' * 32!r}"})
        no_span = add("picked", {"trace_id": first, "span_id": "f" * 16})
        assert (no_span.status_code, no_span.json()) == (404, {"error": f"no span {'f' * 16!r} in trace {first}"})
        judge = add("picked", {"trace_id": judged})
        assert (judge.status_code, judge.json()["problems"]) == (422, [
            {"field": "trace_id", "message": "the trace has no span to make an item of (a judge's trace never has)"}])
        bad = add("picked", {"trace_id": 7, "answer": "middle", "colour": "red"})
        assert (bad.status_code, bad.json()["problems"]) == (422, [
            {"field": "colour", "message": "is not a field of a dataset item request"},
            {"field": "trace_id", "message": "must be a span or trace id"},
            {"field": "answer", "message": "must be one of last, root, all"}])
        form = httpx.post(f"{server.url}/api/datasets/picked/items", content=b"trace_id=x", timeout=10,
                          headers={"content-type": "application/x-www-form-urlencoded"})
        assert form.status_code == 415
        assert [d.version for d in TraceStore(path).datasets("picked")] == [3, 2, 1]  # nothing else was saved
    finally:
        server.stop()
