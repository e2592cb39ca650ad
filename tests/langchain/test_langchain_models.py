"""Model runs: ChatOpenAI against a local server, and what a model's own code starts nests under it."""

from __future__ import annotations

import json
from typing import Annotated, Any, AsyncIterator, Iterator, TypedDict

import pytest
from ._lc_support import chat_completion, stream_chunks, tree
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.llms import LLM
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableLambda
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from opentelemetry import trace

from traceglass import rollup
from traceglass.instrumentors.openai import OpenAIInstrumentor


class MessagesState(TypedDict):
    messages: Annotated[list, add_messages]


class SpanningChatModel(BaseChatModel):
    """A chat model whose call opens an OTel span, as an HTTP client instrumentation would."""

    tracer: Any

    @property
    def _llm_type(self) -> str:
        return "spanning"

    def _reply(self) -> AIMessage:
        return AIMessage("pong", usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4})

    def _generate(self, messages: Any, stop: Any = None, run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        with self.tracer.start_as_current_span("http POST"):
            return ChatResult(generations=[ChatGeneration(message=self._reply())])

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        with self.tracer.start_as_current_span("http POST"):
            return ChatResult(generations=[ChatGeneration(message=self._reply())])

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
                ) -> Iterator[ChatGenerationChunk]:
        with self.tracer.start_as_current_span("http POST"):
            for piece in ("po", "ng"):
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
                       ) -> AsyncIterator[ChatGenerationChunk]:
        with self.tracer.start_as_current_span("http POST"):
            for piece in ("po", "ng"):
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream", "batch", "abatch"])
async def test_spans_started_by_the_model_nest_under_the_model_run(instrumented, no_detach_errors, mode):
    tracer = instrumented.tracer_provider.get_tracer("client")
    model = SpanningChatModel(tracer=tracer)
    chain = RunnableLambda(lambda q: q, name="prepare") | model

    consumer_parents = []
    if mode == "invoke":
        chain.invoke("ping")
    elif mode == "ainvoke":
        await chain.ainvoke("ping")
    elif mode == "batch":
        chain.batch(["ping", "ping"])
    elif mode == "abatch":
        await chain.abatch(["ping", "ping"])
    elif mode == "stream":
        for _ in chain.stream("ping"):
            consumer_parents.append(trace.get_current_span())
    else:
        async for _ in chain.astream("ping"):
            consumer_parents.append(trace.get_current_span())

    runs = 2 if "batch" in mode else 1
    assert tree(instrumented.spans()) == [
        (0, "RunnableSequence", "chain"),
        (1, "prepare", "chain"),
        (1, "SpanningChatModel", "chat_model"),
        (2, "http POST", None),
    ] * runs
    # the model's span is current only inside the model's own steps, never in the consumer's loop
    assert all(span is trace.INVALID_SPAN for span in consumer_parents)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_chat_openai_span_with_request_response_usage(instrumented, openai_server, no_detach_errors):
    openai_server.replies.append(chat_completion("Paris.", prompt_tokens=21, completion_tokens=3, cached=16))
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=openai_server.base_url, max_retries=0,
                       temperature=0.2, top_p=0.9, max_tokens=50, seed=7, frequency_penalty=0.1,
                       presence_penalty=0.3, stop=["\n\n"])

    result = model.invoke([SystemMessage("Be brief."), HumanMessage("Capital of France?")])
    assert result.content == "Paris."

    span = instrumented.span("chat gpt-4o-mini")
    assert span["kind"] == "CLIENT"
    assert span["status"] == "UNSET"
    assert span["parent_id"] is None
    assert span["attributes"] == {
        "traceglass.span.type": "chat_model",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ("\n\n",),
        "gen_ai.request.seed": 7,
        "gen_ai.request.frequency_penalty": 0.1,
        "gen_ai.request.presence_penalty": 0.3,
        "gen_ai.response.id": "chatcmpl-abc123",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.system_fingerprint": "fp_0ba0d124f1",
        "gen_ai.usage.input_tokens": 21,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.usage.cache_read.input_tokens": 16,
        "gen_ai.usage.reasoning.output_tokens": 0,
        "gen_ai.input.messages": json.dumps([
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]},
        ], separators=(",", ":")),
        "gen_ai.output.messages": json.dumps([
            {"role": "assistant", "parts": [{"type": "text", "content": "Paris."}], "finish_reason": "stop"},
        ], separators=(",", ":")),
    }
    assert openai_server.requests[0]["messages"][1] == {"role": "user", "content": "Capital of France?"}


def test_chat_openai_tool_calls_and_tool_definitions(instrumented, openai_server):
    openai_server.replies.append(chat_completion(None, tool_calls=[{
        "id": "call_w1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]))
    weather_tool = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=openai_server.base_url,
                       max_retries=0).bind_tools([weather_tool])
    history = [
        HumanMessage("Weather in Rome and Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Rome"}, "id": "call_r1"}]),
        ToolMessage("sunny", tool_call_id="call_r1"),
    ]

    reply = model.invoke(history)
    assert reply.tool_calls == [{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_w1",
                                 "type": "tool_call"}]

    attributes = instrumented.span("chat gpt-4o-mini")["attributes"]
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome and Paris?"}]},
        {"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_r1", "name": "get_weather", "arguments": {"city": "Rome"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_r1", "response": "sunny"}]},
    ]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": "tool_calls", "parts": [
            {"type": "tool_call", "id": "call_w1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
    ]
    assert json.loads(attributes["gen_ai.tool.definitions"]) == [{
        "type": "function", "name": "get_weather", "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)


async def test_chat_openai_astream_with_usage(instrumented, openai_server, no_detach_errors):
    openai_server.replies.append(stream_chunks("Hello from Paris", prompt_tokens=12, completion_tokens=4))
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=openai_server.base_url,
                       max_retries=0, stream_usage=True)

    text = "".join([chunk.content async for chunk in model.astream("hi")])
    assert text == "Hello from Paris"

    attributes = dict(instrumented.span("chat gpt-4o-mini")["attributes"])
    assert 0 <= attributes.pop("gen_ai.response.time_to_first_chunk") < 5
    assert attributes == {
        "traceglass.span.type": "chat_model",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.stream": True,  # no response id: LangChain replaces a streamed message's id
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.system_fingerprint": "fp_0ba0d124f1",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Hello from Paris"}],'
                                  '"finish_reason":"stop"}]',
    }
    assert openai_server.requests[0]["stream"] is True


@pytest.fixture
def openai_instrumented(instrumented):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        yield instrumented
    finally:
        instrumentor.uninstrument()


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_openai_client_span_nests_under_chat_model_and_tokens_count_once(
        openai_instrumented, openai_server, no_detach_errors, mode):
    captured = openai_instrumented
    streamed = mode in ("stream", "astream")
    openai_server.replies.append(stream_chunks("Hi there", prompt_tokens=10, completion_tokens=2)
                                 if streamed else chat_completion("Hi there", prompt_tokens=10, completion_tokens=2))
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=openai_server.base_url,
                       max_retries=0, stream_usage=True)
    chain = RunnableLambda(lambda q: q, name="prepare") | model

    if mode == "invoke":
        chain.invoke("hello")
    elif mode == "ainvoke":
        await chain.ainvoke("hello")
    elif mode == "stream":
        list(chain.stream("hello"))
    else:
        [c async for c in chain.astream("hello")]

    spans = captured.spans()
    assert tree(spans) == [
        (0, "RunnableSequence", "chain"),
        (1, "prepare", "chain"),
        (1, "chat gpt-4o-mini", "chat_model"),
        (2, "chat gpt-4o-mini", "llm"),
    ]
    client = next(s for s in spans if s["attributes"]["traceglass.span.type"] == "llm")
    assert client["attributes"]["gen_ai.usage.input_tokens"] == 10
    # both layers know the usage; the rule counts the call once
    parents = {s["span_id"]: s["parent_id"] for s in spans}
    own = {s["span_id"]: rollup.own_usage(s["attributes"].get("gen_ai.usage.input_tokens"),
                                          s["attributes"].get("gen_ai.usage.output_tokens"), None)
           for s in spans}
    assert rollup.trace_total(parents, own) == rollup.UsageTotals(10, 2, None, 1)
    # and the token-usage metric records it once too
    points = captured.metrics()["gen_ai.client.token.usage"]
    assert sorted((p["attributes"]["gen_ai.token.type"], p["sum"]) for p in points) == [("input", 10), ("output", 2)]
    # and the operation duration once, from the OpenAI client layer
    (duration,) = captured.metrics()["gen_ai.client.operation.duration"]
    assert duration["count"] == 1
    assert duration["attributes"]["server.address"] == "127.0.0.1"


def test_chat_model_error_sets_status_and_error_type(instrumented, openai_server, no_detach_errors):
    import openai

    openai_server.replies.append(404)
    model = ChatOpenAI(model="gpt-nope", api_key="sk-test", base_url=openai_server.base_url, max_retries=0)

    with pytest.raises(openai.NotFoundError) as raised:
        model.invoke("hi")

    span = instrumented.span("chat gpt-nope")
    assert span["status"] == "ERROR"
    # langchain-openai re-raises it as its own subclass; the span names what the user sees
    assert span["attributes"]["error.type"] == type(raised.value).__qualname__ == "OpenAIModelNotFoundError"
    assert span["status_description"].startswith("OpenAIModelNotFoundError: Error code: 404")
    assert [e["name"] for e in span["events"]] == ["exception"]
    assert "gen_ai.output.messages" not in span["attributes"]


class SpanningLLM(LLM):
    """A text-completion LLM whose call opens an OTel span."""

    tracer: Any

    @property
    def _llm_type(self) -> str:
        return "spanning-llm"

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        with self.tracer.start_as_current_span("http POST"):
            return prompt.upper()

    async def _acall(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        with self.tracer.start_as_current_span("http POST"):
            return prompt.upper()


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_spans_started_by_a_text_llm_nest_under_it(instrumented, no_detach_errors, mode):
    llm = SpanningLLM(tracer=instrumented.tracer_provider.get_tracer("client"))
    result = llm.invoke("abc") if mode == "invoke" else await llm.ainvoke("abc")
    assert result == "ABC"
    assert tree(instrumented.spans()) == [(0, "SpanningLLM", "llm"), (1, "http POST", None)]
    assert instrumented.span("SpanningLLM")["attributes"]["gen_ai.provider.name"] == "spanning"


@pytest.mark.parametrize("mode", ["invoke", "astream_messages"])
async def test_langgraph_node_with_chat_openai_nests_all_the_way_down(
        openai_instrumented, openai_server, no_detach_errors, mode):
    captured = openai_instrumented
    streamed = mode != "invoke"
    reply = stream_chunks if streamed else chat_completion
    openai_server.replies.append(reply("Bonjour Paris", prompt_tokens=9, completion_tokens=3))
    model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=openai_server.base_url,
                       max_retries=0, stream_usage=True)

    graph = StateGraph(MessagesState)
    graph.add_node("answer", lambda state: {"messages": [model.invoke(state["messages"])]})
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    app = graph.compile()
    question = {"messages": [HumanMessage("Say hello to Paris")]}

    if streamed:  # LangGraph's messages mode makes the model stream under an invoke()
        tokens = [chunk.content async for chunk, _ in app.astream(question, stream_mode="messages")]
        assert "".join(tokens) == "Bonjour Paris"
    else:
        assert app.invoke(question)["messages"][-1].content == "Bonjour Paris"

    spans = captured.spans()
    assert tree(spans) == [
        (0, "LangGraph", "chain"),
        (1, "answer", "graph_node"),
        (2, "chat gpt-4o-mini", "chat_model"),
        (3, "chat gpt-4o-mini", "llm"),
    ]
    chat = next(s for s in spans if s["attributes"]["traceglass.span.type"] == "chat_model")
    assert ("gen_ai.request.stream" in chat["attributes"]) is streamed
    assert openai_server.requests[0]["stream"] is streamed
    parents = {s["span_id"]: s["parent_id"] for s in spans}
    own = {s["span_id"]: rollup.own_usage(s["attributes"].get("gen_ai.usage.input_tokens"),
                                          s["attributes"].get("gen_ai.usage.output_tokens"), None)
           for s in spans}
    assert rollup.trace_total(parents, own) == rollup.UsageTotals(9, 3, None, 1)
