"""LiteLLM's chunk models keep their fields as pydantic extras: the chat accumulator reads those dicts
(each attribute read would go through pydantic's ``__getattr__``), and must keep exactly what reading
the attributes keeps: text per choice, tool-call deltas, finish reasons and the usage chunk's usage."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices, Usage

from traceglass.instrumentors.litellm._stream import ChatAccumulator


def _chunk(*choices: dict, usage: Usage | None = None) -> ModelResponseStream:
    chunk = ModelResponseStream(id="chatcmpl-1", model="gpt-4o-mini", choices=[StreamingChoices(**c) for c in choices])
    if usage is not None:
        chunk.usage = usage  # as LiteLLM sets it on the last, choice-less chunk
    return chunk


def _chunks() -> list[ModelResponseStream]:
    call = {"id": "call_1", "type": "function", "index": 0, "function": {"name": "lookup", "arguments": '{"q"'}}
    more = {"index": 0, "function": {"arguments": ': "x"}'}}
    return [
        _chunk({"index": 0, "delta": Delta(role="assistant", content="")}),
        _chunk({"index": 0, "delta": Delta(content="Hel")}, {"index": 1, "delta": Delta(content="Other")}),
        _chunk({"index": 0, "delta": Delta(content="lo")}),
        _chunk({"index": 1, "delta": Delta(tool_calls=[call])}),
        _chunk({"index": 1, "delta": Delta(tool_calls=[more])}),
        _chunk({"index": 0, "delta": Delta(), "finish_reason": "stop"}, {"index": 1, "finish_reason": "tool_calls"}),
        _chunk(usage=Usage(prompt_tokens=11, completion_tokens=7, total_tokens=18)),
    ]


def _state(acc: ChatAccumulator) -> tuple:
    tools = {i: {k: (slot[0], slot[1], "".join(slot[2])) for k, slot in calls.items()} for i, calls in acc.tools.items()}
    return acc.texts, tools, acc.reasons, acc.usage and acc.usage.total_tokens, acc.last


def test_the_field_reads_keep_what_attribute_reads_keep(monkeypatch):
    chunks = _chunks()
    fast, slow = ChatAccumulator(), ChatAccumulator()
    calls = []
    real = ChatAccumulator._add_attributes
    monkeypatch.setattr(ChatAccumulator, "_add_attributes", lambda self, chunk: (calls.append(chunk), real(self, chunk)))
    for chunk in chunks:
        fast.add(chunk)
    assert calls == []  # every LiteLLM chunk was read through its fields
    for chunk in chunks:
        real(slow, chunk)
    assert _state(fast) == _state(slow)
    assert fast.texts == {0: ["Hel", "lo"], 1: ["Other"]}
    assert _state(fast)[1] == {1: {0: ("call_1", "lookup", '{"q": "x"}')}}
    assert fast.reasons == {0: "stop", 1: "tool_calls"} and fast.usage.total_tokens == 18


@pytest.mark.parametrize("chunk", [
    SimpleNamespace(usage=None, choices=[SimpleNamespace(index=0, delta=SimpleNamespace(content="x", tool_calls=None),
                                                         finish_reason=None)]),
])
def test_other_chunks_are_read_through_their_attributes(chunk):
    acc = ChatAccumulator()
    acc.add(chunk)
    assert acc.texts == {0: ["x"]} and acc.last is chunk
