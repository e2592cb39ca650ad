"""The cost processor on exported spans: cost attributes, overrides, roll-ups, copies, limits."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from traceglass import LlmAttributes, observe, update_current_span_attributes
from traceglass.processors._enrich import EnrichedSpan
from traceglass.processors.cost import CostSpanProcessor

from .._functions import llm_function

TABLE = {
    "gpt-4o": {"input_per_1k": 0.005, "output_per_1k": 0.015, "cached_input_per_1k": 0.0025},
    "claude-3-opus": {"input_per_1k": 0.015, "output_per_1k": 0.075, "cached_input_per_1k": 0.0015,
                      "cache_write_per_1k": 0.01875},
}


LLM_BASE = {
    "traceglass.span.type": "llm",
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
}


def test_a_traceglass_llm_span_is_priced_from_the_user_table(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)
    llm_function("answer", 1000, 200)()
    assert pipeline.span("answer")["attributes"] == {
        **LLM_BASE,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cost": 0.008,
        "traceglass.cost.input_usd": 0.005,
        "traceglass.cost.output_usd": 0.003,
        "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 0.008,
        "traceglass.cost.source": "user",
        "traceglass.rollup.input_tokens": 1000,
        "traceglass.rollup.output_tokens": 200,
        "traceglass.rollup.total_tokens": 1200,
        "traceglass.rollup.cost_usd": 0.008,
    }


def test_span_overrides_win_over_the_table(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)
    llm_function("per-1k", 1000, 200, cost_per_1k_input=0.1, cost_per_1k_output=0.2)()

    @observe(type="llm", name="per-token", model="gpt-4o", cost_per_input_token=0.00001, cost_per_output_token=0.00002)
    def per_token():
        update_current_span_attributes(LlmAttributes(input="q", output="a", input_token_count=1000,
                                                     output_token_count=200))

    per_token()
    first = pipeline.span("per-1k")["attributes"]
    assert {k: v for k, v in first.items() if k.startswith(("traceglass.cost", "traceglass.price", "gen_ai.usage.cost"))} == {
        "traceglass.price.input_per_token": 0.0001,
        "traceglass.price.output_per_token": 0.0002,
        "gen_ai.usage.cost": 0.14,
        "traceglass.cost.input_usd": 0.1,
        "traceglass.cost.output_usd": 0.04,
        "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 0.14,
        "traceglass.cost.source": "span",
    }
    second = pipeline.span("per-token")["attributes"]
    assert (second["traceglass.cost.total_usd"], second["traceglass.cost.source"]) == (0.014, "span")


def test_one_overridden_direction_takes_the_other_from_the_table(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)
    llm_function("half", 1000, 200, cost_per_1k_input=0.1)()
    attributes = pipeline.span("half")["attributes"]
    assert (attributes["traceglass.cost.input_usd"], attributes["traceglass.cost.output_usd"],
            attributes["traceglass.cost.source"]) == (0.1, 0.003, "span")


@pytest.mark.parametrize("direction", ["input", "output"])
def test_one_direction_overridden_after_the_span_started_is_priced_at_its_override(direction):
    # Set at the end, not at start: the price comes from the span's own attributes, not from the scope
    # the processor records when spans start.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(exporter), prices=TABLE))
    with provider.get_tracer("t").start_as_current_span("call", attributes=LLM_BASE) as span:
        span.set_attributes({"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200,
                             f"traceglass.price.{direction}_per_token": 0.001})
    attributes = exporter.get_finished_spans()[0].attributes
    expected = (1.0, 0.003) if direction == "input" else (0.005, 0.2)
    assert (attributes["traceglass.cost.input_usd"], attributes["traceglass.cost.output_usd"],
            attributes["traceglass.cost.source"]) == (*expected, "span")


def test_genai_prices_is_the_default_source(pipeline):
    from genai_prices import Usage, calc_price

    llm_function("answer", 1000, 200, model="gpt-4o-mini")()
    expected = calc_price(Usage(input_tokens=1000, output_tokens=200), "gpt-4o-mini", provider_id="openai")
    attributes = pipeline.span("answer")["attributes"]
    assert attributes["gen_ai.usage.cost"] == round(float(expected.total_price), 12)
    assert attributes["traceglass.cost.input_usd"] == round(float(expected.input_price), 12)
    assert attributes["traceglass.cost.source"] == "genai-prices"


def test_one_direction_priced_on_the_span_takes_the_other_from_a_library_price_priced_per_call(make_pipeline):
    from genai_prices import Usage, calc_price

    pipeline = make_pipeline()
    tracer = pipeline.tracer()
    call = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",  # tiered: per call
            "gen_ai.usage.input_tokens": 250_000, "gen_ai.usage.output_tokens": 1000,
            "gen_ai.usage.cache_read.input_tokens": 100_000}
    tracer.start_span("output priced", attributes={**call, "traceglass.price.output_per_token": 0.00001}).end()
    tracer.start_span("input priced", attributes={**call, "traceglass.price.input_per_token": 0.000001}).end()
    library = calc_price(Usage(input_tokens=250_000, output_tokens=1000, cache_read_tokens=100_000),
                         "claude-sonnet-4-5", provider_id="anthropic")
    output_priced = pipeline.span("output priced")["attributes"]
    assert (output_priced["traceglass.cost.input_usd"], output_priced["traceglass.cost.output_usd"],
            output_priced["traceglass.cost.total_usd"], output_priced["traceglass.cost.source"]) == (
        round(float(library.input_price), 12), 0.01, round(float(library.input_price) + 0.01, 12), "span")
    assert output_priced["traceglass.cost.cached_input_usd"] == 0.06  # 100,000 at the passed tier's $0.6 a million
    input_priced = pipeline.span("input priced")["attributes"]
    # The input price on the span prices every input token, cached ones too.
    assert (input_priced["traceglass.cost.input_usd"], input_priced["traceglass.cost.cached_input_usd"],
            input_priced["traceglass.cost.output_usd"], input_priced["traceglass.cost.total_usd"]) == (
        0.25, 0.1, round(float(library.output_price), 12), round(0.25 + float(library.output_price), 12))


def test_a_dated_library_price_is_the_one_of_the_spans_start(make_pipeline):
    pipeline = make_pipeline()
    tracer = pipeline.tracer()
    call = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-6",
            "gen_ai.usage.input_tokens": 300_000, "gen_ai.usage.output_tokens": 0}
    for name, day in (("before", 1), ("after", 20)):  # its long-context tier ended on 2026-03-13
        start = int(datetime(2026, 3, day, tzinfo=timezone.utc).timestamp() * 1e9)
        tracer.start_span(name, attributes=call, start_time=start).end(end_time=start + 10**9)
    assert pipeline.span("before")["attributes"]["traceglass.cost.input_usd"] == 1.8  # $6 a million
    assert pipeline.span("after")["attributes"]["traceglass.cost.input_usd"] == 0.9  # $3


def test_cached_tokens_from_any_reporter_are_priced_once(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)
    tracer = pipeline.tracer()
    usage = {"gen_ai.usage.input_tokens": 2000, "gen_ai.usage.output_tokens": 100,
             "gen_ai.usage.cache_read.input_tokens": 1000}
    tracer.start_span("creation", attributes={"gen_ai.provider.name": "anthropic",
                                              "gen_ai.request.model": "claude-3-opus", **usage,
                                              "gen_ai.usage.cache_creation.input_tokens": 400}).end()
    tracer.start_span("write", attributes={"gen_ai.provider.name": "anthropic",
                                           "gen_ai.request.model": "claude-3-opus", **usage,
                                           "gen_ai.usage.cache_write.input_tokens": 400}).end()
    for name in ("creation", "write"):
        attributes = pipeline.span(name)["attributes"]
        # 600 uncached x 0.015/1K + 1000 cached x 0.0015/1K + 400 written x 0.01875/1K
        assert (attributes["traceglass.cost.input_usd"], attributes["traceglass.cost.cached_input_usd"],
                attributes["traceglass.cost.output_usd"], attributes["traceglass.cost.total_usd"]) == (
            0.009 + 0.0015 + 0.0075, 0.0015, 0.0075, 0.0255)


def test_unknown_model_gets_no_cost_and_one_debug_line(make_pipeline, caplog):
    pipeline = make_pipeline(use_genai_prices=False)
    caplog.set_level(logging.DEBUG, logger="traceglass")

    @observe(type="chain", name="chain")
    def chain():
        llm_function("a", 10, 2, model="my-own-model")()
        llm_function("b", 10, 2, model="my-own-model")()

    chain()
    for name in ("a", "b"):
        assert pipeline.span(name)["attributes"] == {
            "traceglass.span.type": "llm",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "my-own-model",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 2,
            "traceglass.rollup.input_tokens": 10,
            "traceglass.rollup.output_tokens": 2,
            "traceglass.rollup.total_tokens": 12,
        }
    # tokens roll up; a cost nobody knows never appears as $0
    assert pipeline.span("chain")["attributes"] == {
        "traceglass.span.type": "chain",
        "traceglass.rollup.input_tokens": 20,
        "traceglass.rollup.output_tokens": 4,
        "traceglass.rollup.total_tokens": 24,
    }
    lines = [r.getMessage() for r in caplog.records if "no price" in r.getMessage()]
    assert lines == ["traceglass: no price for model 'my-own-model' (provider None); the span carries no cost"]
    assert pipeline.metrics().get("traceglass.gen_ai.client.cost") is None


def test_an_unpriced_response_model_falls_back_to_the_request_model(make_pipeline):
    pipeline = make_pipeline(prices=TABLE, use_genai_prices=False)
    pipeline.tracer().start_span("azure", attributes={
        "gen_ai.provider.name": "azure.ai.openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "my-deployment-7", "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 0}).end()
    assert pipeline.span("azure")["attributes"]["traceglass.cost.total_usd"] == 0.005


def test_latest_experimental_names(make_pipeline, monkeypatch):
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    pipeline = make_pipeline(prices=TABLE)
    llm_function("answer", 1000, 200)()
    attributes = pipeline.span("answer")["attributes"]
    cost = {k: v for k, v in attributes.items() if "cost" in k}
    assert cost == {
        "gen_ai.usage.cost.amount": 0.008,
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "local",
        "traceglass.cost.input_usd": 0.005,
        "traceglass.cost.output_usd": 0.003,
        "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 0.008,
        "traceglass.cost.source": "user",
        "traceglass.rollup.cost_usd": 0.008,
    }


# --- roll-ups ---------------------------------------------------------------------------------
def test_rollups_sum_a_chain_and_count_a_two_layer_call_once(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)

    @observe(type="tool", name="lookup")
    def tool():
        return "x"

    @observe(type="agent", name="agent")
    def agent():
        tool()
        llm_function("plan", 1000, 100)()
        # a framework layer and the client under it both report the same call
        llm_function("framework", 2000, 400, inner=llm_function("client", 2000, 400))()

    agent()
    spans = {s["name"]: s for s in pipeline.spans()}
    assert [s["name"] for s in pipeline.spans()] == ["lookup", "plan", "client", "framework", "agent"]
    rollup = {name: {k: v for k, v in s["attributes"].items() if k.startswith("traceglass.rollup.")}
              for name, s in spans.items()}
    assert rollup == {
        "lookup": {},
        "plan": {"traceglass.rollup.input_tokens": 1000, "traceglass.rollup.output_tokens": 100,
                 "traceglass.rollup.total_tokens": 1100, "traceglass.rollup.cost_usd": 0.0065},
        "client": {"traceglass.rollup.input_tokens": 2000, "traceglass.rollup.output_tokens": 400,
                   "traceglass.rollup.total_tokens": 2400, "traceglass.rollup.cost_usd": 0.016},
        "framework": {"traceglass.rollup.input_tokens": 2000, "traceglass.rollup.output_tokens": 400,
                      "traceglass.rollup.total_tokens": 2400, "traceglass.rollup.cost_usd": 0.016},
        "agent": {"traceglass.rollup.input_tokens": 3000, "traceglass.rollup.output_tokens": 500,
                  "traceglass.rollup.total_tokens": 3500, "traceglass.rollup.cost_usd": 0.0225},
    }
    # one call, one span carrying its cost: the innermost layer that reported it
    costs = {name: {k: v for k, v in s["attributes"].items() if k.startswith(("traceglass.cost.", "gen_ai.usage.cost"))}
             for name, s in spans.items()}
    assert costs == {
        "lookup": {}, "agent": {}, "framework": {},
        "plan": {"gen_ai.usage.cost": 0.0065, "traceglass.cost.input_usd": 0.005, "traceglass.cost.output_usd": 0.0015,
                 "traceglass.cost.cached_input_usd": 0.0, "traceglass.cost.total_usd": 0.0065,
                 "traceglass.cost.source": "user"},
        "client": {"gen_ai.usage.cost": 0.016, "traceglass.cost.input_usd": 0.01, "traceglass.cost.output_usd": 0.006,
                   "traceglass.cost.cached_input_usd": 0.0, "traceglass.cost.total_usd": 0.016,
                   "traceglass.cost.source": "user"},
    }
    assert spans["framework"]["attributes"]["gen_ai.usage.input_tokens"] == 2000  # its usage is still shown


def test_rollups_cross_into_other_instrumentations_spans(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)
    tracer = pipeline.tracer()
    with tracer.start_as_current_span("http request"):

        @observe(type="chain", name="chain")
        def chain():
            with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
            }):
                pass

        chain()
    assert pipeline.span("http request")["attributes"] == {
        "traceglass.rollup.input_tokens": 1000,
        "traceglass.rollup.output_tokens": 100,
        "traceglass.rollup.total_tokens": 1100,
        "traceglass.rollup.cost_usd": 0.0065,
    }


def test_spans_without_usage_pass_through_unchanged(pipeline):
    with pipeline.tracer().start_as_current_span("plain", attributes={"k": "v"}):
        pass
    (exported,) = pipeline.exporter.get_finished_spans()
    assert dict(exported.attributes) == {"k": "v"}
    assert not isinstance(exported, EnrichedSpan)  # nothing to add: no copy made


def test_open_span_accumulators_are_bounded(make_pipeline):
    pipeline = make_pipeline(prices=TABLE, max_open_spans=3)
    tracer = pipeline.tracer()
    parent = tracer.start_span("parent")
    leaked = [tracer.start_span(f"never ends {i}") for i in range(5)]
    child = tracer.start_span("child", context=trace.set_span_in_context(parent), attributes={
        "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 1})
    child.end()
    parent.end()
    assert len(pipeline.processor._open) <= 3
    # the parent's accumulator was the oldest, so it was dropped: no roll-up, no error
    assert pipeline.span("parent")["attributes"] == {}
    assert pipeline.span("child")["attributes"]["traceglass.rollup.total_tokens"] == 11
    assert len(leaked) == 5


# --- the enriched copy ------------------------------------------------------------------------
def test_the_copy_keeps_everything_but_adds_attributes():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_attributes=6, max_events=1))
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(exporter), prices=TABLE))
    tracer = provider.get_tracer("peer", "1.2.3")
    linked = tracer.start_span("linked")
    linked.end()
    span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, links=[Link(linked.get_span_context(), {"a": 1})],
                             attributes={"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                                         "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
                                         "x1": 1, "x2": 2, "x3": 3})
    span.add_event("first", {"e": 1})
    span.add_event("second")
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    original = span
    copy = exporter.get_finished_spans()[-1]
    assert copy is not original
    for field in ("name", "context", "parent", "kind", "status", "start_time", "end_time", "resource",
                  "instrumentation_scope", "events", "links", "dropped_attributes", "dropped_events", "dropped_links"):
        assert getattr(copy, field) == getattr(original, field), field
    assert (copy.dropped_attributes, copy.dropped_events) == (1, 1)
    assert {k: v for k, v in copy.attributes.items() if k in original.attributes} == dict(original.attributes)
    assert copy.attributes["traceglass.cost.total_usd"] == 0.0065
    assert copy.to_json()  # exporters can still serialize it


class _Foreign(ReadableSpan):
    """A ReadableSpan of some other library: its fields are read through the public properties."""


def test_a_copy_of_any_readable_span_keeps_it_and_leaves_the_original_alone():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("peer", "1.0").start_as_current_span("op", attributes={"a": 1}) as span:
        span.add_event("seen", {"e": 1})
    sdk = exporter.get_finished_spans()[0]
    foreign = _Foreign(name=sdk.name, context=sdk.context, parent=sdk.parent, resource=sdk.resource,
                       attributes=dict(sdk.attributes), events=sdk.events, links=sdk.links, kind=sdk.kind,
                       status=sdk.status, start_time=sdk.start_time, end_time=sdk.end_time,
                       instrumentation_scope=sdk.instrumentation_scope)
    live = provider.get_tracer("peer", "1.0").start_span("op", attributes={"a": 1})  # the SDK's span object itself
    live.add_event("seen", {"e": 1})
    live.end()
    for original in (sdk, live, foreign, EnrichedSpan(sdk, {"a": 1, "b": 2})):
        copy = EnrichedSpan(original, {"a": 1, "c": 3})
        assert dict(copy.attributes) == {"a": 1, "c": 3}
        assert dict(original.attributes) != {"a": 1, "c": 3}  # the original keeps its own
        for field in ("name", "context", "parent", "kind", "status", "start_time", "end_time", "resource",
                      "instrumentation_scope", "events", "links", "dropped_events", "dropped_links"):
            assert getattr(copy, field) == getattr(original, field), (type(original).__name__, field)
        no_events = EnrichedSpan(original, {}, events=())
        assert (no_events.events, original.events[0].name) == ((), "seen")
        assert copy.to_json()
        # The SDK's spans are copied field by field, a foreign one through its properties: the same
        # state either way (none of a live span's lock, sampler or processors).
        assert sorted(vars(copy)) == sorted(vars(EnrichedSpan(foreign, {})))


# --- the processor contract -------------------------------------------------------------------
class _Recording(SimpleSpanProcessor):
    def __init__(self):
        super().__init__(InMemorySpanExporter())
        self.shutdowns = 0
        self.flushes = 0

    def shutdown(self):
        self.shutdowns += 1

    def force_flush(self, timeout_millis=30000):
        self.flushes += 1
        return self.flushes > 1


def test_shutdown_is_idempotent_and_flush_tells_the_truth():
    first, second = _Recording(), _Recording()
    processor = CostSpanProcessor([first], second)
    assert processor.downstream == (first, second)
    assert processor.force_flush() is False
    assert processor.force_flush() is True
    processor.shutdown()
    processor.shutdown()
    assert (first.shutdowns, second.shutdowns) == (1, 1)


def test_only_span_processors_are_accepted():
    with pytest.raises(TypeError, match="CostSpanProcessor wraps SpanProcessors"):
        CostSpanProcessor("not a processor")


def test_an_internal_error_is_swallowed_and_the_span_still_exported(make_pipeline, monkeypatch, caplog):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")
    pipeline = make_pipeline(prices=TABLE)

    def broken(provider, model):
        raise RuntimeError("price book exploded")

    monkeypatch.setattr(pipeline.processor._book, "lookup", broken)
    assert llm_function("answer", 10, 2)() == "a"
    attributes = pipeline.span("answer")["attributes"]
    assert "gen_ai.usage.cost" not in attributes and attributes["gen_ai.usage.input_tokens"] == 10
    assert any("traceglass internal error in cost.on_end" in r.getMessage() for r in caplog.records)


def test_rollups_are_exact_with_children_ending_on_many_threads(make_pipeline):
    from concurrent.futures import ThreadPoolExecutor

    pipeline = make_pipeline(prices=TABLE)
    tracer = pipeline.tracer()
    parent = tracer.start_span("fan-out")
    context = trace.set_span_in_context(parent)

    def call(i):
        tracer.start_span(f"call {i}", context=context, attributes={
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}).end()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(call, range(200)))
    parent.end()
    assert pipeline.span("fan-out")["attributes"] == {
        "traceglass.rollup.input_tokens": 20000,
        "traceglass.rollup.output_tokens": 2000,
        "traceglass.rollup.total_tokens": 22000,
        "traceglass.rollup.cost_usd": 0.13,  # 200 x (100 x 0.005/1K + 10 x 0.015/1K)
    }
