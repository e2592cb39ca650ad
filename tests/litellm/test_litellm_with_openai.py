"""LiteLLM over the openai SDK with both instrumentors on: two spans, one call's tokens and cost.

``text_completion`` reaches OpenAI through the ``openai`` SDK (litellm 1.110), so the OpenAI
instrumentor's span is the LiteLLM span's child. Both report the call's usage; the roll-up rule
(the innermost span that reports usage counts) prices the SDK span only, and the store's trace
totals count the call once.
"""

from __future__ import annotations

import litellm
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from traceglass.exporters.sqlite import SQLiteSpanExporter
from traceglass.instrumentors.openai import OpenAIInstrumentor
from traceglass.processors.cost import CostSpanProcessor
from traceglass.store import TraceStore


@pytest.fixture
def both(instrument, tmp_path):
    db = tmp_path / "traces.db"
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(SQLiteSpanExporter(db))))
    instrument(tracer_provider=provider)
    openai_instrumentor = OpenAIInstrumentor()
    openai_instrumentor.instrument(tracer_provider=provider)
    yield db, provider
    openai_instrumentor.uninstrument()
    provider.shutdown()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tokens_and_cost_are_counted_once(both, route, is_async):
    db, provider = both
    kwargs = {"model": "openai/gpt-3.5-turbo-instruct", "prompt": "Once", **route}
    if is_async:
        await litellm.atext_completion(**kwargs)
    else:
        litellm.text_completion(**kwargs)
    provider.force_flush()
    store = TraceStore(db)
    (summary,) = store.list_traces().traces
    trace = store.get_trace(summary.trace_id)
    (outer,) = trace.roots
    spans = {(s.name, s.parent_id == outer.span_id) for s in trace.spans}
    assert spans == {("text_completion gpt-3.5-turbo-instruct", False),  # LiteLLM's, the root
                     ("text_completion gpt-3.5-turbo-instruct", True)}  # the openai SDK's, its child
    inner = next(s for s in trace.spans if s.parent_id == outer.span_id)
    # Both report the call; the SDK span's usage counts, and only it is priced.
    assert (outer.attributes["gen_ai.usage.input_tokens"], inner.attributes["gen_ai.usage.input_tokens"]) == (4, 4)
    assert outer.cost_usd is None and "gen_ai.usage.cost" not in outer.attributes
    cost = inner.attributes["gen_ai.usage.cost"]
    assert cost > 0 and inner.cost_usd == pytest.approx(cost)
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (4, 4, pytest.approx(cost))
    assert outer.attributes["traceglass.rollup.cost_usd"] == pytest.approx(cost)
