"""Hostile input to the scores endpoints and the OTLP /v1/logs receiver: never a 5xx, bad input a 4xx, and
nothing invalid stored (every stored score passes the score model's checks again).

Hypothesis drives the ASGI app in-process (starlette's TestClient) over a real SQLite file; a server
error raises out of the client, so a failing example shows its traceback.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from traceglass._scores import BOOLEAN, CATEGORICAL, new_score
from traceglass.server import create_app

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRACE_IDS = ["ab" * 16, "CD" * 16]
SPAN_IDS = ["01" * 8, "02" * 8]
NAMES = ["helpfulness", "thumbs", "tone"]  # few names: values of another data type meet each other

SHARP = [float("nan"), float("inf"), float("-inf"), 2**63, 2**64, 10**400, -1, 1e308, 5e-324, True, False, None,
         "", " ", "\ud800", "a\udfffb", "\x00", "x" * 201, "c" * 10_001, "u" * 1_001, "ab" * 16, "00" * 16,
         "00" * 8, [], {}, [1], {"k": float("nan")}, {"k": "\ud800"}, {"k": "v" * 70_000}, {"1": {"2": [3]}}]
scalars = st.one_of(
    st.sampled_from(SHARP),
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["human", "api", "llm", "code", "eval", "robot", "good", "bad"])),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8) | st.just("\ud800"), inner, max_size=3)),
    max_leaves=8)
FIELDS = ["name", "value", "span_id", "comment", "source", "user_id", "metadata", "id", "trace_id", "colour"]
valid = st.fixed_dictionaries(
    {"name": st.sampled_from(NAMES),
     "value": st.one_of(st.floats(-10, 10), st.booleans(), st.sampled_from(["good", "bad"]))},
    optional={"span_id": st.sampled_from(SPAN_IDS), "comment": st.text(max_size=20),
              "source": st.sampled_from(["human", "api", "llm"]), "id": st.sampled_from(["s-1", "s-2", "s-3"])})
# A valid score with one or two hostile fields, so each bad value meets the code on its own.
bodies = st.builds(lambda base, bad: {**base, **bad}, valid,
                   st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True).flatmap(
                       lambda names: st.fixed_dictionaries({name: json_values for name in names})))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(tmp_path_factory.mktemp("fuzz") / "traces.db")


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url="http://localhost") as client:  # server errors raise out of the client
        yield client


def _all_scores(app: Any) -> dict[str, dict[str, Any]]:
    return {score.id: score.to_dict() for score in app.app.state.store.scores(limit=1_000_000)}


def _still_valid(score: dict[str, Any]) -> None:
    """A stored score is one the score model accepts as it is, and reads back as JSON."""
    value = score["label"] if score["data_type"] == CATEGORICAL else score["value"]
    if score["data_type"] == BOOLEAN:
        value = score["label"] == "true"
    again = new_score(score["name"], value, trace_id=score["trace_id"], span_id=score["span_id"],
                      comment=score["comment"], source=score["source"], user_id=score["user_id"],
                      metadata=score["metadata"], id=score["id"])
    assert {k: v for k, v in again.to_dict().items() if k != "created_at"} == {
        k: v for k, v in score.items() if k != "created_at"}
    json.dumps(score, allow_nan=False)


def _check_store(app: Any, client: TestClient, before: dict[str, dict[str, Any]], changed: bool) -> None:
    after = _all_scores(app)
    if not changed:
        assert after == before  # a refused request stores nothing, and updates nothing
    for score_id, score in after.items():
        if before.get(score_id) != score:
            _still_valid(score)
    assert client.get("/api/scores", params={"limit": "500"}).status_code == 200


@SETTINGS
@given(body=bodies, trace_id=st.sampled_from(TRACE_IDS))
def test_post_a_hostile_score(app, client, body, trace_id):
    before = _all_scores(app)
    response = client.post(f"/api/traces/{trace_id}/scores", headers={"content-type": "application/json"},
                           content=json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    assert response.status_code in (200, 201, 422), response.text
    if response.status_code == 422:
        answer = response.json()
        assert answer["error"] == "invalid score"
        assert answer["problems"] and all(set(p) == {"field", "message"} and all(isinstance(v, str) for v in p.values())
                                          for p in answer["problems"])
    else:
        assert response.json() == _all_scores(app)[response.json()["id"]]
    _check_store(app, client, before, changed=response.status_code != 422)


@SETTINGS
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
       content_type=st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain", ""]))
def test_post_any_bytes(app, client, raw, content_type):
    before = _all_scores(app)
    response = client.post(f"/api/traces/{TRACE_IDS[0]}/scores", content=raw,
                           headers={"content-type": content_type})
    assert response.status_code in (200, 201, 415, 422), response.text
    _check_store(app, client, before, changed=response.status_code in (200, 201))


@SETTINGS
# "." and ".." are no segments: the client resolves them away (RFC 3986), reaching another route.
@given(segment=st.text(max_size=40).filter(lambda s: s not in (".", ".."))
       | st.sampled_from([*TRACE_IDS, "s-1", "ab" * 16 + "\u00e9"]))
def test_hostile_path_segments(app, client, segment):
    quoted = quote(segment.encode("utf-8", "surrogatepass"), safe="")
    assert client.get(f"/api/traces/{quoted}/scores").status_code in (200, 404, 422)
    before = _all_scores(app)
    response = client.delete(f"/api/scores/{quoted}")
    assert response.status_code in (204, 404, 405), response.text
    assert len(_all_scores(app)) == len(before) - (response.status_code == 204)


@SETTINGS
@given(query=st.dictionaries(st.sampled_from(["name", "source", "since", "until", "trace_id", "limit", "cursor",
                                              "colour"]),
                             st.text(max_size=30) | st.sampled_from(["0", "501", "nan", "1h", "9" * 30, "ab" * 16,
                                                                     f"{2**63}.x", "1.2"]), max_size=4))
def test_list_scores_with_hostile_queries(client, query):
    response = client.get("/api/scores", params=query)
    assert response.status_code in (200, 400, 422), response.text


# -- /v1/logs: OTLP JSON records with hostile attributes ----------------------------------------
def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value if math.isfinite(value) else str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": _any_value(v)} for k, v in value.items()]}}
    return {"stringValue": "" if value is None else str(value)}


ATTRIBUTE_KEYS = ["gen_ai.evaluation.name", "gen_ai.evaluation.score.value", "gen_ai.evaluation.score.label",
                  "gen_ai.evaluation.explanation", "traceglass.score.id", "traceglass.score.source",
                  "traceglass.score.data_type", "traceglass.score.metadata", "user.id", "event.name"]
records = st.fixed_dictionaries(
    {"attributes": st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), json_values, max_size=6).map(
        lambda attrs: [{"key": k, "value": _any_value(v)} for k, v in attrs.items()])},
    optional={"eventName": st.sampled_from(["gen_ai.evaluation.result", "other", ""]),
              "traceId": st.sampled_from([*TRACE_IDS, "", "00" * 16, "ab"]),
              "spanId": st.sampled_from([*SPAN_IDS, "", "00" * 8]),
              "timeUnixNano": st.sampled_from(["0", "1700000000000000000", str(2**64 - 1), "-1", "x"]),
              "observedTimeUnixNano": st.sampled_from(["0", "1700000000000000000", str(2**63)]),
              "body": st.just({"kvlistValue": {"values": [{"key": "gen_ai.evaluation.name",
                                                           "value": {"stringValue": "from body"}}]}})})


@SETTINGS
@given(batch=st.lists(records, max_size=4))
def test_logs_with_hostile_records(app, client, batch):
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": batch}]}]}
    before = _all_scores(app)
    response = client.post("/v1/logs", content=json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                           headers={"content-type": "application/json"})
    assert response.status_code in (200, 400), response.text
    _check_store(app, client, before, changed=response.status_code == 200)


@SETTINGS
@given(raw=st.binary(max_size=200), path=st.sampled_from(["/v1/logs", "/v1/metrics"]),
       content_type=st.sampled_from(["application/x-protobuf", "application/json", "text/plain"]),
       encoding=st.sampled_from([None, "gzip", "br"]))
def test_logs_and_metrics_of_any_bytes(app, client, raw, path, content_type, encoding):
    before = _all_scores(app)
    headers = {"content-type": content_type, **({"content-encoding": encoding} if encoding else {})}
    response = client.post(path, content=raw, headers=headers)
    assert response.status_code in (200, 400, 415), response.text
    _check_store(app, client, before, changed=response.status_code == 200)
