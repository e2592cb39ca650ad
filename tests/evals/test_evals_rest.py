"""GET /api/evals/runs, /api/evals/runs/{id}, /api/datasets, /api/datasets/{name} on a real server on
127.0.0.1, checked against the OpenAPI document."""

from __future__ import annotations

import httpx

from traceglass.evals import EvalDataset, EvalItem, evaluate_traces
from traceglass.server import create_app

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
