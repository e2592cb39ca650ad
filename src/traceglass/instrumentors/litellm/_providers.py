"""LiteLLM's provider names -> ``gen_ai.provider.name`` (the spec's well-known values).

A name LiteLLM knows and the spec does not list passes through as LiteLLM spells it.
"""

from __future__ import annotations

from traceglass.semconv import GenAIProvider

_PROVIDERS: dict[str, str] = {
    "openai": GenAIProvider.OPENAI,
    "text-completion-openai": GenAIProvider.OPENAI,
    "chatgpt": GenAIProvider.OPENAI,
    "azure": GenAIProvider.AZURE_AI_OPENAI,
    "azure_text": GenAIProvider.AZURE_AI_OPENAI,
    "azure_ai": GenAIProvider.AZURE_AI_INFERENCE,
    "anthropic": GenAIProvider.ANTHROPIC,
    "anthropic_text": GenAIProvider.ANTHROPIC,
    "bedrock": GenAIProvider.AWS_BEDROCK,
    "bedrock_converse": GenAIProvider.AWS_BEDROCK,
    "vertex_ai": GenAIProvider.GCP_VERTEX_AI,
    "vertex_ai_beta": GenAIProvider.GCP_VERTEX_AI,
    "gemini": GenAIProvider.GCP_GEMINI,
    "cohere": GenAIProvider.COHERE,
    "cohere_chat": GenAIProvider.COHERE,
    "deepseek": GenAIProvider.DEEPSEEK,
    "groq": GenAIProvider.GROQ,
    "watsonx": GenAIProvider.IBM_WATSONX_AI,
    "watsonx_text": GenAIProvider.IBM_WATSONX_AI,
    "mistral": GenAIProvider.MISTRAL_AI,
    "codestral": GenAIProvider.MISTRAL_AI,
    "text-completion-codestral": GenAIProvider.MISTRAL_AI,
    "perplexity": GenAIProvider.PERPLEXITY,
    "xai": GenAIProvider.X_AI,
}


def semconv_provider(litellm_provider: object) -> str | None:
    """The spec's name for a LiteLLM provider (``"bedrock"`` -> ``"aws.bedrock"``), else LiteLLM's."""
    if not isinstance(litellm_provider, str) or not litellm_provider:
        return None
    return _PROVIDERS.get(litellm_provider, litellm_provider)
