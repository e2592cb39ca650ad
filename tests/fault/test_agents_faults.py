"""Faults in the OpenAI Agents SDK instrumentation: never the app's problem.

Our own faults are swallowed (logged on ``traceglass``) in production and the run still returns;
hostile span data loses a field, not the span; the SDK's calls in odd orders (an end for a span
never started, a hidden span whose parent is unknown) make no span and raise nothing; the user's
exceptions pass through unchanged.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("agents")

from agents import Agent, Runner, function_tool  # noqa: E402
from agents.tracing.span_data import (  # noqa: E402
    AgentSpanData,
    CustomSpanData,
    FunctionSpanData,
    GenerationSpanData,
    HandoffSpanData,
    ResponseSpanData,
    TurnSpanData,
)

import traceglass  # noqa: E402
from traceglass._handler import add_parent_resolver, remove_parent_resolver  # noqa: E402
from traceglass.instrumentors.openai_agents import OpenAIAgentsInstrumentor  # noqa: E402
from traceglass.instrumentors.openai_agents import _extract, _processor  # noqa: E402

from ..agents._agents_support import responses_model  # noqa: E402
from ..agents._fake_responses import ResponsesServer  # noqa: E402


@pytest.fixture
def instrumented(captured):
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(exclusive=True)
    try:
        yield captured
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def server():
    with ResponsesServer() as running:
        yield running


def test_an_internal_error_is_swallowed_and_the_run_returns(instrumented, server, monkeypatch, caplog):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")

    def broken(*args, **kwargs):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(_extract, "finish", broken)
    agent = Agent(name="plain", instructions="p", model=responses_model(server.base_url))
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        result = Runner.run_sync(agent, "hi")
    assert result.final_output == "answer 1"
    assert "extractor bug" in caplog.text
    # The spans still end (a lost field, not a lost span).
    assert sorted(s["name"] for s in instrumented.spans()) == ["chat", "invoke_agent plain",
                                                               "invoke_workflow Agent workflow"]


def test_a_resolver_fault_leaves_the_parent_to_the_context(instrumented, server, monkeypatch, caplog):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")

    def broken(starting):
        raise RuntimeError("resolver bug")

    add_parent_resolver(broken)
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"), traceglass.span("outer"):
            pass
    finally:
        remove_parent_resolver(broken)
    assert "resolver bug" in caplog.text
    assert [s["name"] for s in instrumented.spans()] == ["outer"]


def test_user_exception_passes_unchanged(instrumented, server):
    class Boom(Exception):
        pass

    @function_tool(failure_error_function=None)  # the SDK re-raises instead of telling the model
    def explode(city: str) -> str:
        """Explodes."""
        raise Boom("tool exploded")

    agent = Agent(name="bomb", instructions="b", tools=[explode], model=responses_model(server.base_url))
    with pytest.raises(Exception) as raised:
        Runner.run_sync(agent, "go")
    assert isinstance(raised.value, Boom) or isinstance(raised.value.__cause__, Boom)
    names = {s["name"]: s["status"] for s in instrumented.spans()}
    assert names["execute_tool explode"] == "ERROR" and "invoke_workflow Agent workflow" in names


class _Span:
    """A stand-in for the SDK's span, with whatever data a hostile caller hands us."""

    def __init__(self, span_id, data, parent_id=None, trace_id="trace_x", error=None):
        self.span_id, self.parent_id, self.trace_id = span_id, parent_id, trace_id
        self.span_data, self.error = data, error


class _Trace:
    def __init__(self, trace_id="trace_x", name=None, group_id=None):
        self.trace_id, self.name, self.group_id = trace_id, name, group_id


HOSTILE = [
    AgentSpanData(name=None, tools="not a list", handoffs=[object()]),  # type: ignore[arg-type]
    FunctionSpanData(name="", input={"not": "a string"}, output=object()),  # type: ignore[arg-type]
    GenerationSpanData(input="nope", output=42, model=None, model_config={"temperature": "hot"},  # type: ignore[arg-type]
                       usage={"input_tokens": True, "output_tokens": "x"}),
    ResponseSpanData(response=None, input=3, usage="nope"),  # type: ignore[arg-type]
    HandoffSpanData(from_agent=None, to_agent=None),
    CustomSpanData(name=None, data=None),  # type: ignore[arg-type]
    object(),  # no ``type`` at all
]


@pytest.mark.parametrize("data", HOSTILE, ids=lambda d: type(d).__name__)
def test_hostile_span_data_makes_a_span_and_raises_nothing(captured, data):
    processor = _processor.TraceglassAgentsProcessor()
    processor.enabled = True
    processor.on_trace_start(_Trace())
    processor.on_span_start(_Span("span_1", data, error={"message": None, "data": {"x": object()}}))
    processor.on_span_end(_Span("span_1", data, error={"message": None, "data": {"x": object()}}))
    processor.on_trace_end(_Trace())
    spans = captured.spans()
    assert len(spans) == 2 and spans[-1]["name"] == "invoke_workflow Agent workflow"
    assert spans[0]["status"] == "ERROR" and spans[0]["attributes"]["error.type"] == "error"


def test_odd_orders_make_nothing_and_raise_nothing(captured):
    processor = _processor.TraceglassAgentsProcessor()
    processor.enabled = True
    processor.on_span_end(_Span("never_started", AgentSpanData(name="a")))  # an end without a start
    processor.on_trace_end(_Trace("never_started"))
    processor.on_span_start(_Span("orphan_turn", TurnSpanData(1, "a"), parent_id="unknown"))
    processor.on_span_end(_Span("orphan_turn", TurnSpanData(1, "a")))
    # A span whose parent we never saw: a root span under the current context.
    processor.on_span_start(_Span("lone", AgentSpanData(name="lone"), parent_id="unknown"))
    processor.on_span_end(_Span("lone", AgentSpanData(name="lone")))
    processor.on_span_end(_Span("lone", AgentSpanData(name="lone")))  # ended twice: once
    assert [s["name"] for s in captured.spans()] == ["invoke_agent lone"]
    assert processor._open == {}


HOSTILE_OUTPUTS = [
    ResponseSpanData(response={"output": "not a list"}),  # type: ignore[arg-type]
    ResponseSpanData(response={"output": [None, 3, {"type": "function_call"}, {"type": "function_call", "name": 7,
                                                                               "call_id": ["x"]}]}),  # type: ignore[arg-type]
    GenerationSpanData(output=[{"tool_calls": "nope"}, {"tool_calls": [None, {"function": None, "id": None}]},
                               {"object": "response", "output": {"x": 1}}]),
    GenerationSpanData(output=[{"object": "response", "output": [{"type": "function_call", "name": "get_weather",
                                                                  "call_id": "call_ok", "namespace": 5}]}]),
]


@pytest.mark.parametrize("data", HOSTILE_OUTPUTS, ids=range(len(HOSTILE_OUTPUTS)))
def test_hostile_model_output_gives_only_well_formed_call_ids(captured, data):
    processor = _processor.TraceglassAgentsProcessor()
    processor.enabled = True
    processor.on_trace_start(_Trace())
    processor.on_span_start(_Span("agent", AgentSpanData(name="a")))
    processor.on_span_start(_Span("model", data, parent_id="agent"))
    processor.on_span_end(_Span("model", data, parent_id="agent"))
    tool = FunctionSpanData(name="get_weather", input=None, output=None)
    processor.on_span_start(_Span("tool", tool, parent_id="agent"))
    processor.on_span_end(_Span("tool", tool, parent_id="agent"))
    processor.on_span_end(_Span("agent", AgentSpanData(name="a")))
    processor.on_trace_end(_Trace())
    (span,) = [s for s in captured.spans() if s["name"] == "execute_tool get_weather"]
    well_formed = data is HOSTILE_OUTPUTS[-1]  # a non-string namespace is ignored, the call kept
    assert span["attributes"].get("gen_ai.tool.call.id") == ("call_ok" if well_formed else None)


def test_open_steps_are_bounded(captured, monkeypatch):
    monkeypatch.setattr(_processor, "_MAX_OPEN", 5)
    processor = _processor.TraceglassAgentsProcessor()
    processor.enabled = True
    for i in range(20):  # spans the SDK never ends
        processor.on_span_start(_Span(f"s{i}", AgentSpanData(name="a")))
    assert len(processor._open) == 5


# --- LlamaIndex -----------------------------------------------------------------------------------
class _Event:
    """A stand-in for a LlamaIndex event: the class name picks the mapping, attributes are hostile."""

    def __init__(self, kind, span_id, **fields):
        self.__class__ = type(kind, (_Event,), {})
        self.span_id = span_id
        self.__dict__.update(fields)


def test_llamaindex_internal_error_is_swallowed(captured, monkeypatch, caplog):
    pytest.importorskip("llama_index.core")
    from llama_index.core.tools import FunctionTool

    from traceglass.instrumentors.llamaindex import LlamaIndexInstrumentor
    from traceglass.instrumentors.llamaindex import _extract as li_extract

    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")
    monkeypatch.setattr(li_extract, "apply_result", lambda *a: 1 / 0)
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            result = FunctionTool.from_defaults(fn=lambda city: city * 2, name="double").call(city="ab")
    finally:
        instrumentor.uninstrument()
    assert result.content == "abab"
    assert "ZeroDivisionError" in caplog.text
    assert [s["name"] for s in captured.spans()] == ["execute_tool double"]  # a lost field, not a lost span


HOSTILE_EVENTS = [
    ("QueryStartEvent", {"query": object()}),
    ("RetrievalStartEvent", {}),
    ("EmbeddingStartEvent", {"model_dict": "not a dict"}),
    ("LLMChatStartEvent", {"messages": [object(), None], "model_dict": {"model": 7}}),
    ("LLMCompletionStartEvent", {"prompt": None, "model_dict": None}),
]


@pytest.mark.parametrize(("kind", "fields"), HOSTILE_EVENTS, ids=[k for k, _ in HOSTILE_EVENTS])
def test_llamaindex_hostile_events_and_odd_orders(captured, kind, fields):
    from traceglass.instrumentors.llamaindex._tracker import Tracker

    tracker = Tracker()
    tracker.enabled = True
    tracker.event(_Event(kind, "Never.entered-1"))  # an event for a span never entered
    tracker.exit("Never.entered-1", None)
    tracker.enter("Thing.call-1-2-3-4-5", None, None, None)
    tracker.event(_Event(kind, "Thing.call-1-2-3-4-5", **fields))
    end = {"RetrievalStartEvent": ("RetrievalEndEvent", {"nodes": [object(), None]}),
           "EmbeddingStartEvent": ("EmbeddingEndEvent", {"chunks": None, "embeddings": [None]}),
           "LLMChatStartEvent": ("LLMChatEndEvent", {"response": object()})}.get(kind)
    if end is not None:
        tracker.event(_Event(end[0], "Thing.call-1-2-3-4-5", **end[1]))
    tracker.exit("Thing.call-1-2-3-4-5", object())
    tracker.exit("Thing.call-1-2-3-4-5", object())  # exited twice: ended once
    assert len(captured.spans()) == 1
    assert tracker._open == {}


def test_llamaindex_an_abandoned_stream_is_bounded(captured, monkeypatch):
    from traceglass.instrumentors.llamaindex import _tracker

    monkeypatch.setattr(_tracker, "_MAX_OPEN", 3)
    tracker = _tracker.Tracker()
    tracker.enabled = True
    for i in range(10):
        tracker.enter(f"LLM.stream_complete-{i}", None, None, None)
        tracker.event(_Event("LLMCompletionStartEvent", f"LLM.stream_complete-{i}", prompt="p", model_dict={}))
        tracker.exit(f"LLM.stream_complete-{i}", (x for x in ()))  # a generator nobody consumes
    assert len(tracker._open) == 3
