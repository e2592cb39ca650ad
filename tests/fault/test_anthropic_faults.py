"""Hostile inputs and failures through the real anthropic SDK: the user's call and exception win, our faults
are swallowed in production, and the span still ends exactly once."""

from __future__ import annotations

import json
import logging

import anthropic
import pytest
from anthropic import _base_client

from traceglass._guard import RAISE_ENV
from traceglass.instrumentors.anthropic import AnthropicInstrumentor, _stream

from ..anthropic._fake_api import events, mock_transport, sse

HTTPX = getattr(_base_client, "httpx2", None) or _base_client.httpx
HI = [{"role": "user", "content": "hi"}]


class Unprintable(Exception):
    """An exception whose ``__str__`` and ``__repr__`` raise, with a ``body`` that raises too."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")

    @property
    def body(self) -> dict:
        raise RuntimeError("body is broken")


@pytest.fixture
def instrumented():
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _client(is_async: bool, transport=None):
    transport = transport or mock_transport(HTTPX)
    cls, http = (anthropic.AsyncAnthropic, HTTPX.AsyncClient) if is_async else (anthropic.Anthropic, HTTPX.Client)
    return cls(api_key="sk-ant-test", base_url="https://api.anthropic.com", max_retries=0,
               http_client=http(transport=transport))


def _body_breaking_after(n_events: int, error: BaseException):
    """A transport whose streamed body raises ``error`` after ``n_events`` SSE events."""
    head = sse(events({"model": "claude-sonnet-4-5", "stream": True})[:n_events])

    class Body(HTTPX.SyncByteStream, HTTPX.AsyncByteStream):
        def __iter__(self):
            yield head
            raise error

        async def __aiter__(self):
            yield head
            raise error

    return HTTPX.MockTransport(lambda request: HTTPX.Response(
        200, headers={"content-type": "text/event-stream"}, stream=Body()))


async def _stream_raising(client, is_async: bool) -> BaseException:
    """What iterating a streamed message raises (it must raise)."""
    try:
        if is_async:
            async for _ in await client.messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=HI,
                                                        stream=True):
                pass
        else:
            for _ in client.messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=HI, stream=True):
                pass
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the test compares it
        return exc
    raise AssertionError("the stream did not raise")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_an_unprintable_exception_from_the_transport_reaches_the_user(captured, is_async):
    # What the SDK itself raises, uninstrumented: the transport's exception, or (newer anthropic releases) an
    # APIConnectionError raised from it.
    bare_error = Unprintable()
    bare = await _stream_raising(_client(is_async, _body_breaking_after(3, bare_error)), is_async)
    assert bare is bare_error or (type(bare) is anthropic.APIConnectionError and bare.__cause__ is bare_error)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        error = Unprintable()
        raised = await _stream_raising(_client(is_async, _body_breaking_after(3, error)), is_async)
    finally:
        instrumentor.uninstrument()
    # The user's exception, unchanged: the very object the SDK raises, as it raises it without us.
    assert type(raised) is type(bare)
    assert raised is error if bare is bare_error else raised.__cause__ is error
    [span] = captured.spans()
    name = type(raised).__name__
    assert (span["status"], span["status_description"]) == ("ERROR", name if raised is error else f"{name}: {raised}")
    assert span["attributes"]["error.type"] == name
    assert span["attributes"]["gen_ai.response.id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"  # what arrived is kept


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_fault_in_our_event_handling_is_swallowed_in_production(instrumented, captured, monkeypatch, caplog,
                                                                       is_async):
    monkeypatch.setenv(RAISE_ENV, "0")

    def broken(self, event):
        raise RuntimeError("accumulator bug")

    monkeypatch.setattr(_stream.MessageAccumulator, "add", broken)
    client = _client(is_async)
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        if is_async:
            async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=9, messages=HI) as stream:
                text = await stream.get_final_text()
        else:
            with client.messages.stream(model="claude-sonnet-4-5", max_tokens=9, messages=HI) as stream:
                text = stream.get_final_text()
    assert text == "Hello there!"  # the user's stream is whole
    [span] = captured.spans()  # and the span still ended, once
    assert span["status"] == "UNSET"
    assert any(r.exc_info and "accumulator bug" in str(r.exc_info[1]) for r in caplog.records)  # logged


async def test_a_fault_in_our_event_handling_is_loud_under_tests(instrumented, captured, monkeypatch):
    def broken(self, event):
        raise RuntimeError("accumulator bug")

    monkeypatch.setattr(_stream.MessageAccumulator, "add", broken)
    with pytest.raises(RuntimeError, match="accumulator bug"):
        list(_client(False).messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=HI, stream=True))


HOSTILE_MESSAGES = [
    [{"role": "user", "content": [{"type": "mystery_block", "payload": object()}]}],
    [{"role": "user", "content": [{"type": "image", "source": None}]}],
    [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": None, "content": [{"type": "image"}]}]}],
    [{"role": None, "content": None}],
    [{"role": "user", "content": "\ud800 lone surrogate" + "x" * 100_000}],
]


@pytest.mark.parametrize("messages", HOSTILE_MESSAGES, ids=["unknown-block", "no-source", "odd-tool-result",
                                                            "nulls", "surrogate-and-huge"])
def test_hostile_requests_still_make_a_valid_span(instrumented, captured, messages, monkeypatch):
    sent = []
    transport = mock_transport(HTTPX, sent)
    client = _client(False, transport)
    # The SDK serializes the body itself; what it cannot serialize fails in the SDK, before the request.
    try:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=messages)
    except Exception as exc:  # noqa: BLE001 - the SDK's own refusal passes through unchanged
        [span] = captured.spans()
        assert span["attributes"]["error.type"] == type(exc).__qualname__
        return
    [span] = captured.spans()
    assert span["status"] == "UNSET"
    parsed = json.loads(span["attributes"]["gen_ai.input.messages"])
    assert isinstance(parsed, list) and len(parsed) == 1


def test_a_response_missing_every_field_still_ends_the_span(instrumented, captured):
    transport = HTTPX.MockTransport(lambda request: HTTPX.Response(
        200, headers={"content-type": "application/json"}, content=b'{"type": "message"}'))
    result = _client(False, transport).messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=HI)
    assert result.type == "message"
    [span] = captured.spans()
    assert span["attributes"]["gen_ai.output.messages"] == '[{"role":"assistant","parts":[],"finish_reason":"error"}]'
    assert "gen_ai.usage.input_tokens" not in span["attributes"]


def test_a_stream_of_only_pings_and_unknown_events_ends_cleanly(instrumented, captured):
    body = sse([("ping", {"type": "ping"}), ("future_event", {"type": "future_event", "x": 1}),
                ("message_stop", {"type": "message_stop"})])
    transport = HTTPX.MockTransport(lambda request: HTTPX.Response(
        200, headers={"content-type": "text/event-stream"}, content=body))
    got = [e.type for e in _client(False, transport).messages.create(model="claude-sonnet-4-5", max_tokens=9,
                                                                     messages=HI, stream=True)]
    assert "message_stop" in got
    [span] = captured.spans()
    assert span["status"] == "UNSET" and "gen_ai.usage.input_tokens" not in span["attributes"]
