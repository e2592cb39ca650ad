"""Content capture: the one switch, masking, truncation that keeps JSON valid, span events."""

from __future__ import annotations

import json

import pytest

from traceglass import LlmAttributes, observe, trace_llm, update_current_span_attributes
from traceglass._config import ContentCapture, Settings
from traceglass._handler._content import bounded_json
from traceglass.testing import capture


def _llm():
    @trace_llm(name="llm", model="gpt-4o")
    def llm(prompt):
        update_current_span_attributes(LlmAttributes(input=prompt, output="secret answer"))
        return "secret answer"

    return llm


def test_capture_off_records_no_content_but_keeps_usage():
    @trace_llm(name="llm", model="gpt-4o")
    def llm(prompt):
        update_current_span_attributes(LlmAttributes(input=prompt, output="x", input_token_count=5,
                                                     output_token_count=1))
        return "x"

    with capture(capture_content=False) as captured:
        llm("password123")
    assert captured.span("llm")["attributes"] == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 1,
    }


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, ContentCapture.SPAN_ONLY),
        ({"TRACEGLASS_CAPTURE_CONTENT": "false"}, ContentCapture.NO_CONTENT),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}, ContentCapture.NO_CONTENT),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, ContentCapture.NO_CONTENT),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, ContentCapture.SPAN_ONLY),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"}, ContentCapture.EVENT_ONLY),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event"}, ContentCapture.SPAN_AND_EVENT),
        # traceglass's own variable wins over the standard one
        ({"TRACEGLASS_CAPTURE_CONTENT": "true", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"},
         ContentCapture.SPAN_ONLY),
        ({"TRACEGLASS_CAPTURE_CONTENT": "bogus"}, ContentCapture.SPAN_ONLY),  # warns, falls back
    ],
)
def test_capture_switch_from_environment(variables, expected):
    assert Settings.from_env(variables).capture_content is expected


def test_argument_beats_environment_and_bad_argument_raises():
    env = {"TRACEGLASS_CAPTURE_CONTENT": "false"}
    assert Settings.from_env(env, capture_content=True).capture_content is ContentCapture.SPAN_ONLY
    with pytest.raises(ValueError, match="capture_content"):
        Settings.from_env(env, capture_content="sometimes")
    with pytest.raises(ValueError, match="flush_at"):
        Settings.from_env({}, flush_at=0)


def test_event_only_puts_content_in_an_event_not_on_the_span():
    with capture(capture_content="EVENT_ONLY") as captured:
        _llm()("hello")
    span = captured.span("llm")
    assert "gen_ai.input.messages" not in span["attributes"]
    assert [e["name"] for e in span["events"]] == ["gen_ai.client.inference.operation.details"]
    event = span["events"][0]["attributes"]
    assert json.loads(event["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}
    ]


def test_mask_applies_to_every_captured_value():
    def mask(text):  # a mask sees strings (tests/core/test_mask_contract.py)
        return text.replace("secret", "[MASKED]")

    with capture(mask=mask) as captured:
        _llm()("my secret prompt")
    attributes = captured.span("llm")["attributes"]
    assert "secret" not in json.dumps(attributes)
    assert json.loads(attributes["gen_ai.input.messages"])[0]["parts"][0]["content"] == "my [MASKED] prompt"
    assert attributes["traceglass.output"] == "[MASKED] answer"


def test_truncation_keeps_json_valid_and_marks_the_span():
    @observe(type="tool")
    def big(payload):
        return {"echo": payload}

    with capture(max_content_length=200) as captured:
        big("x" * 5000)
    attributes = captured.span("big")["attributes"]
    arguments = attributes["gen_ai.tool.call.arguments"]
    result = attributes["gen_ai.tool.call.result"]
    assert len(arguments) <= 200 and len(result) <= 200
    assert json.loads(arguments)["payload"].endswith("…[truncated]")
    assert json.loads(result)["echo"].endswith("…[truncated]")
    assert attributes["traceglass.truncated"] == ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result")


def test_long_message_parts_are_cut_per_part():
    with capture(max_content_length=100) as captured:
        _llm()("y" * 1000)
    attributes = captured.span("llm")["attributes"]
    text = attributes["gen_ai.input.messages"]
    assert len(text) <= 100
    messages = json.loads(text)  # still valid JSON, with the message shape intact
    assert messages[0]["role"] == "user"
    content = messages[0]["parts"][0]["content"]
    assert content.startswith("yyyy") and content.endswith("…[truncated]")
    assert "gen_ai.input.messages" in attributes["traceglass.truncated"]


@pytest.mark.parametrize("limit", [5000, 700, 200, 90, 40, 20])
def test_truncation_never_turns_a_messages_array_into_something_else(limit):
    messages = [{"role": "system", "parts": [{"type": "text", "content": "s" * 300}]}] + [
        {"role": "user", "parts": [{"type": "text", "content": f"{i} " + "u" * 200}]} for i in range(30)]
    text, cut = bounded_json(messages, limit)
    assert cut is True and len(text) <= limit
    kept = json.loads(text)
    assert isinstance(kept, list)
    for message in kept:  # each kept message is a message: a role, and parts (while the limit leaves room)
        assert message["role"] in ("system", "user")
        for part in message.get("parts", []):
            assert part["type"] == "text" and part["content"].endswith("…[truncated]")
    if limit == 5000:  # room for every message: each keeps its share
        assert [m["role"] for m in kept] == ["system"] + ["user"] * 30
    if limit == 200:  # room for two: the conversation's first and last messages
        assert [m["parts"][0]["content"][:3] for m in kept] == ["sss", "29 "]


def test_truncation_of_an_object_keeps_an_object_and_of_a_huge_key_an_empty_one():
    text, cut = bounded_json({f"k{i}": i for i in range(100)}, 30)
    assert (text, cut) == ('{"k0":0,"k1":1,"k2":2,"k3":3}', True)
    assert bounded_json({"x" * 100: 1}, 50) == ("{}", True)
    assert bounded_json([[[1] * 50]], 5) == ("[]", True)
    assert bounded_json([1, 2], 100) == ("[1,2]", False)


def test_otel_attribute_limit_lowers_our_own_cut():
    settings = Settings.from_env({"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "64"})
    assert settings.max_content_length == 64
