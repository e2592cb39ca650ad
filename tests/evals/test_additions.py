"""items_to_add: the one choice of "the item of a trace" that POST /api/datasets/{name}/items and
``traceglass datasets add`` both make (each has its own end-to-end test; this pins the choice)."""

from __future__ import annotations

import pytest

from traceglass.evals._additions import items_to_add
from traceglass.store import TraceStore

from ._traces import Spans


def _llm(question: str, reply: str) -> dict[str, str]:
    return {"traceglass.span.type": "llm", "traceglass.input": question, "traceglass.output": reply}


@pytest.fixture
def traces(tmp_path):
    """A store with: two nested LLM calls under an agent, a trace with no LLM call, a judge's trace."""
    path = tmp_path / "t.db"
    spans = Spans(path)
    found: dict[str, object] = {}

    def calls(agent):
        found["first"] = spans.span("first call", 1, 10, _llm("q1", "a1"), parent=agent)
        found["second"] = spans.span("second call", 11, 20, _llm("q2", "a2"), parent=agent)

    agent = spans.span("agent", 0, 30, {"traceglass.span.type": "agent", "traceglass.input": "ask",
                                        "traceglass.output": "told"}, children=calls)
    plain = spans.span("plain step", 100, 110, {"traceglass.span.type": "chain", "traceglass.input": "in",
                                                "traceglass.output": "out"})
    judged, _ = spans.chat(200, "judge me", "fine", judge=True)
    spans.close()
    hexes = {key: (format(s.get_span_context().trace_id, "032x"), format(s.get_span_context().span_id, "016x"))
             for key, s in {**found, "agent": agent, "plain": plain}.items()}
    with TraceStore(path) as store:
        yield store, hexes, judged


def _chosen(items):
    return [(i.input, i.output, i.span_id) for i in items]


def test_default_is_the_last_llm_call_then_the_root_when_there_is_none(traces):
    store, ids, judged = traces
    agent_trace = ids["agent"][0]
    assert _chosen(items_to_add(store, agent_trace)) == [("q2", "a2", ids["second"][1])]
    assert _chosen(items_to_add(store, agent_trace.upper())) == [("q2", "a2", ids["second"][1])]
    assert _chosen(items_to_add(store, ids["plain"][0])) == [("in", "out", ids["plain"][1])]  # no LLM call
    assert items_to_add(store, judged) == []  # a judge's trace is never an item, not even its root


def test_a_span_or_an_explicit_answer_is_taken_as_given(traces):
    store, ids, _ = traces
    agent_trace, plain_trace = ids["agent"][0], ids["plain"][0]
    assert _chosen(items_to_add(store, agent_trace, span_id=ids["first"][1])) == [("q1", "a1", ids["first"][1])]
    assert _chosen(items_to_add(store, plain_trace, span_id=ids["plain"][1])) == [("in", "out", ids["plain"][1])]
    assert _chosen(items_to_add(store, agent_trace, answer="root")) == [("ask", "told", ids["agent"][1])]
    assert _chosen(items_to_add(store, agent_trace, answer="all")) == [
        ("q1", "a1", ids["first"][1]), ("q2", "a2", ids["second"][1])]
    assert items_to_add(store, plain_trace, answer="last") == []  # asked for: no fallback to the root


def test_unknown_traces_and_spans_raise_key_error(traces):
    store, ids, _ = traces
    with pytest.raises(KeyError, match="no trace 'eeee"):
        items_to_add(store, "e" * 32)
    with pytest.raises(KeyError, match=f"no span 'ffff.*' in trace {ids['agent'][0]}"):
        items_to_add(store, ids["agent"][0], span_id="f" * 16)
    with pytest.raises(ValueError, match="answer must be one of last, root, all"):
        items_to_add(store, ids["agent"][0], answer="middle")
