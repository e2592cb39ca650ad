"""TraceBridge: stored traces (real SQLite, real SDK spans, the real openai SDK) to evaluation items."""

from __future__ import annotations

import json

import pytest

import traceglass
from traceglass import RetrieverAttributes, observe, update_current_span_attributes
from traceglass.demo.fake_openai import FakeOpenAIServer
from traceglass.evals import EvalDataset, EvalItem, TraceBridge
from traceglass.evals import _bridge
from traceglass.store import TraceStore

from ._traces import Spans, stored_app

DOCS = ["Paris is the capital of France.", "The Seine flows through Paris."]


@pytest.fixture
def rag_db(store_target):
    """One RAG trace made by the app: chain -> retriever, chat (the openai SDK against the fake), on
    each backend (a SQLite file, a PostgreSQL database: tests/conftest.py)."""
    path = store_target
    with FakeOpenAIServer() as server, stored_app(path):
        client = traceglass.TracedOpenAI(base_url=server.base_url, api_key="test")

        @observe(type="retriever")
        def search(query: str) -> list[str]:
            update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=DOCS))
            return DOCS

        @observe(type="chain")
        def answer(question: str) -> str:
            search(question)
            response = client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": question}])
            return response.choices[0].message.content

        with traceglass.session("s-1", user_id="u-1", tags=["faq"]):
            reply = answer("What is the capital of France?")
    return path, reply


def test_the_last_llm_call_of_a_rag_trace_is_its_item(rag_db):
    path, reply = rag_db
    with TraceStore(path) as store:
        trace = store.get_trace(store.list_traces().traces[0].trace_id)
        chat = trace.span("chat gpt-4o-mini")
        dataset = TraceBridge(store).to_dataset()
    assert isinstance(dataset, EvalDataset) and len(dataset) == 1
    assert dataset[0] == EvalItem(
        input=[{"role": "system", "content": "Answer briefly."},
               {"role": "user", "content": "What is the capital of France?"}],
        output=reply,
        context=DOCS,
        metadata={"span_name": "chat gpt-4o-mini", "span_type": "llm", "status": "UNSET",
                  "latency_ms": chat.duration_ms, "model": chat.model, "input_tokens": chat.input_tokens,
                  "output_tokens": chat.output_tokens, "total_tokens": chat.total_tokens,
                  "session_id": "s-1", "user_id": "u-1", "project": chat.project, "tags": ["faq"]},
        trace_id=trace.trace_id, span_id=chat.span_id)
    assert chat.input_tokens > 0 and reply


def test_answer_root_takes_the_decorated_function_input_and_return_value(rag_db):
    path, reply = rag_db
    with TraceStore(path) as store:
        summary = store.list_traces().traces[0]
        root = store.get_trace(summary.trace_id).root
        [item] = TraceBridge(store).to_dataset(answer="root")
    assert item == EvalItem(
        input={"question": "What is the capital of France?"}, output=reply, context=DOCS,
        metadata={"span_name": "answer", "span_type": "chain", "status": "UNSET", "latency_ms": summary.latency_ms,
                  "model": "gpt-4o-mini-2024-07-18", "input_tokens": summary.input_tokens,
                  "output_tokens": summary.output_tokens, "total_tokens": summary.total_tokens,
                  "session_id": "s-1", "user_id": "u-1", "project": summary.project, "tags": ["faq"]},
        trace_id=summary.trace_id, span_id=root.span_id)


def test_answer_all_and_name_pick_spans_by_type_and_name(rag_db):
    path, _ = rag_db
    bridge = TraceBridge(path)
    try:
        retrieved = bridge.to_dataset(span_type="retriever", answer="all")
        assert [(i.input, i.output, i.metadata["span_name"]) for i in retrieved] == [
            ("What is the capital of France?", DOCS, "search")]
        assert len(bridge.to_dataset(name="search")) == 0  # no llm span is called search
        assert [i.metadata["span_name"] for i in bridge.to_dataset(span_type=None, name="answer")] == ["answer"]
        with pytest.raises(ValueError, match="answer must be one of last, root, all"):
            bridge.to_dataset(answer="first")
    finally:
        bridge.close()


def test_judge_traces_are_never_items_and_limit_counts_items(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    made = [spans.chat(0, "q0", "a0"), spans.chat(1000, "q1", "a1", judge=True), spans.chat(2000, "q2", "a2"),
            spans.chat(3000, "q3", "a3", judge=True)]
    spans.close()
    with TraceStore(path) as store:
        items = TraceBridge(store).to_dataset()
        assert [(i.input, i.output, i.trace_id, i.span_id) for i in items] == [
            ([{"role": "user", "content": "q2"}], "a2", *made[2]),
            ([{"role": "user", "content": "q0"}], "a0", *made[0])]
        assert [i.output for i in TraceBridge(store).to_dataset(limit=1)] == ["a2"]
        assert items[0].metadata == {"span_name": "chat gpt-4o-mini", "span_type": "llm", "status": "UNSET",
                                     "latency_ms": 250.0, "model": "gpt-4o-mini", "input_tokens": 10,
                                     "output_tokens": 5, "total_tokens": 15, "cost_usd": 0.002, "project": "shop"}


def test_traces_are_read_a_page_at_a_time_in_bulk(tmp_path, monkeypatch):
    path = tmp_path / "t.db"
    spans = Spans(path)
    for n in range(7):
        spans.chat(n * 1000, f"q{n}", f"a{n}")
    spans.close()
    monkeypatch.setattr(_bridge, "_PAGE", 3)
    with TraceStore(path) as store:
        reads = []
        bulk = store.trace_spans
        monkeypatch.setattr(store, "trace_spans", lambda ids: reads.append(len(ids)) or bulk(ids))
        monkeypatch.setattr(store, "get_trace", lambda *a, **k: pytest.fail("one get_trace per trace"))
        bridge = TraceBridge(store)
        assert [i.output for i in bridge.to_dataset()] == [f"a{n}" for n in range(6, -1, -1)]
        assert reads == [3, 3, 1]
        reads.clear()
        assert [i.output for i in bridge.to_dataset(limit=4)] == ["a6", "a5", "a4", "a3"]
        assert reads == [3, 3]


def test_filters_reach_the_trace_list(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    spans.chat(0, "q0", "a0", extra={"session.id": "s-a", "user.id": "alice"})
    spans.chat(1000, "q1", "a1", extra={"session.id": "s-b", "user.id": "bob"})
    spans.close()
    spans = Spans(path, project="other")
    other = spans.chat(2000, "q2", "a2")
    spans.close()
    with TraceStore(path) as store:
        store.add_score("helpfulness", 0.2, trace_id=other[0])
        bridge = TraceBridge(store)

        def outputs(**filters):
            return [i.output for i in bridge.to_dataset(**filters)]

        assert outputs() == ["a2", "a1", "a0"]
        assert outputs(project="shop") == ["a1", "a0"]
        assert outputs(session_id="s-a") == ["a0"]
        assert outputs(user_id="bob") == ["a1"]
        assert outputs(score_name="helpfulness", max_score=0.5) == ["a2"]
        assert outputs(score_name="helpfulness", min_score=0.5) == []
        assert outputs(since=1_800_000_000.5) == ["a2", "a1"]
        assert outputs(until=1_800_000_000.5) == ["a0"]
        assert outputs(status="error") == []
        assert outputs(model="gpt-4o-mini") == ["a2", "a1", "a0"]
        assert outputs(span_type="tool") == []


def test_tool_calls_system_instructions_and_unparsable_content_are_kept(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    tool_call = {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "lookup",
                                                 "arguments": {"q": "x"}}], "finish_reason": "tool_calls"}
    spans.chat(0, "q", "unused", extra={
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be terse."}]),
        "gen_ai.output.messages": json.dumps([tool_call])})
    spans.span("plain", 1000, 1001, {"traceglass.span.type": "llm", "traceglass.input": "{not json",
                                     "traceglass.output": "[1, 2]"})
    spans.close()
    with TraceStore(path) as store:
        plain, chat = TraceBridge(store).to_dataset()
    assert chat.input == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "q"}]
    assert chat.output == tool_call
    assert (plain.input, plain.output) == ("{not json", [1, 2])


def test_a_path_or_the_default_database(tmp_path, monkeypatch):
    path = tmp_path / "default.db"
    spans = Spans(path)
    spans.chat(0, "q", "a")
    spans.close()
    monkeypatch.setenv("TRACEGLASS_DB", str(path))
    with TraceBridge() as bridge:
        assert [i.output for i in bridge.to_dataset()] == ["a"]
    assert [i.output for i in TraceBridge(str(path)).to_dataset()] == ["a"]
    with pytest.raises(TypeError, match="store must be a TraceStore, a path or None, got int"):
        TraceBridge(3)  # type: ignore[arg-type]


def test_the_innermost_of_nested_llm_spans_answers(tmp_path):
    # @observe(type="llm") around the SDK call makes two llm spans; the model call inside is the answer.
    path = tmp_path / "t.db"
    with FakeOpenAIServer() as server, stored_app(path):
        client = traceglass.TracedOpenAI(base_url=server.base_url, api_key="test")

        @observe(type="llm", name="generate")
        def generate(question: str) -> str:
            return client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "user", "content": question}]).choices[0].message.content

        reply = generate("Why is the sky blue?")
    with TraceStore(path) as store:
        [last] = TraceBridge(store).to_dataset()
        every = TraceBridge(store).to_dataset(answer="all")
    assert (last.metadata["span_name"], last.input, last.output) == (
        "chat gpt-4o-mini", [{"role": "user", "content": "Why is the sky blue?"}], reply)
    assert [(i.metadata["span_name"], i.input) for i in every] == [
        ("generate", {"question": "Why is the sky blue?"}),
        ("chat gpt-4o-mini", [{"role": "user", "content": "Why is the sky blue?"}])]
