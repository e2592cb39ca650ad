"""Chains of real langchain-core runnables: span tree, attributes, every way to run them."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from ._lc_support import tree
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from opentelemetry import trace

import traceglass

PROMPT = ChatPromptTemplate.from_messages([("system", "You are terse."), ("human", "{question}")])
SHAPE = [
    (0, "RunnableSequence", "chain"),
    (1, "ChatPromptTemplate", "chain"),
    (1, "FakeListChatModel", "chat_model"),
    (1, "StrOutputParser", "chain"),
]
CHAT_INPUT = (
    '[{"role":"system","parts":[{"type":"text","content":"You are terse."}]},'
    '{"role":"user","parts":[{"type":"text","content":"Capital of France?"}]}]'
)


def make_chain(*answers: str):
    return PROMPT | FakeListChatModel(responses=list(answers) or ["Paris"]) | StrOutputParser()


def test_chain_spans_tree_and_attributes(instrumented, no_detach_errors):
    assert make_chain().invoke({"question": "Capital of France?"}) == "Paris"

    spans = instrumented.spans()
    assert tree(spans) == SHAPE
    assert len({s["trace_id"] for s in spans}) == 1
    root = instrumented.span("RunnableSequence")
    assert root["parent_id"] is None
    assert root["kind"] == "INTERNAL"
    assert root["attributes"] == {
        "traceglass.span.type": "chain",
        "traceglass.input": '{"question":"Capital of France?"}',
        "traceglass.output": "Paris",
    }
    for name in ("ChatPromptTemplate", "FakeListChatModel", "StrOutputParser"):
        assert instrumented.span(name)["parent_id"] == root["span_id"]

    chat = instrumented.span("FakeListChatModel")
    assert chat["kind"] == "CLIENT"
    assert chat["status"] == "UNSET"
    assert chat["attributes"] == {
        "traceglass.span.type": "chat_model",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "fakelistchatmodel",
        "gen_ai.input.messages": CHAT_INPUT,
        "gen_ai.output.messages":
            '[{"role":"assistant","parts":[{"type":"text","content":"Paris"}],"finish_reason":"stop"}]',
    }

    prompt_attributes = dict(instrumented.span("ChatPromptTemplate")["attributes"])
    rendered = json.loads(prompt_attributes.pop("traceglass.output"))
    assert [(m["type"], m["content"]) for m in rendered["messages"]] == [
        ("system", "You are terse."), ("human", "Capital of France?")]
    assert prompt_attributes == {
        "traceglass.span.type": "chain", "traceglass.input": '{"question":"Capital of France?"}'}

    parser_attributes = dict(instrumented.span("StrOutputParser")["attributes"])
    assert json.loads(parser_attributes.pop("traceglass.input"))["content"] == "Paris"
    assert parser_attributes == {"traceglass.span.type": "chain", "traceglass.output": "Paris"}


async def _run(chain, mode: str, inputs: list[dict]) -> list[str]:
    if mode == "invoke":
        return [chain.invoke(i) for i in inputs]
    if mode == "ainvoke":
        return [await chain.ainvoke(i) for i in inputs]
    if mode == "batch":
        return chain.batch(inputs)
    if mode == "abatch":
        return await chain.abatch(inputs)
    if mode == "stream":
        return ["".join(chain.stream(i)) for i in inputs]
    if mode == "astream":
        out = []
        for i in inputs:
            out.append("".join([c async for c in chain.astream(i)]))
        return out
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "batch", "abatch", "stream", "astream"])
async def test_every_way_to_run_makes_one_tree_per_run(instrumented, no_detach_errors, mode):
    chain = make_chain("Paris", "Rome")
    inputs = [{"question": "Capital of France?"}, {"question": "Capital of Italy?"}]

    assert sorted(await _run(chain, mode, inputs)) == ["Paris", "Rome"]

    spans = instrumented.spans()
    assert sorted(tree(spans)) == sorted(SHAPE * 2)
    roots = [s for s in spans if s["name"] == "RunnableSequence"]
    assert len({r["trace_id"] for r in roots}) == 2  # two runs, two traces, nothing shared
    for root in roots:
        members = [s for s in spans if s["trace_id"] == root["trace_id"]]
        assert sorted(s["name"] for s in members) == sorted(name for _, name, _ in SHAPE)
        assert all(s["parent_id"] == root["span_id"] for s in members if s is not root)
        # the input (also for streams, which report it at the end) matches the run's own answer
        question = json.loads(root["attributes"]["traceglass.input"])["question"]
        chat = next(s for s in members if s["name"] == "FakeListChatModel")
        assert question in chat["attributes"]["gen_ai.input.messages"]
        assert root["attributes"]["traceglass.output"] == chat_answer(chat)
        streamed = mode in ("stream", "astream")
        assert ("gen_ai.request.stream" in chat["attributes"]) is streamed
        assert ("gen_ai.response.time_to_first_chunk" in chat["attributes"]) is streamed


def chat_answer(chat_span: dict) -> str:
    output = json.loads(chat_span["attributes"]["gen_ai.output.messages"])
    return output[0]["parts"][0]["content"]


def test_streamed_chat_model_records_stream_and_first_chunk(instrumented):
    model = FakeListChatModel(responses=["Hello"])
    assert "".join(c.content for c in model.stream("hi")) == "Hello"

    attributes = dict(instrumented.span("FakeListChatModel")["attributes"])
    first_chunk = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert 0 <= first_chunk < 5
    assert attributes == {
        "traceglass.span.type": "chat_model",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "fakelistchatmodel",
        "gen_ai.request.stream": True,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages":
            '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"stop"}]',
    }


def test_text_completion_llm(instrumented):
    assert FakeListLLM(responses=["ok"]).invoke("Say ok", stop=["\n"]) == "ok"

    span = instrumented.span("FakeListLLM")
    assert span["kind"] == "CLIENT"
    assert span["attributes"] == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "fakelist",
        "gen_ai.request.stop_sequences": ("\n",),
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Say ok"}]}]',
        "gen_ai.output.messages":
            '[{"role":"assistant","parts":[{"type":"text","content":"ok"}],"finish_reason":"stop"}]',
    }


def test_error_sets_status_and_error_type_and_reraises_unchanged(instrumented, no_detach_errors):
    failure = ValueError("bad input")

    def explode(_: object) -> str:
        raise failure

    chain = PROMPT | RunnableLambda(explode, name="explode")
    with pytest.raises(ValueError) as raised:
        chain.invoke({"question": "q"})
    assert raised.value is failure

    assert tree(instrumented.spans()) == [
        (0, "RunnableSequence", "chain"), (1, "ChatPromptTemplate", "chain"), (1, "explode", "chain")]
    for name in ("explode", "RunnableSequence"):
        span = instrumented.span(name)
        assert span["status"] == "ERROR"
        assert span["status_description"] == "ValueError: bad input"
        assert span["attributes"]["error.type"] == "ValueError"
        assert [e["name"] for e in span["events"]] == ["exception"]
    assert instrumented.span("ChatPromptTemplate")["status"] == "UNSET"


def test_decorator_span_above_and_user_spans_inside_join_the_tree(instrumented, no_detach_errors):
    tracer = instrumented.tracer_provider.get_tracer("user")

    def lookup(question: dict) -> str:
        with tracer.start_as_current_span("user-span"):
            FakeListChatModel(responses=["ok"]).invoke("check")  # a run under the user's own span
            with traceglass.span("inner-step", type="tool"):
                return question["question"].upper()

    @traceglass.observe(type="agent", name="answer")
    def answer(question: str) -> str:
        return (RunnableLambda(lookup, name="lookup") | StrOutputParser()).invoke({"question": question})

    assert answer("why") == "WHY"
    assert tree(instrumented.spans()) == [
        (0, "answer", "agent"),
        (1, "RunnableSequence", "chain"),
        (2, "lookup", "chain"),
        (3, "user-span", None),
        (4, "FakeListChatModel", "chat_model"),
        (4, "inner-step", "tool"),
        (2, "StrOutputParser", "chain"),
    ]
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left current afterwards


def test_concurrent_threads_never_cross_link(instrumented, no_detach_errors):
    questions = [f"question {i}" for i in range(8)]

    def ask(question: str) -> str:
        chain = PROMPT | RunnableLambda(lambda v: v.messages[-1].content, name="echo")
        return chain.invoke({"question": question})

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(ask, questions)) == questions
    _assert_isolated_echo_runs(instrumented.spans(), questions)


async def test_concurrent_tasks_never_cross_link(instrumented, no_detach_errors):
    questions = [f"question {i}" for i in range(8)]

    async def slow_echo(value) -> str:
        await asyncio.sleep(0.01)  # interleave the tasks
        return value.messages[-1].content

    chain = PROMPT | RunnableLambda(slow_echo, name="echo")
    results = await asyncio.gather(*(chain.ainvoke({"question": q}) for q in questions))
    assert results == questions
    _assert_isolated_echo_runs(instrumented.spans(), questions)


def _assert_isolated_echo_runs(spans: list[dict], questions: list[str]) -> None:
    roots = [s for s in spans if s["name"] == "RunnableSequence"]
    assert len(roots) == len(questions)
    assert len({r["trace_id"] for r in roots}) == len(questions)
    for root in roots:
        members = [s for s in spans if s["trace_id"] == root["trace_id"]]
        assert sorted(s["name"] for s in members) == ["ChatPromptTemplate", "RunnableSequence", "echo"]
        assert all(s["parent_id"] == root["span_id"] for s in members if s is not root)
        echo = next(s for s in members if s["name"] == "echo")
        assert echo["attributes"]["traceglass.output"] == root["attributes"]["traceglass.output"]
        assert json.loads(root["attributes"]["traceglass.input"])["question"] == root["attributes"]["traceglass.output"]


def test_hidden_runs_get_no_span(instrumented, no_detach_errors):
    # LangChain's plumbing tag; it is inherited, so what runs inside is plumbing too.
    inner = RunnableLambda(lambda v: v + "!", name="shout")
    plumbing = RunnableLambda(lambda v: inner.invoke(v), name="plumbing").with_config(tags=["langsmith:hidden"])
    chain = RunnableLambda(lambda v: v, name="first") | plumbing | RunnableLambda(lambda v: v, name="last")

    assert chain.invoke("hi") == "hi!"
    assert tree(instrumented.spans()) == [
        (0, "RunnableSequence", "chain"), (1, "first", "chain"), (1, "last", "chain")]
