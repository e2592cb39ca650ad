"""The pure mapping of LangChain payloads onto invocation fields, on real langchain-core objects."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

from traceglass._handler import LLMInvocation
from traceglass.instrumentors.langchain import _extract


def test_usage_from_llm_output_when_messages_have_none():
    inv = LLMInvocation()
    result = LLMResult(generations=[[Generation(text="ok", generation_info={"finish_reason": "length"})]],
                       llm_output={"token_usage": {"prompt_tokens": 7, "completion_tokens": 5,
                                                   "prompt_tokens_details": {"cached_tokens": 2}},
                                   "model_name": "gpt-3.5-turbo-instruct"})
    _extract.apply_result(inv, result)
    assert (inv.input_tokens, inv.output_tokens, inv.cache_read_tokens) == (7, 5, 2)
    assert inv.response_model == "gpt-3.5-turbo-instruct"
    assert inv.finish_reasons == ["length"]
    assert inv.output_messages == [{"role": "assistant", "parts": [{"type": "text", "content": "ok"}],
                                    "finish_reason": "length"}]


def test_several_choices_count_usage_once():
    usage = {"input_tokens": 10, "output_tokens": 8, "total_tokens": 18,
             "input_token_details": {"cache_creation": 3}, "output_token_details": {"reasoning": 4}}
    choices = [ChatGeneration(message=AIMessage(text, usage_metadata=usage, response_metadata={
        "finish_reason": "stop", "id": "msg_1", "model_name": "claude-x"})) for text in ("a", "b")]
    inv = LLMInvocation()
    _extract.apply_result(inv, LLMResult(generations=[choices]))
    assert (inv.input_tokens, inv.output_tokens, inv.cache_creation_tokens, inv.reasoning_tokens) == (10, 8, 3, 4)
    assert inv.finish_reasons == ["stop", "stop"]
    assert [m["parts"][0]["content"] for m in inv.output_messages] == ["a", "b"]
    assert (inv.response_id, inv.response_model) == ("msg_1", "claude-x")


def test_content_blocks_become_parts():
    messages = [
        SystemMessage("rules"),
        HumanMessage([{"type": "text", "text": "what is this?"},
                      {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]),
        AIMessage([{"type": "reasoning", "reasoning": "looks like a cat"}, {"type": "text", "text": "A cat."}]),
        ToolMessage([{"type": "text", "text": "42"}], tool_call_id="c1"),
    ]
    assert _extract.input_messages(messages) == [
        {"role": "system", "parts": [{"type": "text", "content": "rules"}]},
        {"role": "user", "parts": [{"type": "text", "content": "what is this?"},
                                   {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"}]},
        {"role": "assistant", "parts": [{"type": "reasoning", "content": "looks like a cat"},
                                        {"type": "text", "content": "A cat."}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "42"}]},
    ]


def test_request_parameters_and_provider():
    inv = LLMInvocation()
    _extract.apply_request(inv, {"model": "claude-3-5-sonnet", "temperature": 0, "top_k": 40,
                                 "max_tokens_to_sample": 100, "stop_sequences": ["END"], "n": 1}, {})
    assert (inv.temperature, inv.top_k, inv.max_tokens, inv.stop_sequences, inv.choice_count) == (
        0.0, 40.0, 100, ["END"], None)
    assert _extract.provider_of(None, {"ls_provider": "amazon_bedrock"}) == "aws.bedrock"
    assert _extract.provider_of({"id": ["langchain", "chat_models", "anthropic", "ChatAnthropic"]}, {}) == "anthropic"
    assert _extract.provider_of(None, {}) is None
    assert _extract.model_of({"ls_model_name": "m1"}, {"model": "m2"}) == "m1"
