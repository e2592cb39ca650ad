"""@trace_llm, @observe, span(): exact spans for every kind of function."""

from __future__ import annotations

import asyncio
import json

import pytest

import traceglass
from traceglass import (
    AgentAttributes,
    LlmAttributes,
    RetrieverAttributes,
    ToolAttributes,
    observe,
    trace_llm,
    update_current_span_attributes,
)


def test_tool_span_defaults_to_arguments_and_return_value(captured):
    @observe(type="tool", description="adds two numbers")
    def add(a, b=2):
        return a + b

    assert add(1) == 3
    span = captured.span("add")
    assert span["kind"] == "INTERNAL"
    assert span["status"] == "UNSET"
    assert span["parent_id"] is None
    assert span["attributes"] == {
        "traceglass.span.type": "tool",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.description": "adds two numbers",
        "gen_ai.tool.call.arguments": '{"a":1}',
        "gen_ai.tool.call.result": "3",
    }


def test_trace_llm_records_messages_tokens_and_price_override(captured):
    @trace_llm(name="generate", model="gpt-4o-mini", cost_per_1k_input=0.5, cost_per_1k_output=1.5)
    def generate(question: str) -> str:
        update_current_span_attributes(
            LlmAttributes(input=question, output="Paris.", input_token_count=12, output_token_count=3)
        )
        return "Paris."

    assert generate("Capital of France?") == "Paris."
    attributes = captured.span("generate")["attributes"]
    assert attributes == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
        "traceglass.price.input_per_token": 0.0005,
        "traceglass.price.output_per_token": 0.0015,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]}]',
        "gen_ai.output.messages": (
            '[{"role":"assistant","parts":[{"type":"text","content":"Paris."}],"finish_reason":"stop"}]'
        ),
        "traceglass.input": "Capital of France?",
        "traceglass.output": "Paris.",
    }


def test_bare_decorators_use_the_function_name(captured):
    @trace_llm
    def summarize():
        return "ok"

    @observe
    def step():
        return summarize()

    step()
    assert [s["name"] for s in captured.spans()] == ["summarize", "step"]
    assert captured.span("step")["attributes"]["traceglass.span.type"] == "custom"
    assert captured.span("summarize")["parent_id"] == captured.span("step")["span_id"]


def test_llm_span_picks_usage_from_openai_style_response(captured):
    class Details:
        cached_tokens = 4

    class Usage:
        prompt_tokens = 20
        completion_tokens = 7
        prompt_tokens_details = Details()
        completion_tokens_details = None

    class Response:
        id = "chatcmpl-1"
        model = "gpt-4o-2024-08-06"
        usage = Usage()

    @trace_llm(model="gpt-4o")
    def call():
        return Response()

    call()
    attributes = captured.span("call")["attributes"]
    assert attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert attributes["gen_ai.usage.input_tokens"] == 20
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 4
    assert "Response object" in attributes["traceglass.output"]


def test_rag_shape_nests_chain_tool_and_llm(captured):
    @trace_llm(event_type="tool", name="retrieve")
    def retrieve(query):
        return ["doc one", "doc two"]

    @trace_llm(name="generate", model="gpt-4o")
    def generate(query, docs):
        return f"answer from {len(docs)} docs"

    @trace_llm(event_type="chain", name="rag")
    def rag(query):
        return generate(query, retrieve(query))

    assert rag("q") == "answer from 2 docs"
    spans = {s["name"]: s for s in captured.spans()}
    assert [s["name"] for s in captured.spans()] == ["retrieve", "generate", "rag"]
    root = spans["rag"]
    assert root["parent_id"] is None
    assert spans["retrieve"]["parent_id"] == root["span_id"]
    assert spans["generate"]["parent_id"] == root["span_id"]
    assert len({s["trace_id"] for s in spans.values()}) == 1
    assert root["attributes"] == {
        "traceglass.span.type": "chain",
        "traceglass.input": '{"query":"q"}',
        "traceglass.output": "answer from 2 docs",
    }


def test_retriever_and_agent_attributes(captured):
    @observe(type="retriever", embedder="text-embedding-3-small")
    def search(query):
        update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=["a", "b"]))
        return ["a", "b"]

    @observe(type="agent", name="planner", available_tools=["search"], handoff_agents=["writer"],
             metrics=["faithfulness"])
    def plan(task):
        search(task)
        update_current_span_attributes(AgentAttributes(input={"task": task}, output="done"))
        return "done"

    plan("find")
    retriever = captured.span("search")["attributes"]
    assert retriever == {
        "traceglass.span.type": "retriever",
        "gen_ai.operation.name": "retrieval",
        "traceglass.embedder": "text-embedding-3-small",
        "traceglass.retrieval.document_count": 2,
        "gen_ai.retrieval.query.text": "find",
        "gen_ai.retrieval.documents": '[{"content":"a"},{"content":"b"}]',
        "traceglass.input": "find",
        "traceglass.output": '["a","b"]',
    }
    agent = captured.span("planner")["attributes"]
    assert agent == {
        "traceglass.span.type": "agent",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "traceglass.metrics": ("faithfulness",),
        "traceglass.agent.tools": ("search",),
        "traceglass.agent.handoffs": ("writer",),
        "traceglass.input": '{"task":"find"}',
        "traceglass.output": "done",
    }


def test_tool_attributes_override_defaults(captured):
    @observe(type="tool")
    def lookup(key):
        update_current_span_attributes(ToolAttributes(input_parameters={"k": key}, output={"v": 1}))
        return "ignored"

    lookup("x")
    attributes = captured.span("lookup")["attributes"]
    assert attributes["gen_ai.tool.call.arguments"] == '{"k":"x"}'
    assert attributes["gen_ai.tool.call.result"] == '{"v":1}'


def test_custom_type_kept_as_given(captured):
    @observe(type="reranker", name="rerank")
    def rerank(items):
        return sorted(items)

    rerank([2, 1])
    assert captured.span("rerank")["attributes"] == {
        "traceglass.span.type": "reranker",
        "traceglass.input": '{"items":[2,1]}',
        "traceglass.output": "[1,2]",
    }


def test_exception_recorded_and_reraised_unchanged(captured):
    class Boom(RuntimeError):
        pass

    error = Boom("kaput")

    @observe(type="tool")
    def explode():
        raise error

    with pytest.raises(Boom) as raised:
        explode()
    assert raised.value is error
    span = captured.span("explode")
    assert span["status"] == "ERROR"
    assert span["status_description"] == "Boom: kaput"
    assert span["attributes"]["error.type"] == "test_exception_recorded_and_reraised_unchanged.<locals>.Boom"
    assert [e["name"] for e in span["events"]] == ["exception"]
    assert span["events"][0]["attributes"]["exception.message"] == "kaput"


async def test_async_function_nests_and_returns(captured):
    @observe(type="tool")
    async def fetch(n):
        await asyncio.sleep(0)
        return n * 2

    @observe(type="agent")
    async def agent():
        return await asyncio.gather(fetch(1), fetch(2))

    assert await agent() == [2, 4]
    spans = captured.spans()
    agent_span = captured.span("agent")
    fetches = [s for s in spans if s["name"] == "fetch"]
    assert len(fetches) == 2
    assert {s["parent_id"] for s in fetches} == {agent_span["span_id"]}
    assert sorted(s["attributes"]["gen_ai.tool.call.result"] for s in fetches) == ["2", "4"]


async def test_async_exception_reraised(captured):
    @observe()
    async def fail():
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await fail()
    assert captured.span("fail")["attributes"]["error.type"] == "ValueError"


def test_generator_span_lasts_until_exhausted_and_collects_output(captured):
    @observe(type="chain")
    def words():
        with traceglass.span("inner"):
            pass
        yield "a"
        yield "b"

    gen = words()
    assert captured.spans() == []  # nothing ends before the generator is consumed
    assert list(gen) == ["a", "b"]
    outer = captured.span("words")
    assert outer["attributes"]["traceglass.output"] == "ab"
    assert captured.span("inner")["parent_id"] == outer["span_id"]


def test_generator_does_not_leak_its_span_as_current(captured):
    @observe()
    def numbers():
        yield 1
        yield 2

    gen = numbers()
    next(gen)
    with traceglass.span("between"):
        pass
    gen.close()
    between = captured.span("between")
    assert between["parent_id"] is None
    numbers_span = captured.span("numbers")
    assert numbers_span["status"] == "UNSET"
    assert numbers_span["attributes"]["traceglass.output"] == "[1]"


def test_generator_send_and_throw_are_forwarded(captured):
    @observe()
    def echo():
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            yield "caught"

    gen = echo()
    assert next(gen) == 0
    assert gen.send("x") == 1
    assert gen.throw(KeyError("k")) == "caught"
    gen.close()
    assert captured.span("echo")["status"] == "UNSET"


def test_generator_error_midway(captured):
    @observe()
    def broken():
        yield 1
        raise OSError("disk")

    gen = broken()
    assert next(gen) == 1
    with pytest.raises(OSError, match="disk"):
        next(gen)
    span = captured.span("broken")
    assert span["status"] == "ERROR"
    assert span["attributes"]["error.type"] == "OSError"


async def test_async_generator_error_midway(captured):
    @observe()
    async def broken():
        yield 1
        raise OSError("disk")

    seen = []
    with pytest.raises(OSError, match="disk"):
        async for item in broken():
            seen.append(item)
    assert seen == [1]
    span = captured.span("broken")
    assert (span["status"], span["status_description"]) == ("ERROR", "OSError: disk")
    assert span["attributes"] == {"traceglass.span.type": "custom", "traceglass.input": "{}", "error.type": "OSError"}
    assert [e["name"] for e in span["events"]] == ["exception"]


def test_trace_llm_attributes_are_recorded_and_encoded(captured):
    class Tier:
        def __str__(self):
            return "gold"

    attributes = {
        "app.route": "/ask", "app.retries": 2, "app.ratio": 0.5, "app.cached": False,
        "app.tags": ("a", "b"), "app.flags": [True, False],
        "app.config": {"top_k": 3, "filters": ["x"]}, "app.tier": Tier(), 7: "int key",
    }

    @trace_llm(name="ask", model="gpt-4o-mini", attributes=attributes)
    def ask():
        return "ok"

    assert ask() == "ok"
    assert captured.span("ask")["attributes"] == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "app.route": "/ask",
        "app.retries": 2,
        "app.ratio": 0.5,
        "app.cached": False,
        "app.tags": ("a", "b"),
        "app.flags": (True, False),
        "app.config": '{"top_k": 3, "filters": ["x"]}',
        "app.tier": '"gold"',
        "7": "int key",
        "traceglass.input": "{}",
        "traceglass.output": "ok",
    }


def test_generator_garbage_collected_ends_span(captured):
    @observe()
    def forever():
        while True:
            yield 1

    gen = forever()
    next(gen)
    del gen
    import gc

    gc.collect()
    assert captured.span("forever")["attributes"]["traceglass.output"] == "[1]"


async def test_async_generator_asend_athrow_and_aclose(captured):
    @observe(type="chain")
    async def stream():
        total = 0
        while True:
            try:
                value = yield total
            except ValueError:
                yield -1
                continue
            total += value or 0

    agen = stream()
    assert await agen.asend(None) == 0
    assert await agen.asend(5) == 5
    assert await agen.athrow(ValueError("x")) == -1
    await agen.aclose()
    span = captured.span("stream")
    assert span["status"] == "UNSET"
    assert span["attributes"]["traceglass.output"] == "[0,5,-1]"


async def test_async_generator_exhausted_with_inner_span(captured):
    @observe()
    async def tokens():
        for token in ("he", "llo"):
            with traceglass.span("token"):
                await asyncio.sleep(0)
            yield token

    assert [t async for t in tokens()] == ["he", "llo"]
    outer = captured.span("tokens")
    assert outer["attributes"]["traceglass.output"] == "hello"
    inner = [s for s in captured.spans() if s["name"] == "token"]
    assert {s["parent_id"] for s in inner} == {outer["span_id"]}


async def test_cancellation_ends_span_with_error(captured):
    started = asyncio.Event()

    @observe()
    async def slow():
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = captured.span("slow")
    assert span["status"] == "ERROR"
    assert span["attributes"]["error.type"] == "CancelledError"


def test_span_context_manager_and_user_otel_spans_form_one_tree(captured):
    tracer = captured.tracer_provider.get_tracer("user")

    @observe(type="tool")
    def leaf():
        return 1

    with traceglass.span("block", type="chain") as otel_span:
        otel_span.set_attribute("custom", "yes")
        with tracer.start_as_current_span("user-span"):
            leaf()
    block = captured.span("block")
    user = captured.span("user-span")
    assert user["parent_id"] == block["span_id"]
    assert captured.span("leaf")["parent_id"] == user["span_id"]
    assert block["attributes"]["custom"] == "yes"


def test_span_context_manager_records_error(captured):
    with pytest.raises(KeyError):
        with traceglass.span("lookup", type="tool"):
            raise KeyError("missing")
    span = captured.span("lookup")
    assert span["status"] == "ERROR"
    assert span["attributes"]["error.type"] == "KeyError"


def test_methods_drop_self_from_captured_input(captured):
    class Bot:
        @observe(type="agent")
        def answer(self, question):
            return question.upper()

    Bot().answer("hi")
    assert captured.span("answer")["attributes"]["traceglass.input"] == '{"question":"hi"}'


def test_update_outside_any_span_is_a_no_op(captured):
    update_current_span_attributes(ToolAttributes(output=1))
    assert captured.spans() == []


def test_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="cost_per_1k_input"):
        trace_llm(cost_per_1k_input=-1)
    # a price that cannot be multiplied out (the cost processor's integer arithmetic overflowed on it)
    with pytest.raises(ValueError, match="cost_per_1k_output must be a non-negative number, got inf"):
        trace_llm(cost_per_1k_output=float("inf"))
    with pytest.raises(ValueError, match="cost_per_input_token must be a non-negative number, got nan"):
        observe(cost_per_input_token=float("nan"))
    with pytest.raises(ValueError, match="type must be a non-empty string"):
        observe(type="")
    with pytest.raises(ValueError, match="available_tools must be a list"):
        observe(type="agent", available_tools="search")
    with pytest.raises(TypeError, match="unexpected options"):
        traceglass.span("x", colour="red")


def test_json_serialization_of_awkward_values(captured):
    import dataclasses

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    cyclic: list = []
    cyclic.append(cyclic)

    @observe()
    def take(point, blob, loop, items):
        return {"ok": True}

    take(Point(1, 2), b"\x00\x01", cyclic, {3})
    captured_input = json.loads(captured.span("take")["attributes"]["traceglass.input"])
    assert captured_input == {
        "point": {"x": 1, "y": 2},
        "blob": "<2 bytes>",
        "loop": ["<cycle: list>"],
        "items": [3],
    }


def test_pydantic_models_serialize(captured):
    import pydantic

    class Query(pydantic.BaseModel):
        text: str
        top_k: int = 3

    @observe(type="tool")
    def search(query: Query) -> Query:
        return query

    search(Query(text="hi"))
    attributes = captured.span("search")["attributes"]
    assert attributes["gen_ai.tool.call.arguments"] == '{"query":{"text":"hi","top_k":3}}'
    assert attributes["gen_ai.tool.call.result"] == '{"text":"hi","top_k":3}'


@pytest.mark.parametrize("inside_a_span", [True, False])
def test_update_current_span_attributes_with_a_wrong_type_raises_even_in_production(captured, monkeypatch, caplog,
                                                                                     inside_a_span):
    """A programmer's error reaches the programmer: the guard that hides traceglass's own faults in
    production must not swallow it, inside a traced function or outside one."""
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")

    @observe(type="tool")
    def lookup():
        with pytest.raises(TypeError, match="expected LlmAttributes, RetrieverAttributes, ToolAttributes or "
                                            "AgentAttributes, got dict"):
            update_current_span_attributes({"output": "x"})
        return "ok"

    if inside_a_span:
        assert lookup() == "ok"
        assert captured.span("lookup")["status"] == "UNSET"  # the span itself is unharmed
    else:
        with pytest.raises(TypeError, match="got str"):
            update_current_span_attributes("output")
    assert [r for r in caplog.records if "internal error" in r.getMessage()] == []
