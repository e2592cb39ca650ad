"""The one reader of a finished span's model usage: model, provider and token counts.

Spans reach us from every instrumentation in the process and, through the OTLP receiver, from any
SDK, each in its own dialect: the v1.41 ``gen_ai.*`` names and the GenAI group's later renames,
names older releases wrote (``gen_ai.usage.prompt_tokens``, ``gen_ai.system``), OpenLLMetry's
(``gen_ai.usage.cache_read_input_tokens``, ``llm.usage.total_tokens``) and OpenInference's
(``llm.token_count.*``, ``llm.model_name``, ``llm.provider``). The cost processor prices what this
module reads and the store fills its columns from it, so a span is stored with the very model and
tokens it was priced by.

Each field is read from the first of its keys that is present (the spec's name first); a count is
a non-negative finite number that fits SQLite's 64 bits, else it is missing (``True`` is not 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from traceglass import semconv

INPUT_KEYS = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_PROMPT_TOKENS, semconv.OPENINFERENCE_PROMPT_TOKENS,
)
OUTPUT_KEYS = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS, semconv.GEN_AI_USAGE_COMPLETION_TOKENS, semconv.OPENINFERENCE_COMPLETION_TOKENS,
)
CACHE_READ_KEYS = (
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, semconv.OPENLLMETRY_CACHE_READ_INPUT_TOKENS,
    semconv.OPENINFERENCE_CACHE_READ_TOKENS,
)
CACHE_WRITE_KEYS = (  # v1.41, then the latest experimental rename (semconv.latest)
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    semconv.OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS, semconv.OPENINFERENCE_CACHE_WRITE_TOKENS,
)
_CACHE_KEYS = frozenset(CACHE_READ_KEYS + CACHE_WRITE_KEYS)
REASONING_KEYS = (
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, semconv.OPENLLMETRY_REASONING_TOKENS,
    semconv.OPENINFERENCE_REASONING_TOKENS,
)
TOTAL_KEYS = (semconv.OPENLLMETRY_TOTAL_TOKENS, semconv.OPENINFERENCE_TOTAL_TOKENS)  # the spec has none
PROVIDER_KEYS = (
    semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_SYSTEM, semconv.OPENINFERENCE_PROVIDER, semconv.OPENINFERENCE_SYSTEM,
)
# Every key a token count is read from (the ingest paths bound their values).
TOKEN_KEYS = frozenset((*INPUT_KEYS, *OUTPUT_KEYS, *CACHE_READ_KEYS, *CACHE_WRITE_KEYS, *REASONING_KEYS, *TOTAL_KEYS))

_MAX_COUNT = 2**63 - 1
# A span carrying none of these reads as no usage (or no model) in one C call: most spans of a
# process are not model calls, and both the cost processor and the store read every span.
_COUNT_KEYS = frozenset((*INPUT_KEYS, *OUTPUT_KEYS))
_MODEL_KEYS = frozenset((
    semconv.GEN_AI_RESPONSE_MODEL, semconv.GEN_AI_REQUEST_MODEL, semconv.OPENINFERENCE_MODEL_NAME, *PROVIDER_KEYS,
))


class SpanUsage:
    """The model usage one span reports about its own call. A count is None when not reported.

    The counts the store does not need (cache, reasoning, total) are read when first asked for.
    """

    __slots__ = ("input_tokens", "output_tokens", "model", "request_model", "response_model", "provider",
                 "input_key", "output_key", "_attributes")

    def __init__(self, attributes: Mapping[str, Any], input_tokens: int | None, output_tokens: int | None,
                 model: str | None, request_model: str | None, response_model: str | None, provider: str | None,
                 input_key: str | None, output_key: str | None) -> None:
        self.input_tokens = input_tokens  # includes cached input, as the spec counts it
        self.output_tokens = output_tokens  # includes reasoning
        self.model = model  # the response model, else the request model, else OpenInference's model name
        self.request_model = request_model
        self.response_model = response_model
        self.provider = provider
        # The attribute each of input and output was read from (None: no such key), so a value
        # that is there but is no count can be named (the store lists it under traceglass.sanitized).
        self.input_key = input_key
        self.output_key = output_key
        self._attributes = attributes

    @property
    def counted(self) -> bool:
        """True when the span reports an input or an output count."""
        return self.input_tokens is not None or self.output_tokens is not None

    @property
    def cache_read_tokens(self) -> int | None:
        return _first_count(self._attributes, CACHE_READ_KEYS)

    @property
    def cache_write_tokens(self) -> int | None:
        return _first_count(self._attributes, CACHE_WRITE_KEYS)

    def cache_counts(self) -> tuple[int, int]:
        """(cache read, cache write) tokens, 0 where not reported: what pricing reads."""
        attributes = self._attributes
        if _CACHE_KEYS.isdisjoint(attributes):  # most spans: one C-level pass over their keys
            return 0, 0
        return _first_count(attributes, CACHE_READ_KEYS) or 0, _first_count(attributes, CACHE_WRITE_KEYS) or 0

    @property
    def reasoning_tokens(self) -> int | None:
        return _first_count(self._attributes, REASONING_KEYS)

    @property
    def total_tokens(self) -> int | None:
        """As reported, else input + output."""
        total = _first_count(self._attributes, TOTAL_KEYS)
        if total is None and self.counted:
            total = (self.input_tokens or 0) + (self.output_tokens or 0)
        return total

    def as_dict(self) -> dict[str, Any]:
        """Every field, read now."""
        return {name: getattr(self, name) for name in _FIELDS}

    def __repr__(self) -> str:
        return f"SpanUsage({', '.join(f'{k}={v!r}' for k, v in self.as_dict().items())})"


_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
           "total_tokens", "model", "request_model", "response_model", "provider", "input_key", "output_key")


def count(value: Any) -> int | None:
    """``value`` as a token count, or None when it is not one."""
    cls = value.__class__
    if cls is int:
        return value if 0 <= value <= _MAX_COUNT else None
    if cls is float or (cls is not bool and isinstance(value, (int, float))):
        return int(value) if math.isfinite(value) and 0 <= value <= _MAX_COUNT else None
    return None


def _present(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if attributes.get(key) is not None:
            return key
    return None


def _first_count(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return count(value)
    return None


def _first_text(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if value.__class__ is str and value:
            return value
    return None


def read_span_model(attributes: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(model, provider)`` of a span, whether or not it reports usage."""
    if _MODEL_KEYS.isdisjoint(attributes):
        return None, None
    get = attributes.get
    model = get(semconv.GEN_AI_RESPONSE_MODEL)
    if model.__class__ is not str or not model:
        model = _first_text(attributes, (semconv.GEN_AI_REQUEST_MODEL, semconv.OPENINFERENCE_MODEL_NAME))
    provider = get(semconv.GEN_AI_PROVIDER_NAME)
    if provider.__class__ is not str or not provider:
        provider = _first_text(attributes, PROVIDER_KEYS[1:])
    return model, provider


def read_span_usage(attributes: Mapping[str, Any]) -> SpanUsage | None:
    """The span's usage, or None when it carries no input or output token count key at all.

    A key whose value is no count (negative, not finite, not a number) reads as a missing count:
    check :attr:`SpanUsage.counted` before pricing. ``attributes`` must not change afterwards
    (an ended span's do not): the rarer counts are read from it when asked for.
    """
    get = attributes.get
    # The spec's names first, inline: the cost processor and the store run this for every span.
    input_key: str | None = INPUT_KEYS[0]
    output_key: str | None = OUTPUT_KEYS[0]
    raw_input, raw_output = get(input_key), get(output_key)
    if raw_input is None or raw_output is None:
        if raw_input is None and raw_output is None and _COUNT_KEYS.isdisjoint(attributes):
            return None  # most spans: not a model call
        if raw_input is None:
            input_key = _present(attributes, INPUT_KEYS[1:])
            raw_input = None if input_key is None else get(input_key)
        if raw_output is None:
            output_key = _present(attributes, OUTPUT_KEYS[1:])
            raw_output = None if output_key is None else get(output_key)
        if input_key is None and output_key is None:
            return None
    response_model = get(semconv.GEN_AI_RESPONSE_MODEL)
    if response_model.__class__ is not str or not response_model:
        response_model = None
    request_model = get(semconv.GEN_AI_REQUEST_MODEL)
    if request_model.__class__ is not str or not request_model:
        request_model = None
    model = response_model or request_model or _first_text(attributes, (semconv.OPENINFERENCE_MODEL_NAME,))
    provider = get(semconv.GEN_AI_PROVIDER_NAME)
    if provider.__class__ is not str or not provider:
        provider = _first_text(attributes, PROVIDER_KEYS[1:])
    # count() only off the common path (a plain int in range).
    if raw_input.__class__ is not int or not 0 <= raw_input <= _MAX_COUNT:
        raw_input = None if raw_input is None else count(raw_input)
    if raw_output.__class__ is not int or not 0 <= raw_output <= _MAX_COUNT:
        raw_output = None if raw_output is None else count(raw_output)
    return SpanUsage(
        attributes,
        raw_input,
        raw_output,
        model,
        request_model,
        response_model,
        provider,
        input_key,
        output_key,
    )
