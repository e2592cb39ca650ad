"""Traced functions shared by several test packages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traceglass import LlmAttributes, trace_llm, update_current_span_attributes


def llm_function(name: str, tokens_in: int, tokens_out: int, model: str = "gpt-4o",
                 inner: Callable[[], Any] | None = None, **decorator: Any) -> Callable[[], str]:
    """A ``@trace_llm`` function that reports its tokens and returns ``"a"``, after calling
    ``inner`` (another such function: two layers reporting one call) if given."""

    @trace_llm(name=name, model=model, **decorator)
    def call() -> str:
        if inner is not None:
            inner()
        update_current_span_attributes(
            LlmAttributes(input="q", output="a", input_token_count=tokens_in, output_token_count=tokens_out)
        )
        return "a"

    return call
