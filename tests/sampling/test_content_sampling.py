"""Content sampling per trace: failures keep their prompts, a sample of successes does, metadata always stays."""

from __future__ import annotations

import math

import pytest
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from traceglass import FinishedTrace, LlmAttributes, Sampling, observe, trace_llm, update_current_span_attributes
from traceglass.testing import capture

from ._pipeline import Pipeline


@observe(type="tool")
def lookup(city):
    if city == "Atlantis":
        raise ValueError("no such city")
    return {"temp": 21}


@trace_llm(name="plan", model="gpt-4o")
def plan(question):
    update_current_span_attributes(LlmAttributes(input=question, output="call lookup", input_token_count=10,
                                                 output_token_count=5))
    return "call lookup"


@observe(type="agent")
def agent(question, city):
    plan(question)
    try:
        lookup(city)
    except ValueError:
        pass
    return "done"


PLAN_METADATA = {"traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}
TOOL_METADATA = {"traceglass.span.type": "tool", "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
AGENT_METADATA = {"traceglass.span.type": "agent", "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "agent"}


def _shape(spans):
    return [(s["name"], s["status"], s["attributes"], [e["name"] for e in s["events"]]) for s in spans]


def test_a_failing_tool_keeps_the_content_of_the_llm_call_before_it():
    with capture(sampling=Sampling(content_rate=0.0)) as captured:
        agent("weather?", "Atlantis")
    assert _shape(captured.spans()) == [
        ("plan", "UNSET", {**PLAN_METADATA,
                           "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"weather?"}]}]',
                           "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":'
                                                     '"call lookup"}],"finish_reason":"stop"}]',
                           "traceglass.input": "weather?", "traceglass.output": "call lookup"}, []),
        ("lookup", "ERROR", {**TOOL_METADATA, "error.type": "ValueError",
                             "gen_ai.tool.call.arguments": '{"city":"Atlantis"}'}, ["exception"]),
        ("agent", "UNSET", {**AGENT_METADATA, "traceglass.input": '{"question":"weather?","city":"Atlantis"}',
                            "traceglass.output": "done"}, []),
    ]


def test_a_successful_trace_sampled_out_keeps_everything_but_its_content():
    with capture(sampling=Sampling(content_rate=0.0)) as captured:
        agent("weather?", "Oslo")
        # nothing leaves before the trace's root ends... and everything once it has
    assert _shape(captured.spans()) == [
        ("plan", "UNSET", {**PLAN_METADATA, "traceglass.content.sampled": False}, []),
        ("lookup", "UNSET", {**TOOL_METADATA, "traceglass.content.sampled": False}, []),
        ("agent", "UNSET", {**AGENT_METADATA, "traceglass.content.sampled": False}, []),
    ]
    # the metrics were recorded before any sampling: exact tokens
    tokens = sorted((p["attributes"]["gen_ai.token.type"], p["sum"])
                    for p in captured.metrics()["gen_ai.client.token.usage"])
    assert tokens == [("input", 10), ("output", 5)]


def test_spans_wait_for_their_traces_root():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    with pipeline.tracer.start_as_current_span("root"):
        with pipeline.tracer.start_as_current_span("child") as child:
            child.set_attribute("gen_ai.input.messages", "[]")
        assert pipeline.spans() == []  # the child waits for the root
        assert pipeline.processor.pending[:2] == (1, 1)
    assert [(s["name"], s["attributes"]) for s in pipeline.spans()] == [
        ("child", {"traceglass.content.sampled": False}), ("root", {"traceglass.content.sampled": False})]
    assert pipeline.processor.pending == (0, 0, 0)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_successful_traces_keep_content_at_the_rate_within_binomial_bounds(rate):
    pipeline = Pipeline(Sampling(content_rate=rate), seed=4242)
    n = 10_000
    for _ in range(n):
        with pipeline.tracer.start_as_current_span("root") as root:
            root.set_attribute("traceglass.input", "secret")
    spans = pipeline.spans()
    assert len(spans) == n
    kept = sum(1 for s in spans if s["attributes"] == {"traceglass.input": "secret"})
    stripped = sum(1 for s in spans if s["attributes"] == {"traceglass.content.sampled": False})
    assert kept + stripped == n
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(kept - n * rate) <= 4.5 * sigma, (kept, n * rate)
    assert pipeline.counters()[("content_kept", "root_ended", "rate")] == kept
    assert pipeline.counters()[("content_dropped", "root_ended", "sampled_out")] == stripped


def test_the_content_decision_is_the_same_for_a_trace_id_in_every_process():
    import subprocess
    import sys

    from traceglass._sampling import content_fraction

    ids = [(i * 0x9E3779B97F4A7C15_0123456789ABCDEF) % (1 << 128) for i in range(1, 200)]
    script = ("import sys; from traceglass._sampling import content_fraction; "
              f"print([content_fraction(i) < 0.5 for i in {ids!r}])")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == str([content_fraction(i) < 0.5 for i in ids])
    assert 60 < sum(content_fraction(i) < 0.5 for i in ids) < 140  # a real draw, not all or nothing


def _trace(pipeline, *, seconds=1.0, error=False, tokens=(0, 0), cost=None):
    start = 1_000_000_000_000
    root = pipeline.tracer.start_span("root", start_time=start)
    ctx = trace.set_span_in_context(root)
    llm = pipeline.tracer.start_span("llm", context=ctx, start_time=start + 1)
    llm.set_attribute("gen_ai.input.messages", "[\"hi\"]")
    if tokens != (0, 0):
        llm.set_attribute("gen_ai.usage.input_tokens", tokens[0])
        llm.set_attribute("gen_ai.usage.output_tokens", tokens[1])
    if cost is not None:
        llm.set_attribute("traceglass.cost.total_usd", cost)
    if error:
        llm.set_status(Status(StatusCode.ERROR, "boom"))
    llm.end(end_time=start + 2)
    root.end(end_time=start + int(seconds * 1e9))
    return [s["attributes"].get("traceglass.content.sampled", True) for s in pipeline.spans()]


@pytest.mark.parametrize(("conditions", "trace_kwargs", "kept"), [
    (("error",), {"error": True}, True),
    (("error",), {}, False),
    (("latency>5s",), {"seconds": 5.5}, True),
    (("latency>5s",), {"seconds": 4.9}, False),
    (("latency>5s",), {"seconds": 5.0}, False),  # over, not at
    (("latency>500ms",), {"seconds": 0.6}, True),
    (("latency>500ms",), {"seconds": 0.4}, False),
    (("cost>0.05",), {"tokens": (1, 1), "cost": 0.06}, True),
    (("cost>0.05",), {"tokens": (1, 1), "cost": 0.04}, False),
    (("cost>0.05",), {"tokens": (1, 1), "cost": 0.05}, False),
    (("cost>0",), {"tokens": (1, 1)}, False),  # nothing priced: no cost to compare
    (("tokens>10000",), {"tokens": (9000, 1001)}, True),
    (("tokens>10000",), {"tokens": (9000, 1000)}, False),
    ((), {"error": True}, False),  # no conditions: a failure is sampled like any trace
])
def test_conditions_keep_a_traces_content(conditions, trace_kwargs, kept):
    pipeline = Pipeline(Sampling(content_rate=0.0, keep_content_when=conditions))
    assert _trace(pipeline, **trace_kwargs) == [kept, kept]


def test_a_callable_condition_sees_the_finished_trace():
    seen = []

    def expensive(finished):
        seen.append(finished)
        return finished.total_tokens > 100

    pipeline = Pipeline(Sampling(content_rate=0.0, keep_content_when=("error", expensive)))
    assert _trace(pipeline, seconds=2.0, tokens=(100, 20), cost=0.5) == [True, True]
    assert seen == [FinishedTrace(trace_id=seen[0].trace_id, root_name="root", error=False, duration_s=2.0,
                                  input_tokens=100, output_tokens=20, cost_usd=0.5, span_count=2, complete=True)]
    (root,) = [span for span in pipeline.spans() if span["name"] == "root"]
    assert seen[0].trace_id == root["trace_id"]  # as OpenTelemetry writes it: lower-case hex
    assert pipeline.counters()[("content_kept", "root_ended", "expensive")] == 1


def test_a_span_with_an_error_type_but_no_error_status_makes_a_failed_trace():
    pipeline = Pipeline(Sampling(content_rate=0.0, keep_content_when=("error",)))
    root = pipeline.tracer.start_span("root")
    tool = pipeline.tracer.start_span("tool", context=trace.set_span_in_context(root))
    tool.set_attribute("gen_ai.input.messages", "[]")
    tool.set_attribute("error.type", "timeout")  # as instrumentations that leave the status unset write it
    tool.end()
    root.end()
    (kept,) = [span for span in pipeline.spans() if span["name"] == "tool"]
    assert kept["attributes"].get("gen_ai.input.messages") == "[]"
    assert pipeline.counters()[("content_kept", "root_ended", "error")] == 1


def test_per_destination_policies():
    pipeline = Pipeline(Sampling(content_rate=0.0), policies=("all", "sampled", "none"))
    _trace(pipeline, error=True)
    _trace(pipeline)
    content = {policy: [(s["name"], "gen_ai.input.messages" in s["attributes"],
                         s["attributes"].get("traceglass.content.sampled")) for s in pipeline.spans(policy)]
               for policy in ("all", "sampled", "none")}
    assert content == {
        "all": [("llm", True, None), ("root", False, None)] * 2,
        "sampled": [("llm", True, None), ("root", False, None), ("llm", False, False), ("root", False, False)],
        "none": [("llm", False, False), ("root", False, False)] * 2,
    }


def test_the_official_and_peer_content_attributes_and_events_are_removed_and_metadata_kept():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    with pipeline.tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({
            "gen_ai.input.messages": "[]", "gen_ai.output.messages": "[]", "gen_ai.system_instructions": "[]",
            "gen_ai.tool.definitions": "[]", "gen_ai.tool.call.arguments": "{}", "gen_ai.tool.call.result": "{}",
            "gen_ai.retrieval.query.text": "q", "gen_ai.retrieval.documents": "[]", "traceglass.truncated": ["x"],
            "gen_ai.prompt.0.content": "hi", "gen_ai.completion.0.content": "yo", "input.value": "i",
            "output.value": "o", "llm.input_messages.0.message.content": "hi", "gen_ai.prompt.name": "greeting",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3, "session.id": "s1", "user.id": "u1",
            "traceglass.rollup.total_tokens": 3, "gen_ai.usage.cost": 0.1,
        })
        span.add_event("gen_ai.client.inference.operation.details", {"gen_ai.input.messages": "[]"})
        span.add_event("gen_ai.user.message", {"content": "hi"})
        span.add_event("gen_ai.choice", {"message": "yo"})
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "relevance"})
        span.add_event("exception", {"exception.type": "X"})
    (exported,) = pipeline.spans()
    assert exported["attributes"] == {
        "gen_ai.prompt.name": "greeting", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3,
        "session.id": "s1", "user.id": "u1", "traceglass.rollup.total_tokens": 3, "gen_ai.usage.cost": 0.1,
        "traceglass.content.sampled": False}
    assert exported["events"] == [{"name": "gen_ai.evaluation.result", "attributes": {"gen_ai.evaluation.name": "relevance"}},
                                  {"name": "exception", "attributes": {"exception.type": "X"}}]
