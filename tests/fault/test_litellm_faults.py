"""LiteLLM instrumentation under hostile inputs and injected faults: the user's call always returns
(or raises its own error) unchanged, and a bad field loses that field, never the span."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import litellm  # noqa: E402
import pytest  # noqa: E402

from tests.openai._fake_api import LocalOpenAIServer  # noqa: E402
from traceglass._handler import LLMInvocation  # noqa: E402
from traceglass.instrumentors.litellm import LiteLLMInstrumentor, _extract  # noqa: E402
from traceglass.instrumentors.litellm._providers import semconv_provider  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def route():
    with LocalOpenAIServer() as server:
        yield {"api_base": server.base_url, "api_key": "sk-x"}


@pytest.fixture
def instrumented():
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


@pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
def test_an_internal_error_is_swallowed_and_the_call_returns(instrumented, route, captured, monkeypatch, caplog,
                                                             stream):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")

    def broken(*args, **kwargs):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr("traceglass.instrumentors.openai._extract.apply_chat", broken)  # the reader we share
    monkeypatch.setattr("traceglass.instrumentors.litellm._stream.ChoicesAccumulator.apply", broken)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        result = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=stream, **route)
        text = "".join(c.choices[0].delta.content or "" for c in result) if stream \
            else result.choices[0].message.content
    assert text == "Hello there!"
    (span,) = captured.spans()  # the span still ends, without what the broken extractor would have read
    assert span["status"] == "UNSET" and "gen_ai.usage.input_tokens" not in span["attributes"]
    assert "extractor bug" in caplog.text


def test_a_begin_fault_leaves_the_call_untraced(instrumented, route, captured, monkeypatch):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")
    monkeypatch.setattr(_extract, "resolve", lambda request: 1 / 0)
    response = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **route)
    assert response.choices[0].message.content == "Hello there!"
    assert captured.spans() == []


class Hostile:
    """A response whose ``_hidden_params`` raises."""

    @property
    def _hidden_params(self):
        raise RuntimeError("no")


@pytest.mark.parametrize("cost", [float("nan"), -1.0, True, "0.1", None, float("inf")])
def test_a_bad_response_cost_is_not_recorded(cost):
    inv = LLMInvocation(provider="openai")
    _extract.apply_hidden(inv, {"response_cost": cost})
    assert inv.attributes == {}


def test_hidden_params_that_raise_read_as_none():
    assert _extract.hidden_params(Hostile()) == {}
    assert _extract.hidden_params(object()) == {}


@pytest.mark.parametrize(("api_base", "server"), [
    ("http://[::1", (None, None)),  # malformed
    ("not a url", (None, None)),
    (123, (None, None)),
    ("https://example.com/v1", ("example.com", 443)),
    ("http://127.0.0.1:8080", ("127.0.0.1", 8080)),
])
def test_server_of_hostile_urls(api_base, server):
    assert _extract.server_of(api_base) == server


@pytest.mark.parametrize("model", [None, "", 42, "no-such-provider/x", "totally-unknown-model"])
def test_resolve_never_raises(model):
    where = _extract.resolve({"model": model})
    assert where.provider is None


@pytest.mark.parametrize(("litellm_name", "semconv"), [
    ("openai", "openai"), ("azure", "azure.ai.openai"), ("azure_ai", "azure.ai.inference"),
    ("anthropic", "anthropic"), ("bedrock", "aws.bedrock"), ("vertex_ai", "gcp.vertex_ai"),
    ("gemini", "gcp.gemini"), ("mistral", "mistral_ai"), ("xai", "x_ai"), ("watsonx", "ibm.watsonx.ai"),
    ("ollama", "ollama"), (None, None), ("", None), (3, None),
])
def test_provider_names(litellm_name, semconv):
    assert semconv_provider(litellm_name) == semconv


@pytest.mark.parametrize(("model", "provider", "name"), [
    ("bedrock/anthropic.claude-3-sonnet-20240229-v1:0", "aws.bedrock", "anthropic.claude-3-sonnet-20240229-v1:0"),
    ("vertex_ai/gemini-1.5-pro", "gcp.vertex_ai", "gemini-1.5-pro"),
    ("azure/my-deployment", "azure.ai.openai", "my-deployment"),
    ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
])
def test_resolve_maps_litellm_providers_offline(model, provider, name):
    where = _extract.resolve({"model": model})
    assert (where.provider, where.model) == (provider, name)


class Boom(Exception):
    def __str__(self):
        raise RuntimeError("cannot print")


def test_user_exception_passes_unchanged(instrumented, captured):
    def explode(*args, **kwargs):
        raise Boom

    original = litellm.completion.__wrapped__
    litellm.completion.__wrapped__ = explode
    try:
        with pytest.raises(Boom):
            litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES)
    finally:
        litellm.completion.__wrapped__ = original
    (span,) = captured.spans()
    assert (span["status"], span["attributes"]["error.type"]) == ("ERROR", "Boom")
