"""A decorator's price reaches the call it names: the instrumented call inside is priced with it, only
that span carries the call's cost, and roll-ups, the cost counter and the store's totals agree.

The real ``openai`` SDK (instrumented by traceglass) runs over the fake API inside decorated functions.
The fake answers every chat call with 20 input tokens (8 of them cached) and 5 output tokens.
"""

from __future__ import annotations

import openai
import pytest
from openai import _base_client
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import traceglass
from traceglass import observe, trace_llm
from traceglass.exporters.sqlite import SQLiteSpanExporter
from traceglass.instrumentors.openai import OpenAIInstrumentor
from traceglass.store import TraceStore

from ..openai._fake_api import mock_transport

HTTPX = getattr(_base_client, "httpx2", None) or _base_client.httpx
HI = [{"role": "user", "content": "hi"}]
TABLE = {"gpt-4o-mini": {"input_per_1k": 0.00015, "output_per_1k": 0.0006}}
COST_PREFIXES = ("gen_ai.usage.cost", "traceglass.cost.", "traceglass.price.", "traceglass.rollup.")


@pytest.fixture
def client():
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield openai.OpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0,
                        http_client=HTTPX.Client(transport=mock_transport(HTTPX)))
    instrumentor.uninstrument()


def costs(pipeline) -> dict[str, list[dict]]:
    """Per span name, the cost, price and roll-up attributes of each span of that name."""
    out: dict[str, list[dict]] = {}
    for span in pipeline.spans():
        out.setdefault(span["name"], []).append(
            {k: v for k, v in span["attributes"].items() if k.startswith(COST_PREFIXES)})
    return out


def priced(total: float, input_usd: float, output_usd: float, source: str = "span", **more) -> dict:
    return {"gen_ai.usage.cost": total, "traceglass.cost.input_usd": input_usd,
            "traceglass.cost.output_usd": output_usd, "traceglass.cost.cached_input_usd": more.pop("cached", 0.0),
            "traceglass.cost.total_usd": total, "traceglass.cost.source": source, **more}


def rollup(input_tokens: int, output_tokens: int, cost: float) -> dict:
    return {"traceglass.rollup.input_tokens": input_tokens, "traceglass.rollup.output_tokens": output_tokens,
            "traceglass.rollup.total_tokens": input_tokens + output_tokens, "traceglass.rollup.cost_usd": cost}


def cost_sum(pipeline) -> float:
    """What Langfuse and others do: sum the cost key over every span."""
    return round(sum(s["attributes"].get("gen_ai.usage.cost", 0.0) for s in pipeline.spans()), 12)


# $1 per 1K input tokens and $2 per 1K output tokens: 20 * 0.001 + 5 * 0.002 = $0.03 per call (an input
# override prices the cached tokens too).
USER_PRICE = {"traceglass.price.input_per_token": 0.001, "traceglass.price.output_per_token": 0.002}
CALL = priced(0.03, 0.02, 0.01, cached=0.008, **USER_PRICE, **rollup(20, 5, 0.03))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_trace_llm_price_reaches_the_client_span_inside(make_pipeline, client, stream):
    pipeline = make_pipeline(prices=TABLE)

    @trace_llm(name="generate", model="gpt-4o-mini", cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    def generate():
        if stream:  # consumed inside: the client span ends first
            return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                model="gpt-4o-mini", messages=HI, stream=True))
        return client.chat.completions.create(model="gpt-4o-mini", messages=HI)  # the decorator reads its usage too

    generate()
    assert costs(pipeline) == {
        "chat gpt-4o-mini": [CALL],
        # the function's own span keeps the price it was given, and rolls up the call; no cost of its own
        "generate": [{**USER_PRICE, **rollup(20, 5, 0.03)}],
    }
    assert cost_sum(pipeline) == 0.03
    (counter,) = pipeline.metrics()["traceglass.gen_ai.client.cost"]
    assert counter["value"] == 0.03


def test_observe_price_applies_to_every_call_inside_a_chain(make_pipeline, client):
    pipeline = make_pipeline(prices=TABLE)

    @observe(type="chain", name="answer", cost_per_input_token=0.001, cost_per_output_token=0.002)
    def answer():
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)
        with traceglass.span("rerank", type="tool"):
            client.chat.completions.create(model="gpt-4o-mini", messages=HI)

    answer()
    assert costs(pipeline) == {
        "chat gpt-4o-mini": [CALL, CALL],
        "rerank": [rollup(20, 5, 0.03)],  # a span between: the price passes through it
        "answer": [{**USER_PRICE, **rollup(40, 10, 0.06)}],
    }
    assert cost_sum(pipeline) == 0.06


def test_one_direction_given_the_other_from_the_table(make_pipeline, client):
    pipeline = make_pipeline(prices=TABLE)

    @trace_llm(name="generate", cost_per_1k_input=1.0)
    def generate():
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)

    generate()
    # output from the table: 5 * 0.0006 / 1000
    expected = priced(0.020003, 0.02, 3e-06, cached=0.008, **{"traceglass.price.input_per_token": 0.001},
                      **rollup(20, 5, 0.020003))
    assert costs(pipeline) == {
        "chat gpt-4o-mini": [expected],
        "generate": [{"traceglass.price.input_per_token": 0.001, **rollup(20, 5, 0.020003)}],
    }


def test_the_innermost_price_wins_per_direction(make_pipeline, client):
    pipeline = make_pipeline(prices=TABLE)

    @trace_llm(name="inner", cost_per_1k_output=4.0)
    def inner():
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)

    @trace_llm(name="outer", cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    def outer():
        inner()

    outer()
    # input from outer ($0.001), output from inner ($0.004): 0.02 + 0.02
    assert costs(pipeline)["chat gpt-4o-mini"] == [
        priced(0.04, 0.02, 0.02, cached=0.008, **{"traceglass.price.input_per_token": 0.001,
                                    "traceglass.price.output_per_token": 0.004}, **rollup(20, 5, 0.04))]
    assert costs(pipeline)["outer"] == [{**USER_PRICE, **rollup(20, 5, 0.04)}]


def test_spans_outside_keep_table_prices(make_pipeline, client):
    pipeline = make_pipeline(prices=TABLE)

    @trace_llm(name="generate", cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    def generate():
        client.chat.completions.create(model="gpt-4o-mini", messages=HI)

    generate()
    client.chat.completions.create(model="gpt-4o-mini", messages=HI)  # after: the table's price
    table_cost = round(12 * 0.00015 / 1000 + 8 * 0.00015 / 1000 + 5 * 0.0006 / 1000, 12)
    assert [c["gen_ai.usage.cost"] for c in costs(pipeline)["chat gpt-4o-mini"]] == [0.03, table_cost]


def test_store_totals_show_the_users_price(make_pipeline, client, tmp_path):
    db = tmp_path / "traces.db"
    pipeline = make_pipeline(prices=TABLE)
    exporter = SQLiteSpanExporter(db)
    pipeline.processor.add_downstream(SimpleSpanProcessor(exporter))

    @trace_llm(name="generate", model="gpt-4o-mini", cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    def generate():
        return client.chat.completions.create(model="gpt-4o-mini", messages=HI)

    @observe(type="agent", name="agent")
    def agent():
        generate()
        generate()

    agent()
    exporter.shutdown()
    store = TraceStore(str(db))
    try:
        (summary,) = store.list_traces().traces
        trace = store.get_trace(summary.trace_id)
    finally:
        store.close()
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (40, 10, 0.06)
    assert sorted((s.name, s.cost_usd) for s in trace.spans) == [
        ("agent", None), ("chat gpt-4o-mini", 0.03), ("chat gpt-4o-mini", 0.03), ("generate", None),
        ("generate", None)]
