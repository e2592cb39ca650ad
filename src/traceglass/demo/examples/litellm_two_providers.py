"""LiteLLM across two providers, auto-instrumented: one question to GPT and to Claude, then a Claude stream.

What it shows — with no tracing code around the calls at all:
- one `litellm.completion` call shape for two providers: `openai/gpt-4o-mini` goes to an OpenAI-compatible
  Chat Completions API, `anthropic/claude-haiku-4-5` to Anthropic's Messages API; both calls sit under one
  `compare_providers` span, each with the provider LiteLLM resolved (`openai`, `anthropic`), the model
  asked for and the model that answered;
- a stream through LiteLLM's Anthropic route: the span covers the whole stream, and its usage is exact
  (traceglass asks LiteLLM for the usage chunk and hides it from the caller);
- cost: each span is priced by traceglass from the same price table as a direct SDK call, and LiteLLM's own
  figure is kept beside it (`traceglass.cost.provider_reported_usd`) for comparison, never added twice.

Runs against the bundled server (it speaks OpenAI's and Anthropic's APIs) unless OPENAI_API_KEY /
ANTHROPIC_API_KEY or the *_BASE_URL variables are set.
Run: python examples/litellm_two_providers.py
"""

from __future__ import annotations

import os

# LiteLLM fetches its price map from GitHub on import unless told to use the copy it ships with.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402 - after the environment it reads on import

import traceglass  # noqa: E402
from traceglass.demo import anthropic_endpoint, openai_endpoint  # noqa: E402

GPT = "openai/gpt-4o-mini"
CLAUDE = "anthropic/claude-haiku-4-5"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def run(routes: dict[str, dict[str, str | None]]) -> None:
    with traceglass.span("compare_providers", type="chain"):
        for model in (GPT, CLAUDE):
            reply = litellm.completion(model=model, messages=QUESTION, max_tokens=200, **routes[model])
            print(f"{model}: {reply.choices[0].message.content}")

    stream = litellm.completion(model=CLAUDE, messages=[{"role": "user", "content": "Write a haiku about tracing"}],
                                max_tokens=200, stream=True, **routes[CLAUDE])
    print("Streamed:", "".join(chunk.choices[0].delta.content or "" for chunk in stream))


def main() -> None:
    traceglass.configure(service_name="litellm-two-providers")
    with openai_endpoint(chunk_delay=0.01) as gpt, anthropic_endpoint(chunk_delay=0.01) as claude:
        # api_base None: LiteLLM's default for that provider, the real API
        run({GPT: {"api_base": gpt.base_url, "api_key": gpt.api_key},
             CLAUDE: {"api_base": claude.base_url, "api_key": claude.api_key}})
    traceglass.flush()


if __name__ == "__main__":
    main()
