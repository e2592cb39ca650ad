"""The OTLP/HTTP receiver: the real OTLP exporter in another process, and JSON/gzip requests by hand."""

from __future__ import annotations

import base64
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from traceglass.store import TraceStore

PRICES = {"acme-large": {"input_per_1k": 1.0, "output_per_1k": 2.0}}

# Runs in its own interpreter: a plain OpenTelemetry SDK app with the upstream OTLP/HTTP exporter,
# configured only through the standard environment variables.
EXPORTING_APP = textwrap.dedent("""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "otel-app", "deployment.environment": "test"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("acme.instrumentation", "1.2.3")
    with tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span("chat acme-large", kind=SpanKind.CLIENT) as chat:
            chat.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "acme",
                "gen_ai.request.model": "acme-large", "gen_ai.request.temperature": 0.2,
                "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                "gen_ai.response.finish_reasons": ["stop"], "gen_ai.request.stream": False,
            })
            chat.add_event("progress", {"step": 1})
        try:
            with tracer.start_as_current_span("execute_tool search") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                raise ValueError("index offline")
        except ValueError:
            pass
    print(format(agent.get_span_context().trace_id, "032x"), flush=True)
    provider.shutdown()
""")


@pytest.fixture
def otlp_server(db_path, serve_app):
    return serve_app(db_path, prices=PRICES)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_real_otlp_exporter_in_another_process(otlp_server, db_path, tmp_path, compression):
    script = tmp_path / "exporting_app.py"
    script.write_text(EXPORTING_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{otlp_server.url}/v1/traces",
                "OTEL_EXPORTER_OTLP_COMPRESSION": compression, "OTEL_EXPORTER_OTLP_TIMEOUT": "10"})
    done = subprocess.run([sys.executable, str(script)], env=env, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Failed to export" not in done.stderr, done.stderr
    trace_id = done.stdout.strip()

    with TraceStore(db_path) as store:
        trace = store.get_trace(trace_id)
    assert trace is not None
    assert (trace.name, trace.project, trace.span_count, trace.status) == ("invoke_agent planner", "otel-app", 3, "ERROR")
    root = trace.root
    assert [c.name for c in root.children] == ["chat acme-large", "execute_tool search"]
    chat, tool = root.children
    assert (chat.kind, chat.type, chat.model, chat.provider, chat.input_tokens, chat.output_tokens) == (
        "CLIENT", "llm", "acme-large", "acme", 1000, 500)
    # Priced by the cost processor's rules with the server's price table: 1000 * $1/1K + 500 * $2/1K.
    assert chat.cost_usd == pytest.approx(2.0)
    assert (trace.input_tokens, trace.output_tokens, trace.cost_usd) == (1000, 500, pytest.approx(2.0))
    assert {k: v for k, v in chat.attributes.items() if not k.startswith("traceglass.cost.")
            and k != "gen_ai.usage.cost"} == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "acme", "gen_ai.request.model": "acme-large",
        "gen_ai.request.temperature": 0.2, "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.request.stream": False,
        "traceglass.rollup.input_tokens": 1000, "traceglass.rollup.output_tokens": 500,
        "traceglass.rollup.total_tokens": 1500, "traceglass.rollup.cost_usd": 2.0,
    }
    # The agent span above it gets the roll-up of its subtree.
    assert root.attributes["traceglass.rollup.cost_usd"] == pytest.approx(2.0)
    assert [(e["name"], e["attributes"]) for e in chat.events] == [("progress", {"step": 1})]
    assert chat.resource == {"service.name": "otel-app", "deployment.environment": "test",
                             "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
                             "telemetry.sdk.version": chat.resource["telemetry.sdk.version"],
                             "service.instance.id": chat.resource["service.instance.id"]}
    assert len(chat.resource["service.instance.id"]) == 36
    assert (tool.status, tool.status_message, tool.type) == ("ERROR", "ValueError: index offline", "tool")
    assert [e["name"] for e in tool.events] == ["exception"]


@pytest.mark.parametrize(("header", "stored"), [("Bearer%20otlp-token", True), ("Bearer%20wrong", False)])
def test_real_otlp_exporter_presents_the_token_from_its_headers_variable(db_path, serve_app, tmp_path, header,
                                                                         stored):
    server = serve_app(db_path, token="otlp-token", prices=PRICES)
    script = tmp_path / "exporting_app.py"
    script.write_text(EXPORTING_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{server.url}/v1/traces",
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"Authorization={header}", "OTEL_EXPORTER_OTLP_TIMEOUT": "10"})
    done = subprocess.run([sys.executable, str(script)], check=False, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    with TraceStore(db_path) as store:
        assert (store.get_trace(done.stdout.strip()) is not None) is stored
    if not stored:
        assert "401" in done.stderr  # the exporter reports the refusal


def _json_request(span_id: str = "00f067aa0ba902b7", *, extra_spans: list | None = None) -> dict:
    """An OTLP/JSON body as the specification writes it: hex ids, lowerCamelCase, enum ints, AnyValue."""
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
        "scopeSpans": [{
            "scope": {"name": "hand.made", "version": "0.1"},
            "spans": [{
                "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id,
                "name": "chat acme-large", "kind": 3,
                "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001500000000",
                "attributes": [
                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                    {"key": "gen_ai.request.model", "value": {"stringValue": "acme-large"}},
                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "2000"}},
                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 250}},
                    {"key": "gen_ai.request.top_p", "value": {"doubleValue": 0.9}},
                    {"key": "gen_ai.request.stream", "value": {"boolValue": True}},
                    {"key": "gen_ai.request.stop_sequences",
                     "value": {"arrayValue": {"values": [{"stringValue": "END"}, {"stringValue": "STOP"}]}}},
                    {"key": "acme.options", "value": {"kvlistValue": {"values": [
                        {"key": "mode", "value": {"stringValue": "fast"}}]}}},
                    {"key": "acme.blob", "value": {"bytesValue": base64.b64encode(b"\x00\x01").decode()}},
                    {"key": "acme.future_field", "value": {"stringValue": "kept"}, "unknownField": 1},
                ],
                "events": [{"timeUnixNano": "1700000000500000000", "name": "gen_ai.content.prompt",
                            "attributes": [{"key": "n", "value": {"intValue": "1"}}]}],
                "status": {"code": 2, "message": "rate limited"},
                "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}],
            }, *(extra_spans or [])],
        }],
    }]}


def _post(url: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/traces", content=body, headers={"content-type": content_type, **headers}, timeout=10)


def _stored_json_span(db_path):
    with TraceStore(db_path) as store:
        trace = store.get_trace("5b8efff798038103d269b633813fc60c")
    assert trace is not None
    return trace.span("chat acme-large")


def _assert_json_span(span) -> None:
    assert (span.span_id, span.parent_id, span.kind, span.status, span.status_message) == (
        "00f067aa0ba902b7", None, "CLIENT", "ERROR", "rate limited")
    assert (span.start_ns, span.end_ns, span.duration_ms) == (1700000000000000000, 1700000001500000000, 1500.0)
    assert (span.project, span.model, span.input_tokens, span.output_tokens) == ("json-app", "acme-large", 2000, 250)
    assert span.cost_usd == pytest.approx(2.5)  # 2000 * $1/1K + 250 * $2/1K
    attributes = {k: v for k, v in span.attributes.items()
                  if not k.startswith(("traceglass.cost.", "traceglass.rollup.")) and k != "gen_ai.usage.cost"}
    assert attributes == {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-large",
        "gen_ai.usage.input_tokens": 2000, "gen_ai.usage.output_tokens": 250, "gen_ai.request.top_p": 0.9,
        "gen_ai.request.stream": True, "gen_ai.request.stop_sequences": ["END", "STOP"],
        "acme.options": '{"mode": "fast"}', "acme.blob": "AAE=", "acme.future_field": "kept",
    }
    assert span.events == [{"name": "gen_ai.content.prompt", "time_unix_nano": 1700000000500000000,
                            "attributes": {"n": 1}}]
    assert span.links == [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
                           "attributes": {}}]


def test_json_request_by_hand(otlp_server, db_path):
    response = _post(otlp_server.url, json.dumps(_json_request()).encode(), "application/json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    _assert_json_span(_stored_json_span(db_path))


def test_gzip_json_request_by_hand(otlp_server, db_path):
    body = gzip.compress(json.dumps(_json_request()).encode())
    response = _post(otlp_server.url, body, "application/json", **{"content-encoding": "gzip"})
    assert response.status_code == 200, response.text
    _assert_json_span(_stored_json_span(db_path))


def test_json_partial_success_keeps_the_valid_spans(otlp_server, db_path):
    bad = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "0000", "name": "short id"}
    response = _post(otlp_server.url, json.dumps(_json_request(extra_spans=[bad])).encode(), "application/json")
    assert response.status_code == 200
    assert response.json() == {"partialSuccess": {
        "rejectedSpans": "1",
        "errorMessage": "span 'short id': trace_id must be 16 bytes and span_id 8 bytes, neither all zero"}}
    _assert_json_span(_stored_json_span(db_path))
    with TraceStore(db_path) as store:
        assert store.count() == {"traces": 1, "spans": 1}


def test_protobuf_partial_success_response(otlp_server, db_path):
    message = ExportTraceServiceRequest()
    scope_spans = message.resource_spans.add().scope_spans.add()
    good = scope_spans.spans.add(trace_id=bytes.fromhex("11" * 16), span_id=bytes.fromhex("22" * 8), name="good",
                                 start_time_unix_nano=1_700_000_000_000_000_000,
                                 end_time_unix_nano=1_700_000_000_100_000_000)
    good.attributes.add(key="k", value={"int_value": 7})
    scope_spans.spans.add(trace_id=bytes(16), span_id=bytes.fromhex("33" * 8), name="zero trace id")
    response = _post(otlp_server.url, gzip.compress(message.SerializeToString()), "application/x-protobuf",
                     **{"content-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(response.content)
    assert parsed.partial_success.rejected_spans == 1
    assert "zero trace id" in parsed.partial_success.error_message
    with TraceStore(db_path) as store:
        span = store.get_trace("11" * 16).span("good")
    assert (span.attributes, span.duration_ms, span.kind) == ({"k": 7}, 100.0, "INTERNAL")


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "message"),
    [
        (b"\xff\xff\xff", "application/x-protobuf", {}, 400, "not a protobuf ExportTraceServiceRequest"),
        (b"{oops", "application/json", {}, 400, "body is not valid JSON"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', "application/json", {}, 400,
         "traceId must be a hex string, got 'xyz'"),
        (b"[1]", "application/json", {}, 400, "body must be a JSON object with resourceSpans"),
        (b"[" * 50_000, "application/json", {}, 400, "body is not valid JSON"),
        (b"not gzip", "application/json", {"content-encoding": "gzip"}, 400, "body is not valid gzip data"),
        (b"{}", "application/json", {"content-encoding": "br"}, 400, "unsupported Content-Encoding 'br'"),
    ],
)
def test_undecodable_requests_get_400_with_a_status_body(otlp_server, db_path, body, content_type, headers, status,
                                                         message):
    response = _post(otlp_server.url, body, content_type, **headers)
    assert response.status_code == status
    if content_type == "application/json":
        assert response.json()["code"] == 3
        assert message in response.json()["message"]
    else:
        assert message in status_pb2.Status.FromString(response.content).message


def test_unsupported_content_type_is_415(otlp_server):
    response = _post(otlp_server.url, b"spans", "text/plain")
    assert response.status_code == 415
    assert "unsupported Content-Type 'text/plain'" in response.json()["message"]


def test_empty_request_is_accepted(otlp_server, db_path):
    response = _post(otlp_server.url, ExportTraceServiceRequest().SerializeToString(), "application/x-protobuf")
    assert response.status_code == 200
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()


def test_body_limits_apply_to_compressed_and_decompressed_sizes(db_path, serve_app):
    server = serve_app(db_path, max_body_bytes=10_000)
    too_big = _post(server.url, b"x" * 20_000, "application/x-protobuf")
    assert too_big.status_code == 413
    assert too_big.json() == {"error": "request body is larger than 10000 bytes"}
    bomb = gzip.compress(b"\x00" * 5_000_000)  # ~5 KB on the wire, 5 MB inflated
    assert len(bomb) < 10_000
    response = _post(server.url, bomb, "application/x-protobuf", **{"content-encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed body is larger than 10000 bytes" in status_pb2.Status.FromString(response.content).message


# --- values the store cannot hold: dropped or rejected alone, never a retryable status --------------
def _protobuf_request(*spans: dict) -> bytes:
    """One request with ``spans`` (keyword arguments of ``Span`` plus ``attributes``: key -> AnyValue dict)."""
    message = ExportTraceServiceRequest()
    scope_spans = message.resource_spans.add().scope_spans.add()
    for fields in spans:
        fields = dict(fields)
        attributes = fields.pop("attributes", {})
        span = scope_spans.spans.add(**fields)
        for key, value in attributes.items():
            span.attributes.add(key=key, value=value)
    return message.SerializeToString()


T0 = 1_700_000_000_000_000_000


def test_unstorable_values_are_dropped_and_a_span_beyond_2262_is_rejected_alone(otlp_server, db_path):
    trace = bytes.fromhex("44" * 16)
    body = _protobuf_request(
        {"trace_id": trace, "span_id": bytes.fromhex("01" * 8), "name": "chat acme-large",
         "start_time_unix_nano": T0, "end_time_unix_nano": T0 + 10**9,
         "attributes": {"gen_ai.request.model": {"string_value": "acme-large"},
                        "gen_ai.usage.input_tokens": {"int_value": 1000},
                        "gen_ai.usage.output_tokens": {"double_value": 1e19},  # beyond 64 bits
                        "gen_ai.usage.cost": {"double_value": float("inf")},
                        "traceglass.price.input_per_token": {"double_value": float("nan")},
                        "ratio": {"double_value": float("-inf")},
                        "scores": {"array_value": {"values": [{"double_value": 1.0},
                                                              {"double_value": float("nan")}]}},
                        "kept": {"double_value": 0.5}}},
        {"trace_id": trace, "span_id": bytes.fromhex("02" * 8), "name": "from the future",
         "start_time_unix_nano": 2**64 - 1, "end_time_unix_nano": 2**64 - 1},
    )
    response = _post(otlp_server.url, body, "application/x-protobuf")
    assert response.status_code == 200, response.content
    assert "retry-after" not in response.headers
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1
    assert partial.error_message.split("; ") == [
        "span 'from the future': start and end times must be at most 9223372036854775807 (ns since 1970, "
        "before 2262)",
        "span 'chat acme-large': attribute 'gen_ai.usage.output_tokens' must be a token count between 0 and "
        "1e+12, got 1e+19 (dropped)",
        "span 'chat acme-large' attribute 'gen_ai.usage.cost' must be a finite number, got inf (dropped)",
        "span 'chat acme-large' attribute 'traceglass.price.input_per_token' must be a finite number, got nan "
        "(dropped)",
        "span 'chat acme-large' attribute 'ratio' must be a finite number, got -inf (dropped)",
        "and 1 more",
    ]
    with TraceStore(db_path) as store:
        assert store.count() == {"traces": 1, "spans": 1}
        span = store.get_trace("44" * 16).span("chat acme-large")
    assert {k: v for k, v in span.attributes.items() if not k.startswith(("traceglass.", "gen_ai.usage.cost"))} == {
        "gen_ai.request.model": "acme-large", "gen_ai.usage.input_tokens": 1000, "kept": 0.5}
    assert (span.input_tokens, span.output_tokens, span.cost_usd) == (1000, None, pytest.approx(1.0))  # repriced
    # The trace page and every statistic still answer.
    assert httpx.get(f"{otlp_server.url}/api/traces/{'44' * 16}", timeout=10).status_code == 200
    for group in ("model", "type", "project", "day"):
        assert httpx.get(f"{otlp_server.url}/api/stats", params={"group_by": group}, timeout=10).status_code == 200


def test_json_values_the_protobuf_mapping_refuses_cost_only_their_span_or_value(otlp_server, db_path):
    def span(span_id: str, name: str, **fields) -> dict:
        return {"traceId": "55" * 16, "spanId": span_id, "name": name, "startTimeUnixNano": str(T0),
                "endTimeUnixNano": str(T0 + 1000), **fields}

    body = {"resourceSpans": [{"scopeSpans": [{"spans": [
        span("01" * 8, "good", attributes=[{"key": "big", "value": {"intValue": "9223372036854775808"}},
                                          {"key": "inf", "value": {"doubleValue": "Infinity"}},
                                          {"key": "ok", "value": {"intValue": "7"}}],
             events=[{"name": "late", "timeUnixNano": "99999999999999999999999"}]),
        span("02" * 8, "bad start", startTimeUnixNano="18446744073709551616"),
    ]}]}]}
    response = _post(otlp_server.url, json.dumps(body).encode(), "application/json")
    assert response.status_code == 200, response.text
    assert response.json() == {"partialSuccess": {"rejectedSpans": "1", "errorMessage": "; ".join([
        "span 'bad start': start and end times must be at most 9223372036854775807 (ns since 1970, before 2262)",
        "an integer attribute value '9223372036854775808' is not a 64-bit integer (dropped)",
        "span 'good': event 'late' time 18446744073709551615 is after 2262 (set to the span's start)",
        "span 'good' attribute 'inf' must be a finite number, got inf (dropped)"])}}
    with TraceStore(db_path) as store:
        [stored] = store.get_trace("55" * 16).spans
    assert (stored.name, stored.attributes) == ("good", {"ok": 7})
    assert stored.events == [{"name": "late", "time_unix_nano": T0, "attributes": {}}]


def test_an_end_before_the_start_is_clamped_to_the_start(otlp_server, db_path):
    body = _protobuf_request({"trace_id": bytes.fromhex("66" * 16), "span_id": bytes.fromhex("01" * 8),
                              "name": "skewed clock", "start_time_unix_nano": T0, "end_time_unix_nano": T0 - 5})
    assert _post(otlp_server.url, body, "application/x-protobuf").status_code == 200
    with TraceStore(db_path) as store:
        [span] = store.get_trace("66" * 16).spans
    assert (span.start_ns, span.end_ns, span.duration_ms) == (T0, T0, 0.0)


def test_a_locked_database_is_answered_503_within_seconds_not_after_the_exporters_30(otlp_server, db_path):
    # The receiver retries a locked store for a few seconds only: an HTTP client waiting ~31 s (the
    # exporter's bound) would time out itself instead of getting the retryable 503.
    assert _post(otlp_server.url, json.dumps(_json_request()).encode(), "application/json").status_code == 200
    holder = sqlite3.connect(str(db_path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        # _post waits 10 s at most for the answer.
        response = _post(otlp_server.url, json.dumps(_json_request("00f067aa0ba902b8")).encode(), "application/json")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    # A google.rpc.Status in the request's encoding: UNAVAILABLE, the one code an exporter retries.
    assert response.json() == {"code": 14, "message": "the trace database could not be written; retry later"}
    # Once the lock is gone the client's retry is stored.
    retry = _post(otlp_server.url, json.dumps(_json_request("00f067aa0ba902b8")).encode(), "application/json")
    assert retry.status_code == 200
    with TraceStore(db_path, read_only=True) as store:
        assert store.count() == {"traces": 1, "spans": 2}


def test_json_spans_the_mapping_refuses_are_rejected_alone_and_the_rest_is_stored(otlp_server, db_path):
    def span(span_id: str, name: str, **fields) -> dict:
        return {"traceId": "66" * 16, "spanId": span_id, "name": name, "startTimeUnixNano": str(T0),
                "endTimeUnixNano": str(T0 + 1000), **fields}

    body = {"resourceSpans": [
        {"scopeSpans": [{"spans": [
            span("01" * 8, "good"),
            span("02" * 8, "negative count", droppedAttributesCount=-1),
            span("03" * 8, "text double", attributes=[{"key": "k", "value": {"doubleValue": "abc"}}]),
            span("04" * 8, "bad link", links=[{"traceId": "66" * 16, "spanId": "05" * 8, "flags": -1}]),
        ]}]},
        {"resource": {"droppedAttributesCount": -3}, "scopeSpans": [{"spans": [span("06" * 8, "under a bad resource")]}]},
        {"scopeSpans": [{"scope": {"name": 7}, "spans": [span("07" * 8, "under a bad scope")]},
                        {"spans": [span("08" * 8, "good too")]}]},
    ]}
    response = _post(otlp_server.url, json.dumps(body).encode(), "application/json")
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "5"
    message = partial["errorMessage"]
    for name in ("'negative count'", "'text double'", "'bad link'"):
        assert f"span {name}: not an OTLP JSON span" in message
    assert "a span of a resource the JSON mapping refuses" in message
    with TraceStore(db_path) as store:
        stored = sorted(s.name for s in store.get_trace("66" * 16).spans)
    assert stored == ["good", "good too"]


def test_a_json_body_whose_structure_is_wrong_is_still_refused_whole(otlp_server):
    body = {"resourceSpans": [{"scopeSpans": {"spans": "not a list"}}], "extra": {"droppedAttributesCount": -1}}
    body["resourceSpans"].append({"scopeSpans": [{"spans": [{"traceId": "77" * 16, "spanId": "01" * 8,
                                                            "droppedAttributesCount": -1}]}]})
    response = _post(otlp_server.url, json.dumps(body).encode(), "application/json")
    assert response.status_code == 400
    assert "body is not an OTLP JSON ExportTraceServiceRequest" in response.json()["message"]


def test_a_lone_surrogate_in_json_becomes_one_replacement_character(otlp_server, db_path):
    span = {"traceId": "88" * 16, "spanId": "01" * 8, "name": "n\ud800me", "startTimeUnixNano": str(T0),
            "endTimeUnixNano": str(T0 + 1000), "attributes": [{"key": "k", "value": {"stringValue": "a\udfffb"}}]}
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()  # \ud800 escapes
    response = _post(otlp_server.url, body, "application/json")
    assert response.status_code == 200, response.text
    with TraceStore(db_path) as store:
        [stored] = store.get_trace("88" * 16).spans
    assert (stored.name, stored.attributes) == ("n\ufffdme", {"k": "a\ufffdb"})
