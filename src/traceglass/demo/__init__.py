"""The first-run demo: a local OpenAI- (and Anthropic-) compatible server and example apps traced against it."""

from __future__ import annotations

from typing import Any

_EXPORTS = {"FakeOpenAIServer": "traceglass.demo.fake_openai", "OpenAIEndpoint": "traceglass.demo.endpoint",
            "openai_endpoint": "traceglass.demo.endpoint", "AnthropicEndpoint": "traceglass.demo.endpoint",
            "anthropic_endpoint": "traceglass.demo.endpoint"}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `python -m traceglass.demo.fake_openai` runs that module once (as
    # __main__) instead of after the package has already imported it.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'traceglass.demo' has no attribute {name!r}")


__all__ = ["AnthropicEndpoint", "FakeOpenAIServer", "OpenAIEndpoint", "anthropic_endpoint", "openai_endpoint"]
