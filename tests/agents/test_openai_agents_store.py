"""The Agents SDK with our OpenAI instrumentor on too: each model call one span, counted once.

The SDK's ``response`` span and the openai SDK call inside it report the same call. The OpenAI
instrumentor's span stands in for the SDK's (it has the provider's exact usage), so the stored
trace has one model-call span per call and its totals count each call once.
"""

from __future__ import annotations

import pytest
from agents import Agent, Runner
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from traceglass.exporters.sqlite import SQLiteSpanExporter
from traceglass.instrumentors.openai import OpenAIInstrumentor
from traceglass.instrumentors.openai_agents import OpenAIAgentsInstrumentor
from traceglass.processors.cost import CostSpanProcessor
from traceglass.store import TraceStore

from ._agents_support import responses_model
from ._fake_responses import INPUT_TOKENS, OUTPUT_TOKENS
from .test_openai_agents import get_weather


@pytest.fixture(params=["agents only", "agents and openai"])
def stored(request, tmp_path):
    db = tmp_path / "traces.db"
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(SQLiteSpanExporter(db))))
    agents_instrumentor = OpenAIAgentsInstrumentor()
    agents_instrumentor.instrument(tracer_provider=provider, exclusive=True)
    openai_instrumentor = OpenAIInstrumentor()
    if request.param == "agents and openai":
        openai_instrumentor.instrument(tracer_provider=provider)
    yield db, provider, request.param
    openai_instrumentor.uninstrument()
    agents_instrumentor.uninstrument()
    provider.shutdown()


def test_each_model_call_is_one_span_and_counted_once(stored, responses_server):
    db, provider, mode = stored
    agent = Agent(name="weather", instructions="w", tools=[get_weather], model=responses_model(responses_server.base_url))
    Runner.run_sync(agent, "weather?")
    provider.force_flush()
    store = TraceStore(db)
    (summary,) = store.list_traces().traces
    stored_trace = store.get_trace(summary.trace_id)
    by_id = {s.span_id: s for s in stored_trace.spans}
    # The OpenAI instrumentor's span names the request model; the SDK's knows only the response's.
    call = "chat gpt-4o" if mode == "agents and openai" else "chat gpt-4o-2024-08-06"
    assert sorted((s.name, by_id[s.parent_id].name if s.parent_id in by_id else None) for s in stored_trace.spans) \
        == sorted([("invoke_workflow Agent workflow", None),
                   ("invoke_agent weather", "invoke_workflow Agent workflow"),
                   (call, "invoke_agent weather"),
                   ("execute_tool get_weather", "invoke_agent weather"),
                   (call, "invoke_agent weather")])
    assert (summary.input_tokens, summary.output_tokens) == (2 * INPUT_TOKENS, 2 * OUTPUT_TOKENS)
    costs = [s.cost_usd for s in stored_trace.spans if s.name == call]
    assert len(costs) == 2 and all(c is not None and c > 0 for c in costs)
    assert summary.cost_usd == pytest.approx(sum(costs))
    (root,) = stored_trace.roots
    assert root.attributes["traceglass.rollup.input_tokens"] == 2 * INPUT_TOKENS
    assert root.attributes["traceglass.rollup.cost_usd"] == pytest.approx(sum(costs))
