"""Guess ``gen_ai.provider.name`` from a model name, for spans where the user named only a model."""

from __future__ import annotations

from traceglass.semconv import GenAIProvider

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-", GenAIProvider.OPENAI),
    ("chatgpt-", GenAIProvider.OPENAI),
    ("o1", GenAIProvider.OPENAI),
    ("o3", GenAIProvider.OPENAI),
    ("o4", GenAIProvider.OPENAI),
    ("text-embedding-", GenAIProvider.OPENAI),
    ("davinci", GenAIProvider.OPENAI),
    ("claude", GenAIProvider.ANTHROPIC),
    ("gemini", GenAIProvider.GCP_GEMINI),
    ("mistral", GenAIProvider.MISTRAL_AI),
    ("mixtral", GenAIProvider.MISTRAL_AI),
    ("codestral", GenAIProvider.MISTRAL_AI),
    ("command", GenAIProvider.COHERE),
    ("deepseek", GenAIProvider.DEEPSEEK),
    ("grok", GenAIProvider.X_AI),
    ("sonar", GenAIProvider.PERPLEXITY),
)


def provider_for_model(model: str | None) -> str | None:
    """The provider a model name belongs to, or None when it is not recognised."""
    if not model:
        return None
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, provider in _PREFIXES:
        if name.startswith(prefix):
            return provider
    if "/" in model:  # "openai/gpt-4o", "anthropic/claude-..."
        head = model.split("/", 1)[0].lower()
        return {"openai": GenAIProvider.OPENAI, "anthropic": GenAIProvider.ANTHROPIC}.get(head)
    return None
