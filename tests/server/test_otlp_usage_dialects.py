"""Spans from other instrumentations' dialects, received over OTLP: stored with their model and tokens.

The cost processor and the store read a span's usage through one reader (``traceglass._span_usage``),
so a span the server prices is also stored with the model and tokens it was priced by, and its
trace's totals show them.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from traceglass.store import TraceStore

PRICES = {"acme-large": {"input_per_1k": 1.0, "output_per_1k": 2.0}}
T0 = 1_700_000_000_000_000_000
TRACE = "5a" * 16


@pytest.fixture
def otlp_server(db_path, serve_app):
    return serve_app(db_path, prices=PRICES)


def _request(*spans: tuple[str, str | None, str, dict]) -> bytes:
    """One protobuf request; each span is (span id, parent id, name, attributes as key -> AnyValue dict)."""
    message = ExportTraceServiceRequest()
    resource = message.resource_spans.add()
    resource.resource.attributes.add(key="service.name", value={"string_value": "oi-app"})
    scope_spans = resource.scope_spans.add()
    for offset, (span_id, parent_id, name, attributes) in enumerate(spans):
        span = scope_spans.spans.add(trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(span_id), name=name,
                                     start_time_unix_nano=T0 + offset, end_time_unix_nano=T0 + 10**9 - offset)
        if parent_id is not None:
            span.parent_span_id = bytes.fromhex(parent_id)
        for key, value in attributes.items():
            span.attributes.add(key=key, value=value)
    return message.SerializeToString()


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/traces", content=body, headers={"content-type": "application/x-protobuf"},
                      timeout=10)


def test_an_openinference_span_is_stored_with_its_model_and_tokens_and_counts_in_its_trace(otlp_server, db_path):
    body = _request(
        ("0000000000000001", None, "agent", {"openinference.span.kind": {"string_value": "AGENT"}}),
        ("0000000000000002", "0000000000000001", "ChatCompletion", {
            "openinference.span.kind": {"string_value": "LLM"},
            "llm.model_name": {"string_value": "acme-large"},
            "llm.provider": {"string_value": "acme"},
            "llm.system": {"string_value": "acme"},
            "llm.token_count.prompt": {"int_value": 1000},
            "llm.token_count.completion": {"int_value": 500},
            "llm.token_count.total": {"int_value": 1500},
        }),
    )
    response = _post(otlp_server.url, body)
    assert response.status_code == 200, response.content

    with TraceStore(db_path) as store:
        trace = store.get_trace(TRACE)
    assert trace is not None
    chat = trace.span("ChatCompletion")
    # 1000 * $1/1K + 500 * $2/1K
    assert (chat.model, chat.provider, chat.input_tokens, chat.output_tokens, chat.total_tokens, chat.cost_usd) == (
        "acme-large", "acme", 1000, 500, 1500, 2.0)
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens, trace.cost_usd) == (1000, 500, 1500, 2.0)
    agent = trace.root
    assert (agent.name, agent.model, agent.input_tokens, agent.cost_usd) == ("agent", None, None, None)
    assert agent.attributes["traceglass.rollup.total_tokens"] == 1500

    page = httpx.get(f"{otlp_server.url}/api/traces/{TRACE}", timeout=10)
    assert page.status_code == 200
    shown = page.json()
    assert {key: shown[key] for key in ("input_tokens", "output_tokens", "total_tokens", "cost_usd")} == {
        "input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500, "cost_usd": 2.0}


@pytest.mark.parametrize(("dialect", "attributes"), [
    ("legacy gen_ai", {"gen_ai.system": {"string_value": "acme"},
                       "gen_ai.request.model": {"string_value": "acme-large"},
                       "gen_ai.usage.prompt_tokens": {"int_value": 1000},
                       "gen_ai.usage.completion_tokens": {"int_value": 500}}),
    ("OpenLLMetry", {"gen_ai.system": {"string_value": "acme"},
                     "gen_ai.request.model": {"string_value": "acme-large"},
                     "gen_ai.response.model": {"string_value": "acme-large-2025-01-01"},
                     "gen_ai.usage.prompt_tokens": {"int_value": 1000},
                     "gen_ai.usage.completion_tokens": {"int_value": 500},
                     "llm.usage.total_tokens": {"int_value": 1500}}),
])
def test_older_dialects_are_stored_as_priced(otlp_server, db_path, dialect, attributes):
    assert _post(otlp_server.url, _request(("0000000000000003", None, "chat", attributes))).status_code == 200
    with TraceStore(db_path) as store:
        trace = store.get_trace(TRACE)
    span = trace.span("chat")
    model = "acme-large-2025-01-01" if dialect == "OpenLLMetry" else "acme-large"
    assert (span.model, span.provider, span.input_tokens, span.output_tokens, span.cost_usd) == (
        model, "acme", 1000, 500, 2.0)
    assert (trace.input_tokens, trace.output_tokens, trace.cost_usd) == (1000, 500, 2.0)
