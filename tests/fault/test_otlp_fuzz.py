"""Hostile OTLP/HTTP export requests (protobuf and JSON): no 5xx, ever, and what is stored stays readable.

Every request here is permanently good or bad, so the answer is never one an exporter retries
(429, 502, 503, 504): a decodable request is a 200, with partial_success for what it could not keep.
"""

from __future__ import annotations

import gzip
import json

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.testclient import TestClient

from traceglass.server import create_app

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROTOBUF, JSON = "application/x-protobuf", "application/json"
TRACE_IDS = [bytes.fromhex("ab" * 16), bytes.fromhex("cd" * 16)]
GROUPS = ["model", "type", "project", "user", "session", "day"]
UINT64 = st.one_of(st.sampled_from([0, 1, 1_700_000_000 * 10**9, 2**63 - 1, 2**63, 2**64 - 1]),
                   st.integers(min_value=0, max_value=2**64 - 1))
INT64 = st.one_of(st.sampled_from([-(2**63), 2**63 - 1, -1, 0, 10**12 + 1]),
                  st.integers(min_value=-(2**63), max_value=2**63 - 1))
DOUBLES = st.one_of(st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e19, 1e300, -0.0, 5e-324]),
                    st.floats(allow_nan=True, allow_infinity=True))
KEYS = st.sampled_from(["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cost",
                        "gen_ai.request.model", "gen_ai.response.model", "traceglass.price.input_per_token",
                        "traceglass.price.output_per_token", "gen_ai.operation.name", "service.name",
                        "traceglass.span.type", "session.id"]) | st.text(max_size=8)


def any_values(depth: int = 2) -> st.SearchStrategy[dict]:
    scalars = st.one_of(
        st.builds(lambda v: {"string_value": v}, st.text(max_size=10) | st.sampled_from(["gpt-4o-mini", "llm"])),
        st.builds(lambda v: {"int_value": v}, INT64), st.builds(lambda v: {"double_value": v}, DOUBLES),
        st.builds(lambda v: {"bool_value": v}, st.booleans()), st.builds(lambda v: {"bytes_value": v}, st.binary(max_size=8)),
        st.just({}),
    )
    if depth == 0:
        return scalars
    inner = any_values(depth - 1)
    return st.one_of(
        scalars,
        st.builds(lambda vs: {"array_value": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(lambda kv: {"kvlist_value": {"values": [{"key": k, "value": v} for k, v in kv.items()]}},
                  st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    )


key_values = st.dictionaries(KEYS, any_values(), max_size=4).map(
    lambda d: [{"key": k, "value": v} for k, v in d.items()])
spans = st.fixed_dictionaries(
    {"trace_id": st.sampled_from(TRACE_IDS) | st.binary(max_size=17),
     "span_id": st.binary(min_size=8, max_size=8) | st.binary(max_size=9),
     "start_time_unix_nano": UINT64, "end_time_unix_nano": UINT64},
    optional={"name": st.text(max_size=10), "parent_span_id": st.binary(max_size=9), "kind": st.integers(0, 9),
              "flags": st.integers(0, 2**32 - 1), "attributes": key_values,
              "events": st.lists(st.fixed_dictionaries({"time_unix_nano": UINT64, "name": st.text(max_size=5)},
                                                       optional={"attributes": key_values}), max_size=2),
              "links": st.lists(st.fixed_dictionaries(
                  {"trace_id": st.binary(max_size=17), "span_id": st.binary(max_size=9)},
                  optional={"attributes": key_values}), max_size=2),
              "status": st.fixed_dictionaries({"code": st.integers(0, 5), "message": st.text(max_size=5)})},
)
requests = st.fixed_dictionaries({"resource_spans": st.lists(st.fixed_dictionaries(
    {"resource": st.fixed_dictionaries({"attributes": key_values}),
     "scope_spans": st.lists(st.fixed_dictionaries({"spans": st.lists(spans, max_size=3)}), max_size=2)}),
    min_size=1, max_size=2)}).map(lambda data: _message(data))


def _message(data: dict) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    for rs in data["resource_spans"]:
        resource_spans = message.resource_spans.add()
        for kv in rs["resource"]["attributes"]:
            resource_spans.resource.attributes.add(key=kv["key"], value=kv["value"])
        for ss in rs["scope_spans"]:
            scope_spans = resource_spans.scope_spans.add()
            for fields in ss["spans"]:
                fields = dict(fields)
                nested = {k: fields.pop(k) for k in ("attributes", "events", "links", "status") if k in fields}
                span = scope_spans.spans.add(**fields)
                for kv in nested.get("attributes", []):
                    span.attributes.add(key=kv["key"], value=kv["value"])
                for event in nested.get("events", []):
                    added = span.events.add(time_unix_nano=event["time_unix_nano"], name=event["name"])
                    for kv in event.get("attributes", []):
                        added.attributes.add(key=kv["key"], value=kv["value"])
                for link in nested.get("links", []):
                    added = span.links.add(trace_id=link["trace_id"], span_id=link["span_id"])
                    for kv in link.get("attributes", []):
                        added.attributes.add(key=kv["key"], value=kv["value"])
                if "status" in nested:
                    span.status.code = nested["status"]["code"]
                    span.status.message = nested["status"]["message"]
    return message


def _otlp_json(message: ExportTraceServiceRequest) -> dict:
    """The OTLP JSON encoding (hex ids, not the protobuf mapping's base64)."""
    import base64

    def fix(node):
        if isinstance(node, list):
            return [fix(item) for item in node]
        if isinstance(node, dict):
            return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                        else fix(v)) for k, v in node.items()}
        return node

    return fix(json_format.MessageToDict(message))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(tmp_path_factory.mktemp("otlp-fuzz") / "traces.db",
                     prices={"acme-large": {"input_per_1k": 1.0, "output_per_1k": 2.0}})
    with TestClient(app, base_url="http://localhost") as client:  # server errors raise out of the client
        yield client


def _reads_still_work(client: TestClient) -> None:
    # The reads one bad stored value used to break for good: stats by span type, and the trace page.
    for group in ("type", "model"):
        assert client.get("/api/stats", params={"group_by": group}).status_code == 200
    for trace_id in TRACE_IDS:
        assert client.get(f"/api/traces/{trace_id.hex()}").status_code in (200, 404)


def _accepted(response, content_type: str) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == content_type
    if content_type == PROTOBUF:
        return ExportTraceServiceResponse.FromString(response.content)
    return json_format.ParseDict(response.json(), ExportTraceServiceResponse())


@SETTINGS
@given(message=requests)
def test_any_protobuf_request_is_stored_or_partially_rejected(client, message):
    response = client.post("/v1/traces", content=message.SerializeToString(), headers={"content-type": PROTOBUF})
    answer = _accepted(response, PROTOBUF)
    sent = sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    assert 0 <= answer.partial_success.rejected_spans <= sent
    _reads_still_work(client)


# JSON-only hostility: values the protobuf mapping itself refuses, as text.
JSON_MENDS = st.sampled_from([
    ("startTimeUnixNano", "18446744073709551616"), ("startTimeUnixNano", "-1"), ("endTimeUnixNano", "1e30"),
    ("startTimeUnixNano", "abc"), ("attributes", [{"key": "k", "value": {"intValue": "9223372036854775808"}}]),
    ("attributes", [{"key": "k", "value": {"doubleValue": "NaN"}}]),
    ("attributes", [{"key": "gen_ai.usage.cost", "value": {"doubleValue": "Infinity"}}]),
    ("attributes", [{"key": "\ud800", "value": {"stringValue": "x\udfff"}}]), ("name", "\ud800"),
    ("events", [{"timeUnixNano": "99999999999999999999", "name": "e"}]), ("kind", 99), ("unknownField", [1]),
])


@SETTINGS
@given(message=requests, mends=st.lists(JSON_MENDS, max_size=2), gzipped=st.booleans())
def test_any_json_request_is_stored_or_partially_rejected(client, message, mends, gzipped):
    data = _otlp_json(message)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                span.update(dict(mends))
    body = json.dumps(data).encode()
    headers = {"content-type": JSON}
    if gzipped:
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    response = client.post("/v1/traces", content=body, headers=headers)
    _accepted(response, JSON)
    _reads_still_work(client)


@SETTINGS
@given(body=st.binary(max_size=300), content_type=st.sampled_from([PROTOBUF, JSON, "text/plain"]),
       encoding=st.sampled_from([None, "gzip", "deflate", "br"]))
def test_any_bytes_are_a_200_or_a_permanent_4xx(client, body, content_type, encoding):
    headers = {"content-type": content_type, **({"content-encoding": encoding} if encoding else {})}
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code in (200, 400, 413, 415), response.content
    assert "retry-after" not in response.headers


def test_every_stored_trace_reads_back_after_the_fuzzing(client):
    # Runs after the fuzz tests of this module (same store): every group and every page still answers.
    for group in GROUPS:
        assert client.get("/api/stats", params={"group_by": group}).status_code == 200
    page = client.get("/api/traces/", params={"limit": "500"})
    assert page.status_code == 200
    for row in page.json()["traces"]:
        assert client.get(f"/api/traces/{row['trace_id']}").status_code == 200
