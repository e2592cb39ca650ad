"""Where the examples send their OpenAI and Anthropic calls: the real API with a key, else the bundled server."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from traceglass.demo.fake_openai import FakeOpenAIServer

DEMO_API_KEY = "traceglass-demo"
# Seconds between streamed chunks when the demo serves: streams arrive visibly, as a real API's do.
DEMO_CHUNK_DELAY = 0.005


@dataclass(frozen=True)
class OpenAIEndpoint:
    """A base URL (None: OpenAI's own) and an API key for the ``openai`` client."""

    base_url: str | None
    api_key: str
    bundled: bool

    def client(self, **options: Any) -> Any:
        import openai

        return openai.OpenAI(base_url=self.base_url, api_key=self.api_key, **options)

    def async_client(self, **options: Any) -> Any:
        import openai

        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, **options)


@contextmanager
def openai_endpoint(chunk_delay: float = 0.0) -> Iterator[OpenAIEndpoint]:
    """The endpoint an example should use.

    ``OPENAI_BASE_URL`` set: that server (the demo sets it to its bundled server). Else
    ``OPENAI_API_KEY`` set: the real OpenAI API. Else: a bundled OpenAI-compatible server on
    127.0.0.1, started here and stopped on exit — no key and no network needed.
    """
    base_url = os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get("OPENAI_API_KEY")
    if base_url:
        yield OpenAIEndpoint(base_url, api_key or DEMO_API_KEY, bundled=False)
    elif api_key:
        yield OpenAIEndpoint(None, api_key, bundled=False)
    else:
        with FakeOpenAIServer(chunk_delay=chunk_delay) as server:
            yield OpenAIEndpoint(server.base_url, DEMO_API_KEY, bundled=True)


@dataclass(frozen=True)
class AnthropicEndpoint:
    """A base URL (None: Anthropic's own) and an API key for the ``anthropic`` client."""

    base_url: str | None
    api_key: str
    bundled: bool

    def client(self, **options: Any) -> Any:
        import anthropic

        return anthropic.Anthropic(base_url=self.base_url, api_key=self.api_key, **options)

    def async_client(self, **options: Any) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic(base_url=self.base_url, api_key=self.api_key, **options)


@contextmanager
def anthropic_endpoint(chunk_delay: float = 0.0) -> Iterator[AnthropicEndpoint]:
    """The endpoint a Claude example should use, chosen as :func:`openai_endpoint` chooses.

    ``ANTHROPIC_BASE_URL`` set: that server (the demo sets it to its bundled server). Else
    ``ANTHROPIC_API_KEY`` set: the real Anthropic API. Else: the bundled server (it speaks
    Anthropic's Messages API too) on 127.0.0.1, started here and stopped on exit.
    """
    base_url = os.environ.get("ANTHROPIC_BASE_URL")
    api_key = os.environ.get("ANTHROPIC_API_KEY")
    if base_url:
        yield AnthropicEndpoint(base_url, api_key or DEMO_API_KEY, bundled=False)
    elif api_key:
        yield AnthropicEndpoint(None, api_key, bundled=False)
    else:
        with FakeOpenAIServer(chunk_delay=chunk_delay) as server:
            yield AnthropicEndpoint(server.anthropic_base_url, DEMO_API_KEY, bundled=True)
