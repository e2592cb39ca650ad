"""What ``configure(mask=fn)`` receives: the captured Python value of each content attribute, before
it is serialized. README's "Prompts and completions" section documents these shapes; this pins them."""

from __future__ import annotations

import json

from traceglass import LlmAttributes, RetrieverAttributes, observe, trace_llm, update_current_span_attributes
from traceglass.testing import capture


def _recording_mask(seen: list):
    def mask(value):
        seen.append(value)
        return value

    return mask


def test_mask_receives_messages_as_lists_of_role_and_parts():
    seen: list = []

    @trace_llm(name="llm", model="gpt-4o")
    def llm(prompt):
        update_current_span_attributes(LlmAttributes(input=prompt, output="an answer"))
        return "an answer"

    with capture(mask=_recording_mask(seen)):
        llm("a question")
    assert seen[0] == [{"role": "user", "parts": [{"type": "text", "content": "a question"}]}]
    assert seen[1][0]["role"] == "assistant"
    assert seen[1][0]["parts"] == [{"type": "text", "content": "an answer"}]


def test_mask_receives_a_functions_bound_arguments_and_its_return_value():
    seen: list = []

    @observe(type="tool")
    def lookup(city, units="metric"):
        return {"temp": 21}

    with capture(mask=_recording_mask(seen)) as captured:
        lookup("Oslo")
    # the arguments as called, by parameter name (defaults not filled in)
    assert seen == [{"city": "Oslo"}, {"temp": 21}]
    attributes = captured.span("lookup")["attributes"]
    assert json.loads(attributes["gen_ai.tool.call.arguments"]) == {"city": "Oslo"}


def test_mask_receives_a_retrieval_query_as_text_and_documents_as_objects():
    seen: list = []

    @observe(type="retriever")
    def search(query):
        update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=["doc one"]))
        return ["doc one"]

    with capture(mask=_recording_mask(seen)):
        search("where")
    assert "where" in seen
    assert [{"content": "doc one"}] in seen


def test_what_mask_returns_is_recorded_and_a_raising_mask_loses_only_that_value(monkeypatch):
    def mask(value):
        if isinstance(value, dict) and "city" in value:
            raise RuntimeError("mask bug")
        return {"masked": True}

    @observe(type="tool")
    def lookup(city):
        return "sunny"

    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")  # production behaviour: swallow and log
    with capture(mask=mask) as captured:
        assert lookup("Oslo") == "sunny"
    attributes = captured.span("lookup")["attributes"]
    assert "gen_ai.tool.call.arguments" not in attributes
    assert json.loads(attributes["gen_ai.tool.call.result"]) == {"masked": True}
