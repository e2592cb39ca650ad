"""Hostile failures through the real OpenAI SDK: the user's exception wins, the span says ERROR."""

from __future__ import annotations

import json

import openai
import pytest
from openai import _base_client

from traceglass._guard import RAISE_ENV
from traceglass.instrumentors.openai import OpenAIInstrumentor

from ..openai._fake_api import chat_chunks, mock_transport

HTTPX = getattr(_base_client, "httpx2", None) or _base_client.httpx
HI = [{"role": "user", "content": "hi"}]


class Unprintable(Exception):
    """An exception whose ``__str__`` and ``__repr__`` raise, with a ``code`` that raises too."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")

    @property
    def code(self) -> str:
        raise RuntimeError("code is broken")


@pytest.fixture
def instrumented():
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _client(is_async: bool, transport=None):
    transport = transport or mock_transport(HTTPX)
    if is_async:
        return openai.AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0,
                                  http_client=HTTPX.AsyncClient(transport=transport))
    return openai.OpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0,
                         http_client=HTTPX.Client(transport=transport))


def _breaks_after_first_chunk(error: BaseException):
    """A transport whose streamed body raises ``error`` after the first SSE chunk."""
    first = f"data: {json.dumps(chat_chunks('gpt-4o-mini', False, False)[0])}\n\n".encode()

    class Body(HTTPX.SyncByteStream, HTTPX.AsyncByteStream):
        def __iter__(self):
            yield first
            raise error

        async def __aiter__(self):
            yield first
            raise error

    return HTTPX.MockTransport(lambda request: HTTPX.Response(
        200, headers={"content-type": "text/event-stream"}, stream=Body()))


BASE = {
    "traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini", "server.address": "api.openai.com", "server.port": 443,
    "openai.api.type": "chat_completions", "error.type": "Unprintable",
}


def _assert_failed(captured, error_type: str = "Unprintable") -> dict:
    spans = captured.spans()
    assert [s["name"] for s in spans] == ["chat gpt-4o-mini"]
    span = spans[0]
    assert (span["status"], span["status_description"]) == ("ERROR", "Unprintable")
    assert [e["name"] for e in span["events"]] == ["exception"]
    event = dict(span["events"][0]["attributes"])
    assert "Unprintable: <exception str() failed>" in event.pop("exception.stacktrace")
    assert event == {"exception.type": f"{__name__}.Unprintable", "exception.message": "Unprintable",
                     "exception.escaped": "False"}
    return span["attributes"]


@pytest.mark.parametrize("production", [False, True], ids=["tests-loud", "production"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_sdk_call_raising_an_unprintable_exception(instrumented, captured, monkeypatch, is_async,
                                                         production):
    if production:
        monkeypatch.setenv(RAISE_ENV, "0")
    client = _client(is_async)
    error = Unprintable()

    def post(*args, **kwargs):
        raise error

    async def async_post(*args, **kwargs):
        raise error

    monkeypatch.setattr(client.chat.completions, "_post", async_post if is_async else post)
    with pytest.raises(Unprintable) as raised:
        result = client.chat.completions.create(model="gpt-4o-mini", messages=HI)
        if is_async:
            await result
    assert raised.value is error
    assert _assert_failed(captured) == {**BASE, "gen_ai.input.messages": '[{"role":"user","parts":'
                                                                         '[{"type":"text","content":"hi"}]}]'}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_breaking_with_an_unprintable_exception(instrumented, captured, is_async):
    error = Unprintable()
    client = _client(is_async, _breaks_after_first_chunk(error))
    with pytest.raises(Unprintable) as raised:
        if is_async:
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
            [chunk async for chunk in stream]
        else:
            list(client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
    assert raised.value is error
    attributes = _assert_failed(captured)
    assert 0 < attributes.pop("gen_ai.response.time_to_first_chunk") < 5
    assert attributes == {
        **BASE, "gen_ai.request.stream": True, "gen_ai.response.id": "chatcmpl-abc123",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_44709d6fcb",
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": "[]",  # only the role chunk arrived: no text
    }
