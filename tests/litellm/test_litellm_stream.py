"""Streams: exact usage by default (the asked-for usage chunk hidden), ended exactly once on
exhaustion, close, with-exit, break, garbage collection or an error midway."""

from __future__ import annotations

import gc

import litellm
import pytest

from traceglass.testing import capture

from .test_litellm_calls import INPUT_JSON, MESSAGES, request_attributes

OUTPUT_JSON = '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]'


def stream_attributes(server, **extra):
    return {
        **request_attributes(server),
        "gen_ai.request.stream": True,
        "gen_ai.response.id": "chatcmpl-abc123",
        "gen_ai.response.model": "gpt-4o-mini",  # LiteLLM's chunks carry the model as asked
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_44709d6fcb",
        **extra,
    }


USAGE = {
    "gen_ai.usage.input_tokens": 20,
    "gen_ai.usage.output_tokens": 5,
    "gen_ai.usage.cache_read.input_tokens": 8,
    "gen_ai.usage.reasoning.output_tokens": 2,
}


async def open_stream(is_async, route, **kwargs):
    kwargs = {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "stream": True, **route, **kwargs}
    return await litellm.acompletion(**kwargs) if is_async else litellm.completion(**kwargs)


async def drain(stream, is_async):
    if is_async:
        return [chunk async for chunk in stream]
    return list(stream)


def shape(chunks):
    return [(len(c.choices), getattr(c, "usage", None) is not None) for c in chunks]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_has_exact_usage_and_the_caller_sees_the_untraced_chunks(instrumented, server, route,
                                                                              is_async):
    untraced = await drain(await open_stream(is_async, route, stream_options=None), is_async)
    assert server.bodies[-1].get("stream_options") is None
    with capture() as captured:
        stream = await open_stream(is_async, route)
        assert captured.spans() == []  # open until the stream ends
        chunks = await drain(stream, is_async)
    assert server.bodies[-1]["stream_options"] == {"include_usage": True}
    assert shape(chunks) == shape(untraced) == [(1, False)] * 5  # no usage-only chunk
    (span,) = captured.spans()
    attributes = span["attributes"]
    assert attributes.pop("gen_ai.response.time_to_first_chunk") > 0
    assert attributes == stream_attributes(
        server, **{"gen_ai.response.finish_reasons": ("stop",)}, **USAGE,
        **{"traceglass.cost.provider_reported_usd": pytest.approx(5.4e-06)},
        **{"gen_ai.input.messages": INPUT_JSON, "gen_ai.output.messages": OUTPUT_JSON})


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_callers_stream_options_pass_through(instrumented, server, route, is_async, captured):
    chunks = await drain(await open_stream(is_async, route, stream_options={"include_usage": True}), is_async)
    assert shape(chunks)[-1] == (0, True)  # the caller asked for the usage chunk: it is theirs
    assert captured.spans()[0]["attributes"]["gen_ai.usage.input_tokens"] == 20


def test_stream_usage_off_sends_the_request_as_written(instrument, server, route, captured):
    instrument(capture_usage_in_stream=False)
    list(litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **route))
    assert "stream_options" not in server.bodies[-1]
    assert "gen_ai.usage.input_tokens" not in captured.spans()[0]["attributes"]


def test_break_then_close_ends_once_with_partial_text(instrumented, route, captured):
    stream = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **route)
    for chunk in stream:
        if chunk.choices[0].delta.content == "Hello":
            break
    assert captured.spans() == []
    stream.close()
    stream.close()
    (span,) = captured.spans()
    assert span["status"] == "UNSET"
    assert span["attributes"]["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"error"}]')


async def test_async_break_then_aclose_ends_once(instrumented, route, captured):
    stream = await litellm.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **route)
    async for _ in stream:
        break
    await stream.aclose()
    await stream.aclose()
    assert len(captured.spans()) == 1


async def test_async_stream_close_is_litellms_synchronous_close_and_ends_once(instrumented, route, captured):
    # LiteLLM's async stream has a synchronous close() beside aclose(): the proxy keeps it synchronous
    # (awaiting it would break the caller) and it ends the span like aclose() does.
    stream = await litellm.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **route)
    async for _ in stream:
        break
    assert stream.close() is None
    stream.close()
    await stream.aclose()
    assert len(captured.spans()) == 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_context_manager_exit_ends_once(instrumented, route, captured, is_async):
    stream = await open_stream(is_async, route)
    if is_async:
        async with stream as entered:
            assert entered is stream
            await entered.__anext__()
    else:
        with stream as entered:
            assert entered is stream
            next(entered)
    assert len(captured.spans()) == 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_abandoned_stream_ends_when_collected(instrumented, route, captured, is_async):
    stream = await open_stream(is_async, route)
    if is_async:
        await stream.__anext__()
    else:
        next(stream)
    del stream
    gc.collect()
    (span,) = captured.spans()
    assert span["status"] == "UNSET"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_error_midway_fails_the_span_once(instrumented, route, captured, is_async):
    stream = await open_stream(is_async, route, model="openai/broken-stream")
    with pytest.raises(Exception) as raised:  # noqa: PT011 - LiteLLM's own class for the error event
        await drain(stream, is_async)
    gc.collect()
    (span,) = captured.spans()
    assert span["status"] == "ERROR"
    assert span["attributes"]["error.type"] == litellm_error_type(raised.value)
    assert [e["name"] for e in span["events"]] == ["exception"]


def litellm_error_type(error):
    status = getattr(error, "status_code", None)
    return str(status) if isinstance(status, int) else type(error).__qualname__


def test_open_stream_is_never_the_current_span(instrumented, route, captured):
    from opentelemetry import trace

    stream = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, **route)
    next(stream)
    assert not trace.get_current_span().get_span_context().is_valid
    stream.close()
