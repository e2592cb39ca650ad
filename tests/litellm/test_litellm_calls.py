"""litellm.completion/acompletion, embedding, text_completion, responses and Router: whole spans."""

from __future__ import annotations

import json

import litellm
import pytest

from traceglass.testing import capture

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
]
INPUT_JSON = ('[{"role":"system","parts":[{"type":"text","content":"You are terse."}]},'
              '{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]')
OUTPUT_JSON = '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]'
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def request_attributes(server, operation="chat", model="gpt-4o-mini", span_type="llm"):
    return {
        "traceglass.span.type": span_type,
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": server._server.server_address[1],
    }


def chat_response_attributes(model="gpt-4o-mini-2024-07-18", finish="stop"):
    return {
        "gen_ai.response.id": "chatcmpl-abc123",
        "gen_ai.response.model": model,
        "gen_ai.response.finish_reasons": (finish,),
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_44709d6fcb",
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.usage.reasoning.output_tokens": 2,
    }


async def run(is_async, sync_fn, async_fn, *args, **kwargs):
    return await async_fn(*args, **kwargs) if is_async else sync_fn(*args, **kwargs)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
async def test_completion(instrumented, server, route, is_async, content):
    with capture(capture_content=content) as captured:
        response = await run(is_async, litellm.completion, litellm.acompletion,
                             model="openai/gpt-4o-mini", messages=MESSAGES, temperature=0.5, max_tokens=50,
                             **route)
    assert response.choices[0].message.content == "Hello there!"
    (span,) = captured.spans()
    assert (span["name"], span["kind"], span["status"], span["parent_id"]) == (
        "chat gpt-4o-mini", "CLIENT", "UNSET", None)
    expected = {
        **request_attributes(server),
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 50,
        **chat_response_attributes(),
        # LiteLLM's own price of the call, kept beside ours (never summed)
        "traceglass.cost.provider_reported_usd": response._hidden_params["response_cost"],
    }
    if content:
        expected["gen_ai.input.messages"] = INPUT_JSON
        expected["gen_ai.output.messages"] = OUTPUT_JSON
    assert span["attributes"] == expected
    assert response._hidden_params["response_cost"] > 0
    assert API_KEY_NOT_IN(span)


def API_KEY_NOT_IN(span):  # noqa: N802 - reads as the assertion it is
    return "SECRET" not in json.dumps(span, default=str)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_completion_positional_model_and_tool_call(instrumented, server, route, is_async, captured):
    # litellm.completion(model, messages): the model and messages are positional parameters
    fn = litellm.acompletion if is_async else litellm.completion
    response = fn("openai/gpt-4o", MESSAGES, tools=TOOLS, **route)
    if is_async:
        response = await response
    assert response.choices[0].finish_reason == "tool_calls"
    span = captured.span("chat gpt-4o")
    assert span["attributes"] == {
        **request_attributes(server, model="gpt-4o"),
        **chat_response_attributes(model="gpt-4o-2024-08-06", finish="tool_calls"),
        "traceglass.cost.provider_reported_usd": response._hidden_params["response_cost"],
        "gen_ai.input.messages": INPUT_JSON,
        "gen_ai.output.messages": ('[{"role":"assistant","parts":[{"type":"tool_call","id":"call_weather1",'
                                   '"name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]'),
        "gen_ai.tool.definitions": '[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]',
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_embedding(instrumented, server, route, is_async, captured):
    response = await run(is_async, litellm.embedding, litellm.aembedding,
                         model="openai/text-embedding-3-small", input=["a", "b"], **route)
    (span,) = captured.spans()
    assert span["name"] == "embeddings text-embedding-3-small"
    assert span["attributes"] == {
        **request_attributes(server, "embeddings", "text-embedding-3-small", "embedding"),
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.embeddings.dimension.count": 3,
        "traceglass.embeddings.input_count": 2,
        "gen_ai.usage.input_tokens": 6,
        "traceglass.cost.provider_reported_usd": response._hidden_params["response_cost"],
        "traceglass.input": '["a","b"]',
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_text_completion(instrumented, server, route, is_async, captured):
    await run(is_async, litellm.text_completion, litellm.atext_completion,
              model="openai/gpt-3.5-turbo-instruct", prompt="Once", **route)
    (span,) = captured.spans()  # text_completion calls completion inside: still one span
    assert span["name"] == "text_completion gpt-3.5-turbo-instruct"
    assert span["attributes"] == {
        **request_attributes(server, "text_completion", "gpt-3.5-turbo-instruct"),
        "gen_ai.response.id": "cmpl-abc123",
        "gen_ai.response.model": "gpt-3.5-turbo-instruct",
        "gen_ai.response.finish_reasons": ("length",),
        "openai.response.system_fingerprint": "fp_44709d6fcb",
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Once"}]}]',
        "gen_ai.output.messages": ('[{"role":"assistant","parts":[{"type":"text","content":"Once upon a time"}],'
                                   '"finish_reason":"length"}]'),
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_responses(instrumented, server, route, is_async, captured):
    response = await run(is_async, litellm.responses, litellm.aresponses,
                         model="openai/gpt-4o-mini", input="Hi", instructions="Be brief.", **route)
    (span,) = captured.spans()
    assert span["attributes"] == {
        **request_attributes(server),
        "gen_ai.response.id": response.id,  # LiteLLM encodes the provider into the id it returns
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "default",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 10,
        "gen_ai.usage.reasoning.output_tokens": 4,
        "traceglass.cost.provider_reported_usd": response._hidden_params["response_cost"],
        "gen_ai.system_instructions": '[{"type":"text","content":"Be brief."}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]',
        "gen_ai.output.messages": ('[{"role":"assistant","parts":[{"type":"reasoning","content":"Greet back."},'
                                   '{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]'),
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_router_call_is_one_span_under_the_deployments_model(instrumented, server, route, is_async,
                                                                     captured):
    router = litellm.Router(model_list=[
        {"model_name": "fast", "litellm_params": {"model": "openai/gpt-4o-mini", **route}}])
    if is_async:
        response = await router.acompletion(model="fast", messages=MESSAGES)
    else:
        response = router.completion(model="fast", messages=MESSAGES)
    (span,) = captured.spans()  # the deployment's model, not the group's name
    assert span["name"] == "chat gpt-4o-mini"
    assert span["attributes"] == {
        **request_attributes(server),
        **chat_response_attributes(),
        "traceglass.cost.provider_reported_usd": response._hidden_params["response_cost"],
        "gen_ai.input.messages": INPUT_JSON,
        "gen_ai.output.messages": OUTPUT_JSON,
    }


@pytest.mark.parametrize(("model", "error_type", "exception"), [
    ("error-429", "429", "RateLimitError"),
    ("error-500", "500", "InternalServerError"),
])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_api_errors_fail_the_span_and_pass_through(instrumented, server, route, captured, model, error_type,
                                                         exception, is_async):
    with pytest.raises(getattr(litellm, exception)) as raised:
        await run(is_async, litellm.completion, litellm.acompletion, model=f"openai/{model}",
                  messages=MESSAGES, max_retries=0, **route)
    (span,) = captured.spans()
    assert (span["name"], span["status"]) == (f"chat {model}", "ERROR")
    assert span["status_description"].startswith(f"{exception}: ")
    assert span["attributes"] == {**request_attributes(server, model=model), "error.type": error_type,
                                  "gen_ai.input.messages": INPUT_JSON}
    assert [e["name"] for e in span["events"]] == ["exception"]
    assert span["events"][0]["attributes"]["exception.type"].endswith(type(raised.value).__qualname__)


async def test_litellm_calling_its_own_entry_point_inside_a_call_is_one_span(instrumented, route, captured):
    # LiteLLM runs its entry points from inside others (acompletion -> completion in many releases,
    # text_completion and the Responses bridge -> completion): the inner one is the outer's call.
    original = litellm.acompletion.__wrapped__

    async def via_completion(*args, **kwargs):
        return litellm.completion(*args, **kwargs)

    litellm.acompletion.__wrapped__ = via_completion
    try:
        await litellm.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, **route)
    finally:
        litellm.acompletion.__wrapped__ = original
    assert [s["name"] for s in captured.spans()] == ["chat gpt-4o-mini"]
