"""Offline token estimates for streams that reported no usage (only when the user opted in).

Counts with ``tiktoken`` when it is installed and its encoding loads (it downloads encodings on
first use, so an offline machine may not have one); otherwise with a rough word-and-punctuation
count. Either way the span is marked ``traceglass.usage.estimated``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from traceglass._handler import LLMInvocation

logger = logging.getLogger("traceglass")
_WORDS = re.compile(r"\w+|[^\w\s]")
_PER_MESSAGE = 3  # OpenAI's chat format adds a few tokens of framing per message


@lru_cache(maxsize=1)
def _encoder() -> Callable[[str], int]:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("o200k_base")
        return lambda text: len(encoding.encode(text, disallowed_special=()))
    except Exception:  # noqa: BLE001 - not installed, or no encoding file offline
        logger.info("traceglass: tiktoken unavailable; estimating tokens from words and punctuation")
        return lambda text: len(_WORDS.findall(text))


def _message_texts(kwargs: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for key in ("messages", "input"):
        value = kwargs.get(key)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                content = item.get("content") if isinstance(item, dict) else getattr(item, "content", None)
                texts.append(content if isinstance(content, str) else json.dumps(content, default=str))
    prompt = kwargs.get("prompt")
    if isinstance(prompt, str):
        texts.append(prompt)
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        texts.append(instructions)
    return texts


def estimate(inv: LLMInvocation, kwargs: dict[str, Any], output_text: str) -> None:
    """Fill input/output tokens of ``inv`` from the request and the streamed text; mark them estimated."""
    count = _encoder()
    texts = _message_texts(kwargs)
    inv.input_tokens = sum(count(t) + _PER_MESSAGE for t in texts)
    inv.output_tokens = count(output_text)
    inv.usage_estimated = True
