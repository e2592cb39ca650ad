"""Fixtures: the real openai SDK with only its HTTP faked (``_fake_api``), instrumented per test."""

from __future__ import annotations

import openai
import pytest
from ._fake_api import mock_transport
from openai import _base_client

from traceglass.instrumentors.openai import OpenAIInstrumentor

# openai 1.x/2.x use httpx; 3.x moved to its fork httpx2. Fake the network of whichever it uses.
HTTPX = getattr(_base_client, "httpx2", None) or _base_client.httpx
API_KEY = "sk-test-SECRET-key-123"
BASE_URL = "https://api.openai.com/v1"


@pytest.fixture
def requests_seen():
    return []


@pytest.fixture
def make_client(requests_seen):
    """``make_client(is_async, cls=openai.OpenAI/AsyncOpenAI, **kwargs)`` over the mock transport."""

    def make(is_async: bool = False, cls=None, **kwargs):
        transport = mock_transport(HTTPX, requests_seen)
        if is_async:
            cls = cls or openai.AsyncOpenAI
            http_client = HTTPX.AsyncClient(transport=transport)
        else:
            cls = cls or openai.OpenAI
            http_client = HTTPX.Client(transport=transport)
        kwargs.setdefault("api_key", API_KEY)
        if "azure_endpoint" not in kwargs:
            kwargs.setdefault("base_url", BASE_URL)
        return cls(http_client=http_client, max_retries=0, **kwargs)

    return make


@pytest.fixture
def instrument():
    """Turn on OpenAIInstrumentor with the given options for the test (off again afterwards)."""
    instrumentor = OpenAIInstrumentor()

    def start(**options):
        instrumentor.instrument(**options)
        return instrumentor

    yield start
    instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument):
    return instrument()
