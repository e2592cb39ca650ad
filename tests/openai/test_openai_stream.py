"""Streams: aggregation, end-exactly-once in every way a stream can end, never current, raw/parse/helpers."""

from __future__ import annotations

import gc

import openai
import pydantic
import pytest
from opentelemetry import trace
from .test_openai_chat import (
    TEXT_OUTPUT_JSON,
    TOOL_OUTPUT_JSON,
    TOOLS,
    base_attributes,
    response_attributes,
)

from .._async import run_loop_until
from traceglass.testing import capture

HI = [{"role": "user", "content": "hi"}]
HI_JSON = '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'
TOOLS_JSON = ('[{"type":"function","name":"get_weather","description":"Weather for a city",'
              '"parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]')
NO_USAGE = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.reasoning.output_tokens")


def without_ttft(span: dict) -> dict:
    attributes = dict(span["attributes"])
    ttft = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert isinstance(ttft, float) and 0 < ttft < 5
    return attributes


def streamed(finish: str = "stop", usage: bool = True) -> dict:
    out = {**base_attributes(), "gen_ai.request.stream": True, **response_attributes(finish)}
    if not usage:
        for key in NO_USAGE:
            del out[key]
    return out


def helpers(client):
    """Where parse()/stream() live: ``chat.completions`` (openai >= 1.92) or ``beta.chat.completions``."""
    completions = client.chat.completions
    return completions if hasattr(completions, "parse") else client.beta.chat.completions


async def consume(stream) -> list:
    if isinstance(stream, openai.AsyncStream):
        return [chunk async for chunk in stream]
    return list(stream)


async def create(client, **kwargs):
    result = client.chat.completions.create(**kwargs)
    return await result if isinstance(client, openai.AsyncOpenAI) else result


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
async def test_stream_aggregates_text_tool_calls_finish_and_usage(instrumented, make_client, is_async, content,
                                                                  tools):
    client = make_client(is_async)
    kwargs = {"model": "gpt-4o-mini", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    if tools:
        kwargs["tools"] = TOOLS
    with capture(capture_content=content) as captured:
        stream = await create(client, **kwargs)
        assert isinstance(stream, openai.AsyncStream if is_async else openai.Stream)
        assert captured.spans() == []  # open until consumed
        chunks = await consume(stream)
    assert len(chunks) == (7 if tools else 6)
    span = captured.span("chat gpt-4o-mini")
    expected = streamed("tool_calls" if tools else "stop")
    if content:
        expected["gen_ai.input.messages"] = HI_JSON
        expected["gen_ai.output.messages"] = TOOL_OUTPUT_JSON if tools else TEXT_OUTPUT_JSON
        if tools:
            expected["gen_ai.tool.definitions"] = TOOLS_JSON
    assert without_ttft(span) == expected
    assert span["status"] == "UNSET"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_request_is_unchanged_with_stream_usage_off(instrument, make_client, captured, requests_seen,
                                                          is_async):
    instrument(capture_usage_in_stream=False)
    client = make_client(is_async)
    await consume(await create(client, model="gpt-4o-mini", messages=HI, stream=True))
    assert b"stream_options" not in requests_seen[0].content
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed(usage=False), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_usage_by_default(instrumented, make_client, captured, requests_seen, is_async):
    client = make_client(is_async)
    chunks = await consume(await create(client, model="gpt-4o-mini", messages=HI, stream=True))
    assert b'"stream_options":{"include_usage":true}' in requests_seen[0].content.replace(b" ", b"")
    assert [chunk.choices[0].finish_reason for chunk in chunks] == [None, None, None, None, "stop"]  # no usage chunk
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed(), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


def test_estimate_tokens_opt_in(instrument, make_client, captured):
    instrument(estimate_tokens=True, capture_usage_in_stream=False)
    list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
    attributes = without_ttft(captured.span("chat gpt-4o-mini"))
    # tiktoken has no encoding file offline here, so the word count applies: "hi" + 3 framing; "Hello there!" = 3.
    assert {k: attributes[k] for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                       "traceglass.usage.estimated")} == {
        "gen_ai.usage.input_tokens": 4, "gen_ai.usage.output_tokens": 3, "traceglass.usage.estimated": True}


def test_estimate_tokens_reads_the_streamed_text_with_content_capture_off(instrument, make_client):
    # No content recorded, but the estimate of the output tokens counts the text: it is still read.
    instrument(estimate_tokens=True, capture_usage_in_stream=False)
    with capture(capture_content=False) as captured:
        list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
    attributes = without_ttft(captured.span("chat gpt-4o-mini"))
    assert "gen_ai.output.messages" not in attributes and "gen_ai.input.messages" not in attributes
    assert (attributes["gen_ai.usage.output_tokens"], attributes["traceglass.usage.estimated"]) == (3, True)
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)


# --- ends exactly once ----------------------------------------------------------------------------------
def _one_span(captured) -> dict:
    spans = captured.spans()
    assert [s["name"] for s in spans] == ["chat gpt-4o-mini"]
    return spans[0]


def test_break_then_close_ends_once_with_partial_text(instrumented, make_client, captured):
    stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    for chunk in stream:
        if chunk.choices[0].delta.content == "Hello":
            break
    assert captured.spans() == []
    stream.close()
    stream.close()
    list(stream)  # the SDK's iterator is finished after close
    attributes = without_ttft(_one_span(captured))
    assert attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"error"}]')
    assert "gen_ai.response.finish_reasons" not in attributes


async def test_async_break_then_close_ends_the_span_at_once(instrumented, make_client, captured):
    stream = await make_client(is_async=True).chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    async for chunk in stream:
        if chunk.choices[0].delta.content == "Hello":
            break
    assert captured.spans() == []
    await stream.close()
    attributes = without_ttft(_one_span(captured))  # ended by close(), while the stream is still referenced
    assert attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"error"}]')
    await stream.close()
    assert len(captured.spans()) == 1


@pytest.mark.parametrize("ask_usage", [True, False], ids=["usage-asked", "as-written"])
def test_next_to_stop_iteration_ends_the_span(instrument, make_client, captured, ask_usage):
    instrument(capture_usage_in_stream=ask_usage)
    stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    chunks = []
    for _ in range(20):  # bounded: five chunks, then StopIteration
        try:
            chunks.append(next(stream))
        except StopIteration:
            break
    assert len(chunks) == 5
    span = _one_span(captured)  # ended by StopIteration, while the stream is still referenced
    assert without_ttft(span) == {
        **streamed(usage=ask_usage), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_context_manager_exit_ends_once(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    stream = await create(client, model="gpt-4o-mini", messages=HI, stream=True)
    if is_async:
        async with stream as entered:
            assert entered is stream
            await entered.__anext__()
        await stream.close()
    else:
        with stream as entered:
            assert entered is stream
            next(entered)
        stream.close()
    assert without_ttft(_one_span(captured))["gen_ai.response.id"] == "chatcmpl-abc123"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_abandoned_stream_ends_when_collected(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    stream = await create(client, model="gpt-4o-mini", messages=HI, stream=True)
    if is_async:
        await stream.__anext__()
        await stream.response.aclose()
    else:
        next(stream)
        stream.response.close()
    assert captured.spans() == []
    del stream  # no gc.collect(): the proxy holds no reference cycle, so it goes at once
    span = _one_span(captured)
    assert span["end_time"] is not None and span["status"] == "UNSET"


async def test_async_stream_left_in_an_async_for_ends_when_collected(instrumented, make_client, captured):
    # Broken off inside async for and dropped: the loop's generator is closed by the event loop
    # (aclose, scheduled when it is collected), and then the stream goes, ending its span.
    stream = await make_client(is_async=True).chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    async for chunk in stream:
        if chunk.choices[0].delta.content == "Hello":
            break
    await stream.response.aclose()
    assert captured.spans() == []
    del stream, chunk
    await run_loop_until(captured.spans)  # the generator's close is a loop step away
    span = _one_span(captured)
    assert span["end_time"] is not None and span["status"] == "UNSET"
    assert without_ttft(span)["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"error"}]')


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_error_midway_fails_the_span_once(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    stream = await create(client, model="broken-stream", messages=HI, stream=True)
    with pytest.raises(openai.APIError, match="stream broke"):
        await consume(stream)
    spans = captured.spans()
    assert [s["name"] for s in spans] == ["chat broken-stream"]
    attributes = without_ttft(spans[0])
    assert attributes == {
        **base_attributes("broken-stream"), "gen_ai.request.stream": True, "error.type": "stream_broken",
        "gen_ai.response.id": "chatcmpl-abc123", "gen_ai.response.model": "broken-stream",
        "openai.response.service_tier": "default", "openai.response.system_fingerprint": "fp_44709d6fcb",
        "gen_ai.input.messages": HI_JSON,
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],'
                                  '"finish_reason":"error"}]',
    }
    assert spans[0]["status"] == "ERROR"
    del stream
    gc.collect()
    assert len(captured.spans()) == 1


def test_open_stream_is_never_the_current_span(instrumented, make_client, captured):
    client = make_client()
    tracer = captured.tracer_provider.get_tracer("test")
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    next(stream)
    assert not trace.get_current_span().get_span_context().is_valid
    with tracer.start_as_current_span("later"):
        pass
    stream.close()
    later = captured.span("later")
    assert later["parent_id"] is None


# --- raw responses, parse, helpers --------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_with_raw_response(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI)
    raw = await raw if is_async else raw
    assert raw.headers["x-request-id"] == "req_123"
    assert captured.spans() == []  # parsed lazily
    completion = raw.parse()
    assert completion.id == "chatcmpl-abc123" and raw.parse() is completion
    assert captured.span("chat gpt-4o-mini")["attributes"] == {
        **base_attributes(), **response_attributes(), "gen_ai.input.messages": HI_JSON,
        "gen_ai.output.messages": TEXT_OUTPUT_JSON}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_with_raw_response_stream(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI, stream=True,
                                                           stream_options={"include_usage": True})
    raw = await raw if is_async else raw
    stream = raw.parse()
    assert raw.parse() is stream
    await consume(stream)
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed(), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


def test_raw_response_never_parsed_ends_when_collected(instrumented, make_client, captured):
    raw = make_client().chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI)
    assert raw.http_response.status_code == 200
    del raw
    gc.collect()
    assert captured.span("chat gpt-4o-mini")["attributes"] == {**base_attributes(), "gen_ai.input.messages": HI_JSON}


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_parse_structured_output(instrumented, make_client, captured, monkeypatch, is_async):
    from . import _fake_api

    original = _fake_api.chat_completion

    def json_reply(model, tools, n=1):
        body = original(model, tools, n)
        body["choices"][0]["message"]["content"] = '{"city":"Paris","celsius":21}'
        return body

    monkeypatch.setattr(_fake_api, "chat_completion", json_reply)
    client = make_client(is_async)
    parsed = helpers(client).parse(model="gpt-4o-mini", messages=HI, response_format=Weather)
    parsed = await parsed if is_async else parsed
    assert parsed.choices[0].message.parsed == Weather(city="Paris", celsius=21)
    assert captured.span("chat gpt-4o-mini")["attributes"] == {
        **base_attributes(), "gen_ai.output.type": "json", **response_attributes(),
        "gen_ai.input.messages": HI_JSON,
        "gen_ai.output.messages": ('[{"role":"assistant","parts":[{"type":"text","content":'
                                   '"{\\"city\\":\\"Paris\\",\\"celsius\\":21}"}],"finish_reason":"stop"}]'),
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_get_final_completion(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    manager = helpers(client).stream(model="gpt-4o-mini", messages=HI,
                                             stream_options={"include_usage": True})
    if is_async:
        async with manager as stream:
            final = await stream.get_final_completion()
    else:
        with manager as stream:
            final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there!"
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed(), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


def test_stream_helper_events(instrumented, make_client, captured):
    with helpers(make_client()).stream(model="gpt-4o-mini", messages=HI) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
    assert deltas == ["", "Hello", " there", "!"]  # the SDK reports the role chunk's empty content too
    assert without_ttft(captured.span("chat gpt-4o-mini"))["gen_ai.response.finish_reasons"] == ("stop",)


def test_with_streaming_response(instrumented, make_client, captured):
    client = make_client()
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=HI) as response:
        assert response.headers["x-request-id"] == "req_123"
        completion = response.parse()
    assert completion.choices[0].message.content == "Hello there!"
    assert captured.span("chat gpt-4o-mini")["attributes"] == {
        **base_attributes(), **response_attributes(), "gen_ai.input.messages": HI_JSON,
        "gen_ai.output.messages": TEXT_OUTPUT_JSON}


async def test_async_with_streaming_response_stream(instrumented, make_client, captured):
    client = make_client(is_async=True)
    async with client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=HI, stream=True, stream_options={"include_usage": True}) as response:
        stream = await response.parse()
        assert isinstance(stream, openai.AsyncStream)
        await consume(stream)
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed(), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


def test_capture_usage_in_stream_respects_the_users_stream_options(instrumented, make_client, captured,
                                                                   requests_seen):
    options = {"include_usage": False}
    list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True,
                                               stream_options=options))
    assert options == {"include_usage": False}
    assert b'"include_usage":false' in requests_seen[0].content.replace(b" ", b"")
    assert "gen_ai.usage.input_tokens" not in captured.span("chat gpt-4o-mini")["attributes"]
