"""The first-run demo: a local OpenAI-compatible server and example apps traced against it."""

from traceglass.demo.endpoint import OpenAIEndpoint, openai_endpoint
from traceglass.demo.fake_openai import FakeOpenAIServer

__all__ = ["FakeOpenAIServer", "OpenAIEndpoint", "openai_endpoint"]
