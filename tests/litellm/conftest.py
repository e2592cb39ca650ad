"""Fixtures: the real ``litellm`` against the local OpenAI fake on 127.0.0.1, instrumented per test.

LiteLLM would fetch its model price map from GitHub at import, and may post telemetry: the
price map is read from the package (``LITELLM_LOCAL_MODEL_COST_MAP``, set before any import),
and every test fails if anything connected anywhere but 127.0.0.1 (an audit hook watches).
"""

from __future__ import annotations

import os
import sys

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import pytest  # noqa: E402

from tests.openai._fake_api import LocalOpenAIServer  # noqa: E402
from traceglass.instrumentors.litellm import LiteLLMInstrumentor  # noqa: E402

API_KEY = "sk-test-SECRET-key-123"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
OUTSIDE: list[str] = []  # every connection or name lookup that was not to this machine


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address and address[0] not in _LOOPBACK:
            OUTSIDE.append(f"connect {address!r}")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, (str, bytes)) and (host.decode() if isinstance(host, bytes) else host) not in _LOOPBACK:
            OUTSIDE.append(f"getaddrinfo {host!r}")


sys.addaudithook(_audit)  # cannot be removed; it only records, and only tests/litellm reads it


@pytest.fixture(autouse=True)
def _only_loopback():
    """No test here may reach past 127.0.0.1 (LiteLLM's price map, telemetry, a real provider)."""
    before = len(OUTSIDE)
    yield
    assert OUTSIDE[before:] == []


@pytest.fixture(scope="module")
def server():
    with LocalOpenAIServer() as running:
        yield running


@pytest.fixture
def route(server):
    """The keyword arguments that send a LiteLLM call to the local OpenAI fake."""
    return {"api_base": server.base_url, "api_key": API_KEY}


@pytest.fixture
def instrument():
    instrumentor = LiteLLMInstrumentor()

    def start(**options):
        instrumentor.instrument(**options)
        return instrumentor

    yield start
    instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument):
    return instrument()
