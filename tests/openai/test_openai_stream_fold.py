"""Streams fold their chunks in batches (at the end, or every ``_FOLD_EVERY``): nothing recorded is lost."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk

from traceglass._handler import LLMInvocation
from traceglass._handler._invocations import UNSET
from traceglass.instrumentors.openai import _stream
from traceglass.instrumentors.openai._stream import ChoicesAccumulator
from traceglass.testing import capture

from ._fake_api import _stream as sse_stream
from ._fake_api import chat_usage
from .test_openai_chat import TEXT_OUTPUT_JSON, TOOL_OUTPUT_JSON, TOOLS
from .test_openai_stream import HI, HI_JSON, consume, create, streamed, without_ttft


@pytest.mark.parametrize("every", [1, 2, 3], ids=lambda n: f"fold-every-{n}")
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
async def test_batches_split_anywhere_keep_text_tool_deltas_finish_and_usage(instrumented, make_client, monkeypatch,
                                                                           every, is_async, tools):
    # Tool-call deltas (id and name in one chunk, the arguments over four more) and the text
    # pieces fall on every side of a batch boundary; the usage chunk comes last.
    monkeypatch.setattr(_stream, "_FOLD_EVERY", every)
    kwargs = {"model": "gpt-4o-mini", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    if tools:
        kwargs["tools"] = TOOLS
    with capture() as captured:
        chunks = await consume(await create(make_client(is_async), **kwargs))
    assert len(chunks) == (7 if tools else 6)
    expected = {**streamed("tool_calls" if tools else "stop"), "gen_ai.input.messages": HI_JSON,
                "gen_ai.output.messages": TOOL_OUTPUT_JSON if tools else TEXT_OUTPUT_JSON}
    if tools:
        expected["gen_ai.tool.definitions"] = captured.span("chat gpt-4o-mini")["attributes"]["gen_ai.tool.definitions"]
    assert without_ttft(captured.span("chat gpt-4o-mini")) == expected


@pytest.mark.parametrize("every", [1, 2, 3, 4, 5], ids=lambda n: f"fold-every-{n}")
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_the_usage_chunk_traceglass_asked_for_is_hidden_wherever_a_batch_ends(
        instrument, make_client, monkeypatch, every, is_async):
    # Six chunks come (five the caller sees, then the usage chunk): some batch size puts the usage
    # chunk, and any other, at a batch boundary.
    monkeypatch.setattr(_stream, "_FOLD_EVERY", every)
    client = make_client(is_async)
    bare = await consume(await create(client, model="gpt-4o-mini", messages=HI, stream=True))
    instrument()
    with capture() as captured:
        chunks = await consume(await create(client, model="gpt-4o-mini", messages=HI, stream=True))
    assert [(c.to_dict(), c.model_dump()) for c in chunks] == [(c.to_dict(), c.model_dump()) for c in bare]
    assert len(chunks) == 5
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed("stop"), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


def test_next_then_for_loop_read_one_stream(instrumented, make_client):
    with capture() as captured:
        stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
        first = [next(stream), next(stream)]
        rest = list(stream)
    assert [c.choices[0].delta.content for c in first + rest] == [
        "", "Hello", " there", "!", None]
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed("stop"), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


@pytest.mark.parametrize("every", [1, 2, 3, 256], ids=lambda n: f"fold-every-{n}")
def test_for_loops_and_next_mixed_across_batches_see_every_chunk_once(instrumented, make_client, monkeypatch, every):
    # The chunks pass through (the caller asked for the usage itself): a for loop broken off at
    # each chunk, resumed by next() and new for loops, crosses every batch boundary.
    monkeypatch.setattr(_stream, "_FOLD_EVERY", every)
    with capture() as captured:
        stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True,
                                                      stream_options={"include_usage": True})
        seen = []
        for chunk in stream:
            seen.append(chunk)
            break
        seen.append(next(stream))
        for chunk in stream:
            seen.append(chunk)
            if len(seen) == 4:
                break
        seen.extend(stream)
        assert list(stream) == []
    assert [c.choices[0].delta.content if c.choices else "usage" for c in seen] == [
        "", "Hello", " there", "!", None, "usage"]
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed("stop"), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


@pytest.mark.parametrize("every", [1, 2, 3, 256], ids=lambda n: f"fold-every-{n}")
@pytest.mark.parametrize("ask", [True, False], ids=["usage-asked", "usage-hidden"])
async def test_async_for_loops_and_anext_mixed_across_batches_see_every_chunk_once(instrument, make_client,
                                                                                  monkeypatch, every, ask):
    # An async for loop broken off at the first chunk, resumed by __anext__ and new async for
    # loops, crosses every batch boundary; with the usage hidden, the usage chunk is never seen.
    monkeypatch.setattr(_stream, "_FOLD_EVERY", every)
    instrument(capture_usage_in_stream=True)
    kwargs = {"stream_options": {"include_usage": True}} if ask else {}
    with capture() as captured:
        stream = await make_client(True).chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True,
                                                                 **kwargs)
        seen = []
        async for chunk in stream:
            seen.append(chunk)
            break
        seen.append(await stream.__anext__())
        async for chunk in stream:
            seen.append(chunk)
            if len(seen) == 4:
                break
        seen.extend([chunk async for chunk in stream])
        assert [chunk async for chunk in stream] == []
    assert [c.choices[0].delta.content if c.choices else "usage" for c in seen] == [
        "", "Hello", " there", "!", None] + (["usage"] if ask else [])
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed("stop"), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


# --- the fold against chunk-by-chunk accumulation -------------------------------------------------
def _chunk(choices: list[dict], usage: dict | None = None) -> dict:
    return {"id": "chatcmpl-fold", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-x",
            "service_tier": "default", "system_fingerprint": "fp_fold", "choices": choices, "usage": usage}


def _choice(index: int, delta: dict, finish: str | None = None) -> dict:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def _call(index: int, call_id: str | None, name: str | None, arguments: str) -> dict:
    function = {"arguments": arguments, **({"name": name} if name else {})}
    return {"index": index, **({"id": call_id, "type": "function"} if call_id else {}), "function": function}


# Two choices interleaved: choice 1 streams text, choice 0 two tool calls whose arguments arrive in
# pieces; usage rides on a chunk before the last (as some OpenAI-compatible servers send it).
MULTI = [
    _chunk([_choice(0, {"role": "assistant", "content": ""}), _choice(1, {"role": "assistant", "content": "Bon"})]),
    _chunk([_choice(0, {"tool_calls": [_call(0, "call_a", "get_weather", '{"ci')]})]),
    _chunk([_choice(1, {"content": "jour"}), _choice(0, {"tool_calls": [_call(0, None, None, 'ty": "Paris"}')]})]),
    _chunk([_choice(0, {"tool_calls": [_call(1, "call_b", "get_time", "{}")]})]),
    _chunk([_choice(1, {"content": "!"}, "stop")], usage=chat_usage()),
    _chunk([_choice(0, {}, "tool_calls")]),
]


def _sdk_chunks() -> list:
    return [construct_type(type_=ChatCompletionChunk, value=chunk) for chunk in MULTI]


def _plain(value):
    """The same chunk as plain objects (every field an attribute, no pydantic model)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _plain(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _applied(accumulator: ChoicesAccumulator) -> dict:
    inv = LLMInvocation.new(operation="chat")
    accumulator.apply(inv, True)
    return {k: v for k, v in vars(inv).items() if v is not None and v is not UNSET and k != "attributes"}


EXPECTED_MULTI = {
    "response_id": "chatcmpl-fold", "response_model": "gpt-4o-mini-x", "response_service_tier": "default",
    "system_fingerprint": "fp_fold", "finish_reasons": ["tool_calls", "stop"],
    "input_tokens": 20, "output_tokens": 5, "cache_read_tokens": 8, "reasoning_tokens": 2,
    "output_messages": [
        {"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "tool_call", "id": "call_a", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"type": "tool_call", "id": "call_b", "name": "get_time", "arguments": {}}]},
        {"role": "assistant", "finish_reason": "stop", "parts": [{"type": "text", "content": "Bonjour!"}]},
    ],
}


@pytest.mark.parametrize("make", [_sdk_chunks, lambda: [_plain(c.model_dump()) for c in _sdk_chunks()]], ids=["sdk-models", "plain"])
@pytest.mark.parametrize("batch", [1, 2, 4, 6])
def test_fold_in_any_batches_equals_adding_each_chunk(make, batch):
    one_by_one, folded = ChoicesAccumulator(), ChoicesAccumulator()
    for chunk in make():
        one_by_one.add(chunk)
    chunks = make()
    for start in range(0, len(chunks), batch):
        folded.fold(chunks[start:start + batch])
    expected = {**EXPECTED_MULTI, "start_time_ns": 0, "span_type": "llm", "operation": "chat"}
    for key in ("usage_estimated", "subtree_reported_usage", "subtree_model_call"):
        expected[key] = False
    assert _applied(one_by_one) == expected
    assert _applied(folded) == expected


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_a_choice_without_a_delta_folds_as_adding_it_does(batch):
    """Some OpenAI-compatible servers send ``"delta": null``: the batch holding it is added chunk by chunk."""
    chunks = MULTI[:2] + [_chunk([_choice(1, None)])] + MULTI[2:]
    folded = ChoicesAccumulator()
    models = [construct_type(type_=ChatCompletionChunk, value=chunk) for chunk in chunks]
    assert models[2].choices[0].delta is None
    for start in range(0, len(models), batch):
        folded.fold(models[start:start + batch])
    assert _applied(folded)["output_messages"] == EXPECTED_MULTI["output_messages"]


# --- content capture off: the fold reads the finish reasons only ----------------------------------
# MULTI with choice 1's reason sent again, changed, after its first one: the last one given counts.
REASON_TWICE = MULTI[:5] + [_chunk([_choice(1, {}, "length")])] + MULTI[5:]
# MULTI with a second usage, on a chunk of its own at the end: the last one given counts.
USAGE_TWICE = MULTI + [_chunk([], usage=chat_usage(completion=9))]


@pytest.mark.parametrize("chunks", [MULTI, REASON_TWICE, USAGE_TWICE], ids=["multi", "reason-twice", "usage-twice"])
@pytest.mark.parametrize("batch", [1, 2, 4, 7])
def test_a_fold_without_content_keeps_what_the_full_fold_keeps_but_content(chunks, batch):
    full, reasons_only = ChoicesAccumulator(), ChoicesAccumulator()
    reasons_only.skip_content(2)
    models = [construct_type(type_=ChatCompletionChunk, value=chunk) for chunk in chunks]
    full.fold(models)
    for start in range(0, len(models), batch):
        reasons_only.fold(models[start:start + batch])
    inv_full, inv_reasons = LLMInvocation.new(operation="chat"), LLMInvocation.new(operation="chat")
    full.apply(inv_full, False)
    reasons_only.apply(inv_reasons, False)
    assert vars(inv_reasons) == vars(inv_full)
    last_of_choice_1 = "length" if chunks is REASON_TWICE else "stop"
    assert inv_reasons.finish_reasons == ["tool_calls", last_of_choice_1]
    assert inv_reasons.output_tokens == (9 if chunks is USAGE_TWICE else 5)
    assert (reasons_only.texts, reasons_only.tools) == ({}, {})  # no content was read


@pytest.mark.parametrize("n", [None, 0, -1, "2", 1.5])
def test_a_choice_count_that_is_not_a_positive_int_reads_one_choice(n):
    accumulator = ChoicesAccumulator()
    accumulator.skip_content(n)
    assert accumulator.choices == 1


def _multi_client(is_async: bool, seen: list):
    import openai

    from .conftest import HTTPX

    def answer(request):
        seen.append(json.loads(request.content))
        status, headers, payload = sse_stream(MULTI)
        return HTTPX.Response(status, headers=headers, content=payload)

    transport = HTTPX.MockTransport(answer)
    if is_async:
        return openai.AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0,
                                  http_client=HTTPX.AsyncClient(transport=transport))
    return openai.OpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0,
                         http_client=HTTPX.Client(transport=transport))


@pytest.mark.parametrize("every", [1, 2, 256], ids=lambda n: f"fold-every-{n}")
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
async def test_two_choices_keep_both_finish_reasons_with_content_on_or_off(instrumented, monkeypatch, every,
                                                                            is_async, content):
    # Choice 1 finishes four chunks before choice 0 does: with content off, reading back from the
    # end stops only when both choices the request asked for (n=2) have their reason.
    monkeypatch.setattr(_stream, "_FOLD_EVERY", every)
    seen: list = []
    with capture(capture_content=content) as captured:
        chunks = await consume(await create(_multi_client(is_async, seen), model="gpt-4o-mini", messages=HI,
                                            n=2, stream=True, stream_options={"include_usage": True}))
    assert len(chunks) == len(MULTI) and seen[0]["n"] == 2
    attributes = captured.span("chat gpt-4o-mini")["attributes"]
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls", "stop")
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (20, 5)
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-x"
    assert ("gen_ai.output.messages" in attributes) is content


@pytest.mark.parametrize("usage", [True, False], ids=["usage", "no-usage"])
def test_a_fold_without_content_reads_back_from_the_end_only_until_every_choice_has_its_reason(usage):
    chunk_reads, choice_reads = [], []

    class Watched:  # an SDK model whose fields are read through this __dict__
        def __init__(self, number, model, reads, **replaced):
            self.number, self.model, self.reads, self.replaced = number, model, reads, replaced

        @property
        def __dict__(self):
            self.reads.append(self.number)
            return {**self.model.__dict__, **self.replaced}

    def watched(number, model):
        choices = [Watched(number, choice, choice_reads) for choice in model.choices]
        return Watched(number, model, chunk_reads, choices=choices, **({} if usage else {"usage": None}))

    accumulator = ChoicesAccumulator()
    accumulator.skip_content(2)
    accumulator.fold([watched(i, model) for i, model in enumerate(_sdk_chunks())])
    assert accumulator.reasons == {0: "tool_calls", 1: "stop"}
    # choice 0's reason is in the last chunk, choice 1's (and the usage) in the one before; without a
    # usage every chunk is looked at for one, but no choice once both have their reason
    assert chunk_reads == ([5, 4] if usage else [5, 4, 3, 2, 1, 0])
    assert choice_reads == [5, 4]
    assert (accumulator.usage.completion_tokens if usage else accumulator.usage) == (5 if usage else None)
