"""The one OpenAI usage reader (traceglass._handler._usage): SDK objects and dicts, both name families."""

from __future__ import annotations

import pytest
from openai.types.completion_usage import CompletionTokensDetails, CompletionUsage, PromptTokensDetails
from openai.types.create_embedding_response import Usage as EmbeddingUsage
from openai.types.responses import ResponseUsage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from traceglass._handler import LLMInvocation
from traceglass._handler._usage import Usage, apply_model_response, apply_usage, embedding_input_tokens, usage_of

CHAT = CompletionUsage(prompt_tokens=30, completion_tokens=50, total_tokens=80,
                       prompt_tokens_details=PromptTokensDetails(cached_tokens=10),
                       completion_tokens_details=CompletionTokensDetails(reasoning_tokens=7))
RESPONSES = ResponseUsage(input_tokens=12, output_tokens=4, total_tokens=16,
                          input_tokens_details=InputTokensDetails(cached_tokens=2, cache_write_tokens=0),
                          output_tokens_details=OutputTokensDetails(reasoning_tokens=1))


@pytest.mark.parametrize(("usage", "expected"), [
    (CHAT, Usage(30, 50, 10, None, 7)),
    (CHAT.model_dump(), Usage(30, 50, 10, None, 7)),
    (RESPONSES, Usage(12, 4, 2, None, 1)),
    (RESPONSES.model_dump(), Usage(12, 4, 2, None, 1)),
    # an SDK older than the details fields keeps them as extras: plain dicts
    (CompletionUsage.model_validate({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}), Usage(3, 2)),
    ({"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1,
                                                                            "cache_creation_tokens": 2}},
     Usage(3, 2, 1, 2, None)),
    ({"completion_tokens": 9}, Usage(None, 9)),  # a dict with only an output count
    ({"input_tokens": 5, "output_tokens": 6, "input_tokens_details": {"cached_tokens": True}}, Usage(5, 6)),
    ({"prompt_tokens": True, "completion_tokens": "2"}, None),  # neither is a count
    ({"total_tokens": 5}, None),
    (None, None),
])
def test_usage_of_reads_both_families_off_objects_and_dicts(usage, expected):
    assert usage_of(usage) == expected


def test_only_reported_counts_are_written():
    inv = LLMInvocation(input_tokens=1, output_tokens=2, cache_read_tokens=3, reasoning_tokens=4)
    assert apply_usage(inv, {"prompt_tokens": 10}) is True
    assert (inv.input_tokens, inv.output_tokens, inv.cache_read_tokens, inv.reasoning_tokens) == (10, 2, 3, 4)
    assert apply_usage(inv, {"foo": 1}) is False
    assert (inv.input_tokens, inv.output_tokens) == (10, 2)


def test_embeddings_report_input_only():
    assert embedding_input_tokens(EmbeddingUsage(prompt_tokens=8, total_tokens=8)) == 8
    assert embedding_input_tokens({"prompt_tokens": 8}) == 8
    assert embedding_input_tokens(None) is None


def test_a_model_response_fills_model_id_and_usage():
    inv = LLMInvocation()
    apply_model_response(inv, {"id": "resp_1", "model": "gpt-4o", "usage": RESPONSES})
    assert (inv.response_id, inv.response_model, inv.input_tokens, inv.output_tokens, inv.cache_read_tokens,
            inv.reasoning_tokens) == ("resp_1", "gpt-4o", 12, 4, 2, 1)


def test_sdk_usage_objects_are_read_without_asking_for_fields_they_lack(monkeypatch):
    """A missing field on an SDK model costs pydantic an AttributeError (~7 us a call): never read one."""
    asked: list[str] = []
    for cls in (CompletionUsage, ResponseUsage, PromptTokensDetails, CompletionTokensDetails, InputTokensDetails,
                OutputTokensDetails, EmbeddingUsage):
        original = cls.__getattr__

        def spy(self, name, _original=original):
            asked.append(f"{type(self).__name__}.{name}")
            return _original(self, name)

        monkeypatch.setattr(cls, "__getattr__", spy)
    usage_of(CHAT)
    embedding_input_tokens(EmbeddingUsage(prompt_tokens=8, total_tokens=8))
    assert asked == []
    usage_of(RESPONSES)
    assert asked == ["ResponseUsage.prompt_tokens"]  # the one probe that tells the families apart
