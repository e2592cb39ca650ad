"""Fixtures: the real anthropic SDK with only its HTTP faked (``_fake_api``), instrumented per test."""

from __future__ import annotations

import anthropic
import pytest
from anthropic import _base_client

from traceglass.instrumentors.anthropic import AnthropicInstrumentor

from ._fake_api import mock_transport

# anthropic 2.x moved from httpx to its fork httpx2. Fake the network of whichever it uses.
HTTPX = getattr(_base_client, "httpx2", None) or _base_client.httpx
API_KEY = "sk-ant-test-SECRET-key-123"
BASE_URL = "https://api.anthropic.com"


@pytest.fixture
def requests_seen():
    return []


@pytest.fixture
def make_client(requests_seen):
    """``make_client(is_async, cls=anthropic.Anthropic/AsyncAnthropic, **kwargs)`` over the mock transport."""

    def make(is_async: bool = False, cls=None, **kwargs):
        transport = mock_transport(HTTPX, requests_seen)
        if is_async:
            cls = cls or anthropic.AsyncAnthropic
            http_client = HTTPX.AsyncClient(transport=transport)
        else:
            cls = cls or anthropic.Anthropic
            http_client = HTTPX.Client(transport=transport)
        if cls in (anthropic.Anthropic, anthropic.AsyncAnthropic) or "Traced" in cls.__name__:
            kwargs.setdefault("api_key", API_KEY)
            kwargs.setdefault("base_url", BASE_URL)
        return cls(http_client=http_client, max_retries=0, **kwargs)

    return make


@pytest.fixture
def instrument():
    """Turn on AnthropicInstrumentor with the given options for the test (off again afterwards)."""
    instrumentor = AnthropicInstrumentor()

    def start(**options):
        instrumentor.instrument(**options)
        return instrumentor

    yield start
    instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument):
    return instrument()


async def call(client, method, **kwargs):
    """``method(**kwargs)``, awaited when the client is async."""
    result = method(**kwargs)
    if isinstance(client, anthropic.AsyncAnthropic) or type(client).__name__.startswith("Async"):
        result = await result
    return result
