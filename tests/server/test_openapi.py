"""The served OpenAPI document matches what the endpoints do: every path, method and status is exercised."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import httpx
import pytest

from traceglass.server.app import create_app

from .conftest import get, record_sample

_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list,
          "null": type(None)}


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> None:
    """A small JSON Schema check (type, enum, properties, required, items, $ref): enough for our document."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        check(value, root["components"]["schemas"][name], root, where)
        return
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        ok = any(isinstance(value, _TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool))
                 for k in kinds)
        assert ok, f"{where}: {value!r} is not of type {kinds}"
    if isinstance(value, dict) and "properties" in schema:
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{where}: missing {sorted(missing)}"
        undocumented = set(value) - set(schema["properties"])
        assert not undocumented, f"{where}: undocumented fields {sorted(undocumented)}"
        for key, sub in schema["properties"].items():
            if key in value:
                check(value[key], sub, root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(item, schema["items"], root, f"{where}[{i}]")


@pytest.fixture
def server(recorder, db_path, serve_app):
    record_sample(recorder)
    _evaluate(db_path)
    return serve_app(db_path, max_body_bytes=50_000)


def _evaluate(db_path) -> None:
    """A stored evaluation run and a saved dataset, for the evaluation routes (issue 15)."""
    from traceglass.evals import EvalDataset, EvalItem, evaluate_traces

    evaluate_traces("max_latency:1000", store=db_path, span_type=None)
    EvalDataset([EvalItem("question", "answer")]).save("golden", store=db_path)


def _requests(url: str, trace_id: str) -> list[tuple[str, str, int, httpx.Response]]:
    """(path template, method, expected status, response) for every documented status we can cause."""
    post = lambda path, **kw: httpx.post(url + path, timeout=10, **kw)
    otlp = {"content-type": "application/json"}
    return [
        ("/api/traces/", "get", 200, get(url + "/api/traces/", params={"limit": 2})),
        ("/api/traces/", "get", 400, get(url + "/api/traces/", params={"limit": -1})),
        ("/api/traces/", "post", 200, post("/api/traces/", json={"name": "x"})),
        ("/api/traces/", "post", 400, post("/api/traces/", content=b"{", headers={"content-type": "application/json"})),
        ("/api/traces/", "post", 413, post("/api/traces/", content=b" " * 60_000,
                                           headers={"content-type": "application/json"})),
        ("/api/traces/", "post", 415, post("/api/traces/", content=b"x", headers={"content-type": "text/plain"})),
        ("/api/traces/", "post", 422, post("/api/traces/", json={"kind": "sideways"})),
        ("/api/traces/{trace_id}", "get", 200, get(f"{url}/api/traces/{trace_id}")),
        ("/api/traces/{trace_id}", "get", 400, get(f"{url}/api/traces/xyz")),
        ("/api/traces/{trace_id}", "get", 404, get(f"{url}/api/traces/{'f' * 32}")),
        ("/api/stats", "get", 200, get(url + "/api/stats", params={"group_by": "type"})),
        ("/api/stats", "get", 400, get(url + "/api/stats", params={"group_by": "planet"})),
        ("/api/counts", "get", 200, get(url + "/api/counts")),
        ("/api/timeseries", "get", 200, get(url + "/api/timeseries", params={"group_by": "model", "bucket": "hour"})),
        ("/api/timeseries", "get", 400, get(url + "/api/timeseries", params={"bucket": "week"})),
        ("/api/timeseries/scores", "get", 200, get(url + "/api/timeseries/scores", params={"since": "1d"})),
        ("/api/timeseries/scores", "get", 400, get(url + "/api/timeseries/scores", params={"colour": "red"})),
        ("/api/alerts", "get", 200, get(url + "/api/alerts", params={"limit": 5})),
        ("/api/alerts", "get", 400, get(url + "/api/alerts", params={"since": "never"})),
        ("/healthz", "get", 200, get(url + "/healthz")),
        ("/readyz", "get", 200, get(url + "/readyz")),
        *_score_requests(url, trace_id),
        *_eval_requests(url, trace_id),
        *_session_requests(url),
        *(request for signal in ("traces", "logs", "metrics") for request in [
            (f"/v1/{signal}", "post", 200, post(f"/v1/{signal}", content=b"{}", headers=otlp)),
            (f"/v1/{signal}", "post", 400, post(f"/v1/{signal}", content=b"{", headers=otlp)),
            (f"/v1/{signal}", "post", 413, post(f"/v1/{signal}", content=gzip.compress(b" " * 100_000),
                                                headers={**otlp, "content-encoding": "gzip"})),
            (f"/v1/{signal}", "post", 415, post(f"/v1/{signal}", content=b"x", headers={"content-type": "text/csv"})),
        ]),
    ]


def _session_requests(url: str) -> list[tuple[str, str, int, httpx.Response]]:
    return [
        ("/api/sessions", "get", 200, get(url + "/api/sessions", params={"limit": 5})),
        ("/api/sessions", "get", 400, get(url + "/api/sessions", params={"since": "never"})),
        ("/api/sessions/{session_id}", "get", 200, get(url + "/api/sessions/sess-1")),
        ("/api/sessions/{session_id}", "get", 400, get(url + "/api/sessions/sess-1", params={"limit": 0})),
        ("/api/sessions/{session_id}", "get", 404, get(url + "/api/sessions/nope")),
        ("/api/users", "get", 200, get(url + "/api/users", params={"project": "test-service"})),
        ("/api/users", "get", 400, get(url + "/api/users", params={"cursor": "nope"})),
    ]


def _eval_requests(url: str, trace_id: str) -> list[tuple[str, str, int, httpx.Response]]:
    run_id = get(url + "/api/evals/runs").json()["runs"][0]["id"]
    items = "/api/datasets/{name}/items"
    add = lambda body, **kw: httpx.post(url + "/api/datasets/picked/items", timeout=10, json=body, **kw)
    return [
        (items, "post", 201, add({"trace_id": trace_id})),
        (items, "post", 200, add({"trace_id": trace_id})),
        (items, "post", 404, add({"trace_id": "e" * 32})),
        (items, "post", 413, httpx.post(url + "/api/datasets/picked/items", timeout=10, content=b" " * 60_000,
                                        headers={"content-type": "application/json"})),
        (items, "post", 415, httpx.post(url + "/api/datasets/picked/items", timeout=10, content=b"x",
                                        headers={"content-type": "text/plain"})),
        (items, "post", 422, add({"trace_id": trace_id, "answer": "middle"})),
        ("/api/evals/runs", "get", 200, get(url + "/api/evals/runs", params={"limit": 5})),
        ("/api/evals/runs", "get", 400, get(url + "/api/evals/runs", params={"limit": 0})),
        ("/api/evals/runs/{run_id}", "get", 200, get(f"{url}/api/evals/runs/{run_id}")),
        ("/api/evals/runs/{run_id}", "get", 404, get(f"{url}/api/evals/runs/nope")),
        ("/api/datasets", "get", 200, get(url + "/api/datasets")),
        ("/api/datasets/{name}", "get", 200, get(url + "/api/datasets/golden", params={"version": 1})),
        ("/api/datasets/{name}", "get", 400, get(url + "/api/datasets/golden", params={"version": "x"})),
        ("/api/datasets/{name}", "get", 404, get(url + "/api/datasets/nope")),
    ]


def _score_requests(url: str, trace_id: str) -> list[tuple[str, str, int, httpx.Response]]:
    scores = f"{url}/api/traces/{trace_id}/scores"
    post = lambda **kw: httpx.post(scores, timeout=10, **kw)
    path = "/api/traces/{trace_id}/scores"
    return [
        (path, "post", 201, post(json={"name": "q", "value": 1, "id": "s-1", "span_id": None})),
        (path, "post", 200, post(json={"name": "q", "value": 2, "id": "s-1", "comment": "better"})),
        (path, "post", 413, post(content=b" " * 60_000, headers={"content-type": "application/json"})),
        (path, "post", 415, post(content=b"x", headers={"content-type": "text/plain"})),
        (path, "post", 422, post(content=b'{"name": "", "value": NaN}', headers={"content-type": "application/json"})),
        (path, "get", 200, get(scores, params={"name": "q"})),
        (path, "get", 400, get(scores, params={"limit": -1})),
        (path, "get", 422, get(f"{url}/api/traces/xyz/scores")),
        ("/api/scores", "get", 200, get(f"{url}/api/scores", params={"trace_id": trace_id, "source": "api"})),
        ("/api/scores", "get", 400, get(f"{url}/api/scores", params={"since": "never"})),
        ("/api/scores", "get", 422, get(f"{url}/api/scores", params={"trace_id": "xyz"})),
        ("/api/traces/{trace_id}", "get", 200, get(f"{url}/api/traces/{trace_id}")),  # with its score
        ("/api/scores/{score_id}", "delete", 204, httpx.delete(f"{url}/api/scores/s-1", timeout=10)),
        ("/api/scores/{score_id}", "delete", 404, httpx.delete(f"{url}/api/scores/s-1", timeout=10)),
    ]


def test_documented_paths_answer_as_documented(server):
    document = get(server.url + "/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    trace_id = get(server.url + "/api/traces/").json()["traces"][0]["trace_id"]
    exercised: set[tuple[str, str, str]] = set()
    for path, method, status, response in _requests(server.url, trace_id):
        assert response.status_code == status, (path, method, response.text)
        documented = document["paths"][path][method]["responses"]
        assert str(status) in documented, (path, method, status)
        exercised.add((path, method, str(status)))
        content = documented[str(status)].get("content", {})
        if "application/json" in content and response.headers["content-type"] == "application/json":
            check(response.json(), content["application/json"]["schema"], document, f"{method} {path} {status}")
    # Every documented path, method and status was exercised, except a database that cannot be written
    # or read (tests/server/test_health.py checks /readyz's 503 against this document).
    # Replay's statuses need an endpoint to call: tests/server/test_replay_api.py causes each one and
    # checks its answer against this document.
    exercised |= {("/api/replay", m, s) for m, op in document["paths"]["/api/replay"].items() for s in op["responses"]}
    documented_all = {(p, m, s) for p, methods in document["paths"].items() for m, op in methods.items()
                      for s in op["responses"]}
    assert documented_all - exercised == {("/v1/traces", "post", "503"), ("/v1/logs", "post", "503"),
                                          ("/readyz", "get", "503")}


def test_every_api_route_is_documented(db_path):
    from traceglass.server._openapi import openapi_schema

    app = create_app(db_path)
    try:
        api_paths = {r.path for r in app.app.routes
                     if getattr(r, "path", "").startswith(("/api/", "/v1/", "/healthz", "/readyz"))}
    finally:
        app.app.state.ingest.shutdown()
        app.app.state.store.close()
    document = openapi_schema()
    # A route's converter ({session_id:path}) is not part of the documented path.
    api_paths = {re.sub(r":\w+}", "}", p) for p in api_paths}
    assert {p.rstrip("/") for p in api_paths} == {p.rstrip("/") for p in document["paths"]}
    json.dumps(document)  # serializable as served


@pytest.mark.parametrize("field", ["start_ns", "end_ns", "input_tokens", "output_tokens", "cost_usd"])
def test_span_input_bounds_are_the_ones_post_enforces(server, field):
    """The documented minimum and maximum of each numeric SpanInput field: the bound itself is
    stored, one past it (either side) is refused with a 422 naming the field."""
    schema = get(server.url + "/openapi.json").json()["components"]["schemas"]["SpanInput"]["properties"][field]
    low, high = schema["minimum"], schema["maximum"]
    step = 1 if schema["type"] == "integer" else high * 1e-9
    base = {"name": f"bounds {field}"}
    if field == "end_ns":
        base["start_ns"] = 0
    for value, status in ((low, 200), (high, 200), (low - step, 422), (high + step, 422)):
        response = httpx.post(server.url + "/api/traces/", json={**base, field: value}, timeout=10)
        assert response.status_code == status, (field, value, response.text)
        if status == 422:
            assert field in response.json()["error"], response.text
