"""Tracing changes nothing the SDK does: the same request on the wire, the same parsed response.

Checked call by call against the same call made with instrumentation off, for the paths whose
SDK-side work is easy to disturb: embeddings without ``encoding_format`` (the SDK asks for base64
and decodes it itself), with an explicit format, chat, and a consumed stream.
"""

from __future__ import annotations

import pytest

from ._fake_api import VECTOR

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
CALLS = {
    "embeddings-default-format": ("embeddings text-embedding-3-small", lambda c: c.embeddings.create(
        model="text-embedding-3-small", input=["one", "two"])),
    "embeddings-float": ("embeddings text-embedding-3-small", lambda c: c.embeddings.create(
        model="text-embedding-3-small", input="one", encoding_format="float")),
    "chat": ("chat gpt-4o-mini", lambda c: c.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)),
    "stream": ("chat gpt-4o-mini", lambda c: [chunk.model_dump() for chunk in c.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)]),
}


def wire(request):
    """What the SDK sent: method, URL, body bytes and every header but the per-attempt ones."""
    varying = {"x-stainless-retry-count", "x-stainless-read-timeout"}
    headers = sorted((k, v) for k, v in request.headers.items() if k.lower() not in varying)
    return request.method, str(request.url), request.content, headers


def parsed(result):
    return result if isinstance(result, list) else result.model_dump()


@pytest.mark.parametrize("name", list(CALLS))
def test_tracing_leaves_the_request_and_the_response_unchanged(instrument, make_client, captured, requests_seen,
                                                              name):
    span_name, call = CALLS[name]
    client = make_client()
    bare = call(client)
    # A stream is sent asking for its usage by default (tests/openai/test_openai_stream_usage.py); off, as written.
    instrument(capture_usage_in_stream=False)
    traced = call(client)

    assert len(requests_seen) == 2
    assert wire(requests_seen[1]) == wire(requests_seen[0])
    assert parsed(traced) == parsed(bare)
    assert [span["name"] for span in captured.spans()] == [span_name]  # only the second call was traced


def test_default_embeddings_format_is_still_decoded_by_the_sdk(instrumented, make_client, captured, requests_seen):
    response = make_client().embeddings.create(model="text-embedding-3-small", input=["one", "two"])
    assert b'"encoding_format":"base64"' in requests_seen[0].content.replace(b" ", b"")  # what the SDK asks
    # decoded into floats, as bare (the fake API offsets item i's vector by i)
    assert [item.embedding for item in response.data] == [VECTOR, [v + 1 for v in VECTOR]]
    attributes = captured.span("embeddings text-embedding-3-small")["attributes"]
    assert "gen_ai.request.encoding_formats" not in attributes  # the user asked for no format
    assert attributes["gen_ai.embeddings.dimension.count"] == len(VECTOR)
