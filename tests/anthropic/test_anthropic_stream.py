"""Streams: create(stream=True) and messages.stream(...), every way a stream ends, each ending the span once."""

from __future__ import annotations

import gc

import anthropic
import pytest
from opentelemetry import trace

from traceglass.instrumentors._provider_call import ProviderCall
from traceglass.testing import capture

from .._async import run_loop_until
from .test_anthropic_messages import HI, TOOL_OUTPUT_JSON, TOOLS, base_attributes, response_attributes

INPUT_JSON = '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]'
TEXT_OUTPUT_JSON = '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]'


def streamed(span: dict, stop_reason: str = "end_turn", content: bool = True, output: str = TEXT_OUTPUT_JSON) -> dict:
    """The attributes of a whole streamed call (its first-chunk time checked separately, then dropped)."""
    attributes = dict(span["attributes"])
    first_chunk = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert 0 <= first_chunk <= (span["end_time"] - span["start_time"]) / 1e9
    expected = {**base_attributes(), "gen_ai.request.stream": True, **response_attributes(stop_reason)}
    if content:
        expected["gen_ai.input.messages"] = INPUT_JSON
        expected["gen_ai.output.messages"] = output
    assert attributes == expected
    return attributes


def create_stream(client, model="claude-sonnet-4-5", **kwargs):
    return client.messages.create(model=model, max_tokens=256, messages=HI, stream=True, **kwargs)


@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
def test_create_stream_exhausted(instrumented, make_client, content, tools):
    client = make_client()
    with capture(capture_content=content) as captured:
        events = [e.type for e in create_stream(client, **({"tools": TOOLS} if tools else {}))]
    assert events[0] == "message_start" and events[-1] == "message_stop"  # ping is not an event the SDK yields
    [span] = captured.spans()
    assert span["name"] == "chat claude-sonnet-4-5" and span["status"] == "UNSET"
    expected_tools = {"gen_ai.tool.definitions": ('[{"type":"function","name":"get_weather","description":'
                                                  '"Weather for a city","parameters":{"type":"object",'
                                                  '"properties":{"city":{"type":"string"}}}}]')}
    attributes = dict(span["attributes"])
    if tools and content:
        assert attributes.pop("gen_ai.tool.definitions") == expected_tools["gen_ai.tool.definitions"]
    streamed({**span, "attributes": attributes}, "tool_use" if tools else "end_turn", content,
             TOOL_OUTPUT_JSON if tools else TEXT_OUTPUT_JSON)


async def test_async_create_stream_exhausted(instrumented, make_client, captured):
    client = make_client(True)
    stream = await create_stream(client)
    assert isinstance(stream, anthropic.AsyncStream)
    async for _ in stream:
        assert captured.spans() == []  # the span covers the whole iteration
    [span] = captured.spans()
    streamed(span)


def test_span_is_open_during_iteration_and_never_current(instrumented, make_client, captured):
    stream = create_stream(make_client())
    tracer = trace.get_tracer("test", tracer_provider=captured.tracer_provider)
    for _ in stream:
        with tracer.start_as_current_span("user work"):
            pass
        assert len(captured.spans()) == 1 or all(s["name"] == "user work" for s in captured.spans())
    llm = captured.span("chat claude-sonnet-4-5")
    assert all(s["parent_id"] is None for s in captured.spans())  # user spans are not its children
    assert llm["end_time"] >= max(s["end_time"] for s in captured.spans() if s["name"] == "user work")


@pytest.mark.parametrize("how", ["close", "with", "break-then-gc", "next-then-gc"])
def test_create_stream_ends_once_however_left(instrumented, make_client, captured, how):
    stream = create_stream(make_client())
    if how == "close":
        next(iter(stream))
        stream.close()
        stream.close()
    elif how == "with":
        with stream as entered:
            assert entered is stream
            next(iter(entered))
    elif how == "break-then-gc":
        for _ in stream:
            break
        assert captured.spans() == []  # a stream left mid-way may still be read on
        del stream
        gc.collect()
    else:
        next(stream)
        del stream
        gc.collect()
    [span] = captured.spans()
    # Ended early: the start's id, model and input usage are there; no stop reason, no final output count.
    attributes = span["attributes"]
    assert attributes["gen_ai.usage.input_tokens"] == 365
    assert "gen_ai.usage.output_tokens" not in attributes and "gen_ai.response.finish_reasons" not in attributes
    assert span["status"] == "UNSET"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_error_event_mid_stream_fails_the_span(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    seen = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        if is_async:
            async for event in await create_stream(client, "broken-stream"):
                seen.append(event.type)
        else:
            for event in create_stream(client, "broken-stream"):
                seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta", "content_block_delta"]
    [span] = captured.spans()
    assert span["status"] == "ERROR"
    attributes = dict(span["attributes"])
    attributes.pop("gen_ai.response.time_to_first_chunk")
    assert attributes == {
        **base_attributes("broken-stream"),
        "gen_ai.request.stream": True,
        "gen_ai.response.id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "gen_ai.response.model": "broken-stream",
        "gen_ai.usage.input_tokens": 365,
        "gen_ai.usage.cache_read.input_tokens": 300,
        "gen_ai.usage.cache_creation.input_tokens": 40,
        "anthropic.response.service_tier": "standard",
        "error.type": "overloaded_error",
        "gen_ai.input.messages": INPUT_JSON,
        # what arrived before the error is kept
        "gen_ai.output.messages": ('[{"role":"assistant","parts":[{"type":"text","content":"Hello there"}],'
                                   '"finish_reason":"error"}]'),
    }


def test_fifty_event_stream(instrumented, make_client, captured):
    texts = [e.delta.text for e in create_stream(make_client(), "fifty-events") if e.type == "content_block_delta"]
    assert len(texts) == 50
    span = captured.span("chat fifty-events")
    assert span["attributes"]["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"' + "".join(f"w{i} " for i in range(50))
        + '"}],"finish_reason":"stop"}]')


# --- the messages.stream(...) helper -----------------------------------------------------------
def test_helper_text_stream_and_final_message(instrumented, make_client, captured):
    client = make_client()
    manager = client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=HI)
    assert captured.spans() == []  # no request until the manager is entered
    with manager as stream:
        assert "".join(stream.text_stream) == "Hello there!"
        assert stream.get_final_message().content[0].text == "Hello there!"
        assert len(captured.spans()) == 1  # exhausted: ended before the with block closes
    [span] = captured.spans()
    streamed(span)


@pytest.mark.parametrize("how", ["final-message", "exit-unread", "break", "gc", "tools"])
def test_helper_ends_once_however_left(instrumented, make_client, captured, how):
    client = make_client()
    kwargs = {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": HI}
    if how == "tools":
        kwargs["tools"] = TOOLS
    if how == "gc":
        stream = client.messages.stream(**kwargs).__enter__()
        next(iter(stream))
        del stream
        gc.collect()
    else:
        with client.messages.stream(**kwargs) as stream:
            if how in ("final-message", "tools"):
                message = stream.get_final_message()
                assert message.stop_reason == ("tool_use" if how == "tools" else "end_turn")
            elif how == "break":
                for _ in stream:
                    break
                assert captured.spans() == []
    [span] = captured.spans()
    if how in ("final-message", "tools"):
        attributes = dict(span["attributes"])
        if how == "tools":
            attributes.pop("gen_ai.tool.definitions")
        streamed({**span, "attributes": attributes}, "tool_use" if how == "tools" else "end_turn",
                 output=TOOL_OUTPUT_JSON if how == "tools" else TEXT_OUTPUT_JSON)
    else:
        assert span["attributes"].get("gen_ai.response.finish_reasons") is None
        assert span["status"] == "UNSET"


async def test_async_helper(instrumented, make_client, captured):
    client = make_client(True)
    async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=HI) as stream:
        texts = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == final.content[0].text == "Hello there!"
    [span] = captured.spans()
    streamed(span)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_helper_error_event_and_http_error(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    for model, error_type in (("broken-stream", "overloaded_error"), ("error-429", "rate_limit_error")):
        with pytest.raises(anthropic.APIStatusError):
            manager = client.messages.stream(model=model, max_tokens=256, messages=HI)
            if is_async:
                async with manager as stream:
                    await stream.get_final_message()
            else:
                with manager as stream:
                    stream.get_final_message()
        span = captured.span(f"chat {model}")
        assert (span["status"], span["attributes"]["error.type"]) == ("ERROR", error_type)
    assert len(captured.spans()) == 2


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_next_then_loops_read_every_event_once_and_time_the_first(instrumented, make_client, captured,
                                                                       monkeypatch, is_async):
    # The first event taken by next()/__anext__, then loops broken off and resumed: every event
    # is seen once, and the time to the first event is taken once, at the first.
    firsts = []
    monkeypatch.setattr(ProviderCall, "first_chunk", lambda call: firsts.append(call))
    client = make_client(is_async)
    stream = await create_stream(client) if is_async else create_stream(client)
    seen = [await stream.__anext__() if is_async else next(stream)]
    if is_async:
        async for event in stream:
            seen.append(event)
            break
        seen.extend([event async for event in stream])
    else:
        for event in stream:
            seen.append(event)
            break
        seen.extend(stream)
    assert [e.type for e in seen] == ["message_start", "content_block_start", *["content_block_delta"] * 3,
                                      "content_block_stop", "message_delta", "message_stop"]
    assert len(firsts) == 1
    [span] = captured.spans()
    assert span["attributes"]["gen_ai.output.messages"] == TEXT_OUTPUT_JSON


async def test_async_stream_left_in_an_async_for_ends_when_collected(instrumented, make_client, captured):
    # Broken off inside async for and dropped: the event loop closes the loop's generator (aclose,
    # scheduled when it is collected), and then the stream goes: its span ends, not as a failure.
    stream = await create_stream(make_client(True))
    async for event in stream:
        if event.type == "content_block_delta":
            break
    await stream.response.aclose()
    assert captured.spans() == []
    del stream, event
    await run_loop_until(captured.spans)  # the generator's close is a loop step away
    [span] = captured.spans()
    assert span["end_time"] is not None and span["status"] == "UNSET"
