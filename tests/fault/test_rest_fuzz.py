"""Hostile input to every REST route: no 5xx, ever, and nothing stored that breaks a later read.

Hypothesis drives the ASGI app in-process (starlette's TestClient) over a real SQLite file; a server
error raises out of the client, so a failing example shows its traceback.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from traceglass.server import create_app

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRACE_IDS = ["ab" * 16, "cd" * 16]
SPAN_IDS = ["01" * 8, "02" * 8]
GROUPS = ["model", "type", "project", "user", "session", "day"]
LIST_PARAMS = ["project", "type", "trace_id", "session", "user", "model", "status", "since", "until", "q",
               "min_cost", "min_latency_ms", "limit", "cursor"]

# Query values: numbers near and far beyond every bound, times, ages, cursors and plain junk.
numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 500, 501, 2**63 - 1, 2**63, 2**64, -1]),
).map(str)
words = st.one_of(
    numbers,
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1h", "7d", "0s", "9999999999999999999999d", "2026-11-23",
                     "9999-12-31T23:59:59", "0001-01-01", "1970-01-01T00:00:00Z", "ok", "error", "", " ",
                     f"{2**63}.{'a' * 32}", f"-{2**70}.x", "1.2.3", "%", "_", "\\", "'; DROP TABLE spans; --"]),
    st.text(max_size=30),
)
queries = st.dictionaries(st.sampled_from([*LIST_PARAMS, "group_by", "colour"]), words, max_size=5)

# JSON values as hostile as JSON allows: huge integers, NaN and infinities, lone surrogates, nesting.
# Half of the draws are values at or beyond some limit (one_of picks its branches evenly).
SHARP = [float("nan"), float("inf"), float("-inf"), 2**63, 2**64, -(2**63) - 1, 2**63 - 1, 10**12 + 1, -1, 1e19,
         1e300, -1e300, "\ud800", "a\udfffb", "9999-12-31T23:59:59", "0001-01-01", "1e400", [float("inf")],
         {"k": float("nan")}, [2**70], 5e-324]
scalars = st.one_of(
    st.sampled_from(SHARP),
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["2026-11-23T10:00:00Z", 1_700_000_000, 1_700_000_000 * 10**9, "gpt-4o-mini", "OK",
                               "error", "CLIENT", 0, 1.5])),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8) | st.just("\ud800"), inner, max_size=3)),
    max_leaves=8)
FIELDS = ["name", "kind", "start", "end", "start_ns", "end_ns", "status", "status_message", "attributes",
          "events", "links", "resource", "project", "type", "model", "provider", "operation", "input_tokens",
          "output_tokens", "cost_usd", "session", "user", "error_type", "input", "output", "parent_id"]
USAGE_KEYS = ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cost",
              "traceglass.price.input_per_token", "gen_ai.request.model", "traceglass.rollup.cost_usd"]
attributes = st.dictionaries(st.sampled_from(USAGE_KEYS) | st.text(max_size=8), json_values, max_size=3)
events = st.lists(st.fixed_dictionaries({"name": st.text(max_size=8) | scalars},
                                        optional={"timestamp": scalars, "time_unix_nano": scalars,
                                                  "attributes": attributes | json_values}), max_size=2)
# Per field: values near its own bounds, and anything at all.
HOSTILE = {field: json_values for field in FIELDS}
HOSTILE.update({
    "attributes": attributes | json_values, "events": events | json_values, "resource": attributes | json_values,
    "links": st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=2), max_size=2) | json_values,
    "input_tokens": st.integers(min_value=-1, max_value=2**65) | scalars, "output_tokens": scalars,
    "cost_usd": st.floats(allow_nan=True, allow_infinity=True) | scalars,
    "start": st.floats(allow_nan=True, allow_infinity=True) | scalars, "end_ns": st.integers() | scalars,
})
# A valid span with one or two hostile fields, so each bad value meets the code on its own
# (a body full of problems is refused at the first and exercises little).
valid = st.fixed_dictionaries({"name": st.just("span"), "trace_id": st.sampled_from(TRACE_IDS),
                               "span_id": st.sampled_from(SPAN_IDS)},
                              optional={"model": st.sampled_from(["gpt-4o-mini", "acme-large"]),
                                        "input_tokens": st.integers(0, 5000), "type": st.just("llm")})
spans = st.builds(lambda base, bad: {**base, **bad}, valid,
                  st.lists(st.sampled_from(sorted(HOSTILE)), min_size=1, max_size=2, unique=True).flatmap(
                      lambda names: st.fixed_dictionaries({name: HOSTILE[name] for name in names})))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(tmp_path_factory.mktemp("fuzz") / "traces.db",
                     prices={"acme-large": {"input_per_1k": 1.0, "output_per_1k": 2.0}})
    with TestClient(app, base_url="http://localhost") as client:  # server errors raise out of the client
        yield client


def _reads_still_work(client: TestClient, trace_id: str | None = None) -> None:
    for group in GROUPS:
        response = client.get("/api/stats", params={"group_by": group})
        assert response.status_code == 200, response.text
    assert client.get("/api/traces/", params={"limit": "500"}).status_code == 200
    if trace_id is not None:
        assert client.get(f"/api/traces/{trace_id}").status_code == 200


@SETTINGS
@given(body=spans)
def test_post_never_fails_and_what_it_stores_stays_readable(client, body):
    response = client.post("/api/traces/", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), response.text
    assert isinstance(response.json().get("span", response.json().get("error")), (dict, str))
    if response.status_code == 200:
        _reads_still_work(client, response.json()["span"]["trace_id"])


@SETTINGS
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
       content_type=st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain", ""]))
def test_post_of_any_bytes_is_a_4xx_or_a_span(client, raw, content_type):
    response = client.post("/api/traces/", content=raw, headers={"content-type": content_type})
    assert response.status_code in (200, 400, 415, 422), response.text


@SETTINGS
@given(query=queries)
def test_list_never_fails(client, query):
    response = client.get("/api/traces/", params=query)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        error = response.json()["error"]
        assert any(name in error for name in query), (query, error)  # the message names the parameter


@SETTINGS
@given(query=queries)
def test_stats_never_fails(client, query):
    response = client.get("/api/stats", params=query)
    assert response.status_code in (200, 400), response.text


@SETTINGS
@given(segment=st.text(max_size=40) | st.sampled_from(TRACE_IDS) | st.just("ab" * 16 + "\u00e9"))
def test_get_trace_never_fails(client, segment):
    response = client.get("/api/traces/" + quote(segment.encode("utf-8", "surrogatepass"), safe=""))
    assert response.status_code in (200, 400, 404, 405), response.text
