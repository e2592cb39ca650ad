"""What ``configure(mask=fn)`` receives, and what is recorded.

The contract (README "Prompts and completions"): ``fn`` sees strings, one call per string inside a
captured value (message parts' text, tool arguments, function inputs and outputs, retrieved
documents); dict keys, numbers and the message shape's own strings (role, part type, tool call id
and name, finish reason) pass through. ``traceglass.mask_whole_values(fn)`` is the escape hatch: it
hands ``fn`` each content attribute's whole Python value, as the mask used to get it.
"""

from __future__ import annotations

import json
import logging

import pytest

import traceglass
from traceglass import LlmAttributes, RetrieverAttributes, observe, trace_llm, update_current_span_attributes
from traceglass._handler import _mask
from traceglass.testing import capture


def _recording_mask(seen: list, wrap=lambda s: f"<{s}>"):
    def mask(value):
        seen.append(value)
        return wrap(value)

    return mask


def test_mask_sees_the_text_of_messages_not_their_role_or_part_type():
    seen: list = []

    @trace_llm(name="llm", model="gpt-4o")
    def llm(prompt):
        update_current_span_attributes(LlmAttributes(input=prompt, output="an answer"))
        return "an answer"

    with capture(mask=_recording_mask(seen)) as captured:
        llm("a question")
    # the messages' text, and traceglass.input/output
    assert sorted(seen) == ["a question", "a question", "an answer", "an answer"]
    assert captured.span("llm")["attributes"] == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"<a question>"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"<an answer>"}],'
                                  '"finish_reason":"stop"}]',
        "traceglass.input": "<a question>",
        "traceglass.output": "<an answer>",
    }


def test_mask_sees_every_string_of_a_functions_arguments_and_return_value_but_not_keys_or_numbers():
    seen: list = []

    @observe(type="tool")
    def lookup(city, options):
        return {"temp": 21, "notes": ["dry", {"wind": "calm"}]}

    with capture(mask=_recording_mask(seen)) as captured:
        lookup("Oslo", options=("metric", {"lang": "nb"}))
    assert sorted(seen) == ["Oslo", "calm", "dry", "metric", "nb"]
    attributes = captured.span("lookup")["attributes"]
    assert json.loads(attributes["gen_ai.tool.call.arguments"]) == {"city": "<Oslo>",
                                                                    "options": ["<metric>", {"lang": "<nb>"}]}
    assert json.loads(attributes["gen_ai.tool.call.result"]) == {"temp": 21, "notes": ["<dry>", {"wind": "<calm>"}]}


def test_mask_sees_a_retrieval_query_and_each_documents_text():
    seen: list = []

    @observe(type="retriever")
    def search(query):
        update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=["doc one"]))
        return ["doc one"]

    with capture(mask=_recording_mask(seen)) as captured:
        search("where")
    attributes = captured.span("search")["attributes"]
    assert attributes["gen_ai.retrieval.query.text"] == "<where>"
    assert json.loads(attributes["gen_ai.retrieval.documents"]) == [{"content": "<doc one>"}]
    assert all(isinstance(value, str) for value in seen)


def test_mask_whole_values_hands_the_mask_each_attributes_python_value():
    seen: list = []

    @trace_llm(name="llm", model="gpt-4o")
    def llm(prompt):
        update_current_span_attributes(LlmAttributes(input=prompt, output="an answer"))
        return "an answer"

    @observe(type="tool")
    def lookup(city, units="metric"):
        return {"temp": 21}

    whole = traceglass.mask_whole_values(_recording_mask(seen, wrap=lambda value: {"masked": True}))
    assert traceglass.mask_whole_values(whole) is whole
    with capture(mask=whole) as captured:
        llm("a question")
        lookup("Oslo")
    assert seen[0] == [{"role": "user", "parts": [{"type": "text", "content": "a question"}]}]
    assert seen[1] == [{"role": "assistant", "parts": [{"type": "text", "content": "an answer"}],
                        "finish_reason": "stop"}]
    assert seen[2:4] == ["a question", "an answer"]  # traceglass.input and traceglass.output
    assert seen[4:] == [{"city": "Oslo"}, {"temp": 21}]  # the arguments as called, defaults not filled in
    attributes = captured.span("lookup")["attributes"]
    assert json.loads(attributes["gen_ai.tool.call.arguments"]) == {"masked": True}
    assert json.loads(attributes["gen_ai.tool.call.result"]) == {"masked": True}
    with pytest.raises(ValueError, match="callable"):
        traceglass.mask_whole_values("not a function")


@pytest.mark.parametrize("raise_internal", ["1", "0"])
def test_a_raising_mask_loses_only_that_value_logs_and_never_breaks_the_call(monkeypatch, caplog, raise_internal):
    def mask(text):
        if text == "Oslo":
            raise RuntimeError("mask bug")
        return "***"

    @observe(type="tool")
    def lookup(city):
        return "sunny"

    # the user's mask is not our fault: swallowed even when the suite re-raises our own faults
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", raise_internal)
    monkeypatch.setattr(_mask, "_warned", False)
    with caplog.at_level(logging.DEBUG, logger="traceglass"), capture(mask=mask) as captured:
        assert lookup("Oslo") == "sunny"
        assert lookup("Oslo") == "sunny"
    for span in captured.spans():
        assert span["attributes"] == {"traceglass.span.type": "tool", "gen_ai.operation.name": "execute_tool",
                                      "gen_ai.tool.name": "lookup", "gen_ai.tool.call.result": "***"}
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "traceglass"]
    assert records == [
        (logging.WARNING, "configure(mask=...) raised on gen_ai.tool.call.arguments; that value was left out of "
                          "the span (further mask errors are logged at debug)"),
        (logging.DEBUG, "configure(mask=...) raised on gen_ai.tool.call.arguments; that value was left out"),
    ]
