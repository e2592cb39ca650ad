"""Exact stream usage by default: asked for when the caller did not, hidden from a caller who did not ask.

Every comparison is against the same call made untraced: the caller must see exactly its chunks
(``to_dict()`` included, which leaves out fields the API did not send), while the span gets the
usage the API reports. Servers that reject ``stream_options`` still answer the user's call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import subprocess
import sys
from types import SimpleNamespace

import openai
import pytest

from traceglass import _config
from traceglass._guard import RAISE_ENV
from traceglass.instrumentors.openai import TracedAsyncOpenAI, TracedOpenAI
from traceglass.instrumentors.openai._stream import ChoicesAccumulator, TracedAsyncStream, TracedStream
from traceglass.testing import capture

from ._fake_api import LocalOpenAIServer
from .conftest import API_KEY, HTTPX
from .test_openai_chat import TEXT_OUTPUT_JSON
from .test_openai_stream import HI, HI_JSON, consume, helpers, streamed, without_ttft

ASKED = {"include_usage": True}
COMPLETION_USAGE = {"gen_ai.usage.input_tokens": 4, "gen_ai.usage.output_tokens": 4}


def body(request) -> dict:
    return json.loads(request.content)


def dumps(chunks) -> list:
    """What a caller can see of each chunk: the fields the API sent, and every field's value."""
    return [(chunk.to_dict(), chunk.model_dump()) for chunk in chunks]


async def chat_stream(client, **kwargs):
    result = client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True, **kwargs)
    return await consume(await result if isinstance(client, openai.AsyncOpenAI) else result)


async def completion_stream(client, **kwargs):
    result = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Tell a story", stream=True, **kwargs)
    return await consume(await result if isinstance(client, openai.AsyncOpenAI) else result)


def chat_span(captured, usage: bool = True) -> None:
    assert without_ttft(captured.span("chat gpt-4o-mini")) == {
        **streamed(usage=usage), "gen_ai.input.messages": HI_JSON, "gen_ai.output.messages": TEXT_OUTPUT_JSON}


# --- asked for, and hidden ---------------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_chat_stream_reports_usage_and_the_caller_sees_the_untraced_chunks(
        instrument, make_client, captured, requests_seen, is_async):
    client = make_client(is_async)
    bare = await chat_stream(client)
    instrument()
    traced = await chat_stream(client)

    assert [len(c.choices) for c in bare] == [1, 1, 1, 1, 1]
    assert dumps(traced) == dumps(bare)
    assert body(requests_seen[1]) == {**body(requests_seen[0]), "stream_options": ASKED}
    chat_span(captured)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_completions_stream_reports_usage_and_the_caller_sees_the_untraced_chunks(
        instrument, make_client, captured, requests_seen, is_async):
    client = make_client(is_async)
    bare = await completion_stream(client)
    instrument()
    traced = await completion_stream(client)

    assert [c.choices[0].text for c in bare] == ["Once", " upon", " a time"]
    assert dumps(traced) == dumps(bare)
    assert body(requests_seen[1]) == {**body(requests_seen[0]), "stream_options": ASKED}
    attributes = without_ttft(captured.span("text_completion gpt-3.5-turbo-instruct"))
    assert {k: attributes[k] for k in COMPLETION_USAGE} == COMPLETION_USAGE


def test_next_to_the_end_skips_the_usage_chunk(instrumented, make_client, captured):
    stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    reasons = []
    for _ in range(10):  # bounded: five chunks, then StopIteration
        try:
            reasons.append(next(stream).choices[0].finish_reason)
        except StopIteration:
            break
    assert reasons == [None, None, None, None, "stop"]
    chat_span(captured)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_events_and_final_completion_as_untraced(instrument, make_client, captured, is_async):
    async def run(client):
        manager = helpers(client).stream(model="gpt-4o-mini", messages=HI)
        if is_async:
            async with manager as stream:
                events = [event async for event in stream]
                final = await stream.get_final_completion()
        else:
            with manager as stream:
                events = list(stream)
                final = stream.get_final_completion()
        return [(event.type, event.model_dump()) for event in events], final.model_dump()

    client = make_client(is_async)
    bare_events, bare_final = await run(client)
    instrument()
    events, final = await run(client)
    assert final == bare_final and final["usage"] is None  # the caller did not ask for usage
    assert events == bare_events
    assert [t for t, _ in events].count("chunk") == 5
    chat_span(captured)


def test_the_callers_other_stream_options_are_kept(instrumented, make_client, captured, requests_seen):
    options = {"include_obfuscation": False}
    chunks = list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True,
                                                        stream_options=options))
    assert options == {"include_obfuscation": False}  # the caller's dict is never changed
    assert body(requests_seen[0])["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert len(chunks) == 5
    chat_span(captured)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_the_callers_extra_body_is_kept_beside_the_ask(instrument, make_client, captured, requests_seen,
                                                             is_async):
    client = make_client(is_async)
    extra = {"metadata": {"team": "search"}, "user": "u-7"}
    bare = await chat_stream(client, extra_body=extra)
    instrument()
    traced = await chat_stream(client, extra_body=extra)
    assert extra == {"metadata": {"team": "search"}, "user": "u-7"}  # the caller's dict is never changed
    assert body(requests_seen[1]) == {**body(requests_seen[0]), "stream_options": ASKED}
    assert body(requests_seen[1])["user"] == "u-7"
    assert dumps(traced) == dumps(bare)
    chat_span(captured)


# --- the caller asked: everything as sent --------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_caller_who_asked_for_usage_gets_everything_unchanged(instrument, make_client, captured,
                                                                      requests_seen, is_async):
    client = make_client(is_async)
    bare = await chat_stream(client, stream_options={"include_usage": True})
    instrument()
    traced = await chat_stream(client, stream_options={"include_usage": True})
    assert [len(c.choices) for c in traced] == [1, 1, 1, 1, 1, 0]  # the usage chunk is the caller's
    assert traced[-1].usage.prompt_tokens == 20
    assert dumps(traced) == dumps(bare)
    assert body(requests_seen[1]) == body(requests_seen[0])
    chat_span(captured)


def test_stream_options_in_extra_body_are_the_callers(instrumented, make_client, captured, requests_seen):
    chunks = list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True,
                                                        extra_body={"stream_options": {"include_usage": True}}))
    assert body(requests_seen[0])["stream_options"] == {"include_usage": True}
    assert len(chunks) == 6
    chat_span(captured)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_raw_response_is_sent_as_written(instrumented, make_client, captured, requests_seen, is_async):
    client = make_client(is_async)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI, stream=True)
    raw = await raw if is_async else raw
    assert "stream_options" not in body(requests_seen[0])  # the caller may read the raw body itself
    assert len(await consume(raw.parse())) == 5
    chat_span(captured, usage=False)


# --- turning it off -------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["configure", "environment", "instrument", "instrument-over-setting"])
def test_stream_usage_off(instrument, make_client, requests_seen, monkeypatch, how):
    settings = {}
    if how == "configure":
        settings["openai_stream_usage"] = False
    elif how == "environment":
        monkeypatch.setenv("TRACEGLASS_OPENAI_STREAM_USAGE", "false")
    instrument(**({"capture_usage_in_stream": False} if how.startswith("instrument") else {}))
    if how == "instrument-over-setting":
        settings["openai_stream_usage"] = True
    with capture(**settings) as captured:
        assert len(list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))) == 5
    assert "stream_options" not in body(requests_seen[0])
    chat_span(captured, usage=False)


def test_instrument_asks_even_with_the_setting_off(instrument, make_client, requests_seen):
    instrument(capture_usage_in_stream=True)
    with capture(openai_stream_usage=False) as captured:
        assert len(list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))) == 5
    assert body(requests_seen[0])["stream_options"] == ASKED
    chat_span(captured)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("ask", [None, False], ids=["default", "off"])
async def test_traced_clients(make_client, captured, requests_seen, is_async, ask):
    options = {} if ask is None else {"capture_usage_in_stream": ask}
    client = make_client(is_async, cls=TracedAsyncOpenAI if is_async else TracedOpenAI, **options)
    assert len(await chat_stream(client)) == 5
    sent = body(requests_seen[0]).get("stream_options")
    assert sent == (ASKED if ask is None else None)
    chat_span(captured, usage=ask is None)


def test_settings_option():
    assert _config.Settings.from_env({}).openai_stream_usage is True
    assert _config.Settings.from_env({"TRACEGLASS_OPENAI_STREAM_USAGE": "0"}).openai_stream_usage is False
    assert _config.Settings.from_env({}, openai_stream_usage=False).openai_stream_usage is False
    with pytest.raises(ValueError, match="openai_stream_usage must be True or False"):
        _config.Settings.from_env({}, openai_stream_usage="no")


# --- servers that reject stream_options ---------------------------------------------------------------
def _client(server, is_async: bool):
    if is_async:
        return openai.AsyncOpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0,
                                  http_client=HTTPX.AsyncClient())
    return openai.OpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0, http_client=HTTPX.Client())


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_server_rejecting_stream_options_still_answers_the_call(instrumented, captured, is_async):
    with LocalOpenAIServer(reject_stream_options=True) as server:
        client = _client(server, is_async)
        chunks = await chat_stream(client)
        assert [c.choices[0].finish_reason for c in chunks] == [None, None, None, None, "stop"]
        assert [b.get("stream_options") for b in server.bodies] == [ASKED, None]  # asked, rejected, sent again
        again = await chat_stream(client)  # remembered: not asked again
        assert len(again) == 5
        assert [b.get("stream_options") for b in server.bodies] == [ASKED, None, None]
    spans = captured.spans()
    assert [(s["name"], s["status"], s["events"]) for s in spans] == [("chat gpt-4o-mini", "UNSET", [])] * 2
    address = {"server.address": "127.0.0.1", "server.port": int(server.base_url.split(":")[2].split("/")[0])}
    for span in spans:
        attributes = dict(span["attributes"])
        assert 0 < attributes.pop("gen_ai.response.time_to_first_chunk") < 5
        assert attributes == {**streamed(usage=False), **address, "gen_ai.input.messages": HI_JSON,
                              "gen_ai.output.messages": TEXT_OUTPUT_JSON}


def test_a_callers_own_stream_options_rejected_raise_as_untraced(instrumented, captured):
    with LocalOpenAIServer(reject_stream_options=True) as server:
        with pytest.raises(openai.BadRequestError, match="Unrecognized request argument supplied: stream_options"):
            _client(server, False).chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True,
                                                           stream_options={"include_usage": True})
        assert len(server.bodies) == 1  # never retried: the caller asked for it
    span = captured.span("chat gpt-4o-mini")
    assert (span["status"], span["attributes"]["error.type"]) == ("ERROR", "400")


# --- configure(), in a subprocess: it sets the process-wide providers ------------------------------
CONFIGURED_APP = """
import json, sys, openai, traceglass
from openai import _base_client
from tests.openai._fake_api import mock_transport

httpx = getattr(_base_client, "httpx2", None) or _base_client.httpx
sent = []
traceglass.configure(exporters=[], instrument=["openai"], metrics_enabled=False, **json.loads(sys.argv[1]))
client = openai.OpenAI(api_key="sk-test", base_url="https://api.openai.com/v1",
                       http_client=httpx.Client(transport=mock_transport(httpx, sent)))
chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                             stream=True))
print(json.dumps([len(chunks), json.loads(sent[0].content).get("stream_options")]))
"""


@pytest.mark.parametrize(("arguments", "env", "expected"), [
    ({}, {}, [5, ASKED]),
    ({"openai_stream_usage": False}, {}, [5, None]),
    ({}, {"TRACEGLASS_OPENAI_STREAM_USAGE": "false"}, [5, None]),
    ({"openai_stream_usage": True}, {"TRACEGLASS_OPENAI_STREAM_USAGE": "false"}, [5, ASKED]),
], ids=["default", "argument-off", "environment-off", "argument-over-environment"])
def test_configure_openai_stream_usage(arguments, env, expected):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_"))}
    environment.update(env, TRACEGLASS_RAISE_INTERNAL_ERRORS="1")
    root = pathlib.Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", CONFIGURED_APP, json.dumps(arguments)], cwd=root,
                          capture_output=True, text=True, timeout=120, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


# --- chunks that are not pydantic 2 models ---------------------------------------------------------
class _V1Chunk:
    """A chunk as a pydantic 1 model of the SDK holds it: fields as attributes, the ones the API
    sent named in ``__fields_set__`` (there is no ``__pydantic_fields_set__``)."""

    def __init__(self, content, finish=None, usage=None, choices=True):
        delta = SimpleNamespace(content=content, tool_calls=None, role=None)
        self.id, self.model, self.usage = "chatcmpl-v1", "gpt-4o-mini-v1", usage
        self.choices = [SimpleNamespace(index=0, delta=delta, finish_reason=finish)] if choices else []
        self.__fields_set__ = {"id", "model", "choices", "usage"}


class _Stream:
    def __init__(self, chunks):
        self._chunks = iter(chunks)

    def __iter__(self):
        return self._chunks

    def __next__(self):
        return next(self._chunks)


class _Call:
    def __init__(self):
        self.ended = []

    def first_chunk(self):
        pass

    def end_stream(self, accumulator, end_time_ns=None):  # _stream_proxy.SpanCall
        self.ended.append(accumulator)

    def fail_stream(self, accumulator, error, end_time_ns=None):
        raise AssertionError(error)


class _AsyncStream:
    def __init__(self, chunks):
        self._chunks = chunks

    async def _each(self):
        for chunk in self._chunks:
            yield chunk

    def __aiter__(self):
        return self._each()


@pytest.mark.parametrize("how", ["for", "next", "async for"])
def test_chunks_of_pydantic_1_models_are_hidden_and_stripped_the_same(how):
    usage = SimpleNamespace(prompt_tokens=7, completion_tokens=2)
    chunks = [_V1Chunk("Hel"), _V1Chunk("lo"), _V1Chunk(None, "stop"), _V1Chunk(None, usage=usage, choices=False)]
    call = _Call()
    if how == "async for":
        async def read():
            return [chunk async for chunk in TracedAsyncStream(_AsyncStream(chunks), call, ChoicesAccumulator(),
                                                                hide_usage=True)]

        seen = asyncio.run(read())
    elif how == "for":
        seen = list(TracedStream(_Stream(chunks), call, ChoicesAccumulator(), hide_usage=True))
    else:
        stream = TracedStream(_Stream(chunks), call, ChoicesAccumulator(), hide_usage=True)
        seen = [next(stream) for _ in range(3)]
        with pytest.raises(StopIteration):
            next(stream)  # the fourth chunk, the usage chunk, is skipped
    assert seen == chunks[:3]
    assert [c.__fields_set__ for c in chunks[:3]] == [{"id", "model", "choices"}] * 3
    [accumulator] = call.ended
    assert (accumulator.usage, accumulator.output_text(), accumulator.reasons) == (usage, "Hello", {0: "stop"})


class _BrokenChunk(_V1Chunk):
    """A chunk whose ``usage`` raises when read."""

    @property
    def usage(self):
        raise RuntimeError("usage is broken")

    @usage.setter
    def usage(self, value):
        pass


def test_a_chunk_the_check_cannot_read_passes_on(monkeypatch, caplog):
    monkeypatch.setenv(RAISE_ENV, "0")  # production: our faults are logged, never raised
    broken = _BrokenChunk(" there")
    chunks = [_V1Chunk("Hi"), broken, _V1Chunk(None, "stop")]
    call = _Call()
    stream = TracedStream(_Stream(chunks), call, ChoicesAccumulator(), hide_usage=True)
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        assert list(stream) == chunks
    assert "openai.stream.chunk" in caplog.text
    assert len(call.ended) == 1  # the stream ended its span once, at its end
