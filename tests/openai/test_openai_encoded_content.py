"""Content JSON written straight from the request and response (``EncodedJson``): the very text the
message dicts encode to, and, once masked or over the length limit, exactly what the dicts give."""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletion

from traceglass import _config
from traceglass._handler import LLMInvocation
from traceglass._handler._content import EncodedJson, compact_json, encode_strings, encode_text
from traceglass._handler._telemetry import _content_attributes
from traceglass.instrumentors.openai import _extract
from traceglass.instrumentors.openai._stream import ChoicesAccumulator

PLAIN = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": 'Quote "this", then a \\ and a tab\there;\nnew line, é, 日本, \U0001f600'},
    {"role": "assistant", "content": ""},
    {"role": "developer", "content": "x", "name": "someone"},
    {"content": "no role: a user"},
    {"role": "critic", "content": "a role of its own"},
]


def _old_input(messages):
    return compact_json(list(map(_extract.chat_message, messages)))


def test_plain_messages_encode_as_their_dicts_do():
    encoded = _extract.encoded_text_messages(PLAIN)
    assert type(encoded) is EncodedJson
    assert encoded == _old_input(PLAIN)
    assert _extract.encoded_text_messages(tuple(PLAIN)) == _old_input(PLAIN)
    assert _extract.encoded_text_messages([]) == "[]"


@pytest.mark.parametrize("messages", [
    [{"role": "tool", "tool_call_id": "c", "content": "x"}],
    [{"role": "function", "name": "f", "content": "x"}],
    [{"role": "user", "content": [{"type": "text", "text": "parts"}]}],
    [{"role": "assistant", "content": None, "tool_calls": []}],
    [{"role": "assistant", "content": "no", "refusal": "no"}],
    [{"role": "user", "content": None}],
    [{"role": 3, "content": "x"}],
    iter([{"role": "user", "content": "an iterator is read once, by the SDK"}]),
], ids=["tool", "function", "parts", "tool_calls", "refusal", "none", "role-type", "iterator"])
def test_other_messages_take_the_dict_path(messages):
    assert _extract.encoded_text_messages(messages) is None


def _response(**message):
    return ChatCompletion.model_validate({
        "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", **message}},
                    {"index": 1, "finish_reason": "length", "logprobs": None,
                     "message": {"role": "assistant", "content": 'second "choice"\n'}}]})


def _old_output(response):
    return compact_json([_extract._response_message(c.message, c.finish_reason) for c in response.choices])


@pytest.mark.parametrize("message", [{"content": "Bonjour é \U0001f600"}, {"content": ""}, {"content": None}])
def test_text_responses_encode_as_their_dicts_do(message):
    inv = LLMInvocation.new(operation="chat")
    _extract.apply_chat(inv, _response(**message), True)
    assert type(inv.output_messages) is EncodedJson
    assert inv.output_messages == _old_output(_response(**message))
    assert inv.finish_reasons == ["stop", "length"]


@pytest.mark.parametrize("message", [
    {"content": None, "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    {"content": None, "refusal": "I cannot"},
    {"content": None, "function_call": {"name": "f", "arguments": "{}"}},
], ids=["tool_calls", "refusal", "function_call"])
def test_other_responses_take_the_dict_path(message):
    inv = LLMInvocation.new(operation="chat")
    _extract.apply_chat(inv, _response(**message), True)
    assert type(inv.output_messages) is list
    assert compact_json(inv.output_messages) == _old_output(_response(**message))


def test_stream_text_outputs_encode_as_their_dicts_do():
    acc = ChoicesAccumulator()
    acc.texts = {1: ['b "quoted"', "\n"], 0: ["a", " é"]}
    acc.reasons = {0: "stop", 1: "length", 2: "content_filter"}
    inv = LLMInvocation.new(operation="chat")
    acc.apply(inv, True)
    assert type(inv.output_messages) is EncodedJson
    assert json.loads(inv.output_messages) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "a é"}], "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"type": "text", "content": 'b "quoted"\n'}], "finish_reason": "length"},
        {"role": "assistant", "parts": [], "finish_reason": "content_filter"},
    ]
    assert inv.output_messages == compact_json(json.loads(inv.output_messages))


def _settings(limit, mask=None):
    return _config.Settings(capture_content=_config.ContentCapture.SPAN_ONLY, max_content_length=limit, mask=mask)


def _mask(value):
    return value.replace("helpful", "[masked]") if isinstance(value, str) else value


@pytest.mark.parametrize("limit", [10, 40, 120, 100_000])
@pytest.mark.parametrize("mask", [None, _mask], ids=["no-mask", "mask"])
def test_the_handler_writes_encoded_content_as_the_data_it_encodes(limit, mask):
    """Masked or cut, the text is what the dicts give: the mask sees the strings, truncation the shape."""
    settings = _settings(limit, mask)
    chat = _response(content="A helpful answer " * 5)
    encoded, plain = LLMInvocation.new(operation="chat"), LLMInvocation.new(operation="chat")
    encoded.input_messages = _extract.encoded_text_messages(PLAIN)
    plain.input_messages = list(map(_extract.chat_message, PLAIN))
    _extract.apply_chat(encoded, chat, True)
    plain.output_messages = [_extract._response_message(c.message, c.finish_reason) for c in chat.choices]
    assert type(encoded.input_messages) is EncodedJson and type(encoded.output_messages) is EncodedJson
    written = _content_attributes(encoded, settings, {})
    assert written == _content_attributes(plain, settings, {})
    assert all(type(value) is str for value in written.values() if isinstance(value, str))
    if limit < 100_000:
        assert written["traceglass.truncated"]
    if mask is not None and limit == 100_000:
        assert "[masked]" in written["gen_ai.input.messages"] + written["gen_ai.output.messages"]


# --- embeddings inputs: a JSON array of strings ----------------------------------------------------------
STRING_ARRAYS = [
    [], [""], ["", ""], ["plain text"], ["document 1", "document 2 about Hamlet"],
    ['a "quoted" word'], ["a back\\slash"], ["new\nline"], ["tab\there"], ["nul\x00", "unit\x1f"],
    ["del\x7f stays"], ["é, 日本, \U0001f600"], ["line\u2028separator"], ["next\x85line"], ["zero\u200bwidth"],
    ["lone \ud800 surrogate"], ["fine", 'then "one" to escape'],
]


@pytest.mark.parametrize("items", STRING_ARRAYS)
def test_string_arrays_encode_as_compact_json_does(items):
    assert encode_strings(items) == compact_json(items)


def test_string_arrays_fuzzed():
    import random

    rng = random.Random(22)
    alphabet = 'ab Z09"\\\n\t\x00\x1f\x7f\x85é日\u2028\U0001f600{}[],:'
    for _ in range(500):
        items = ["".join(rng.choices(alphabet, k=rng.randrange(6))) for _ in range(rng.randrange(5))]
        assert encode_strings(items) == compact_json(items), items
    long_alphabet = ["a", " ", "\n", '"', "\\", "\t", "\x00", "\x1f", "é", "\u2028"]
    for case in range(300):  # joined, past the long-text length: the substring tests decide
        chars, weights = (long_alphabet, [60, 20, 5] + [1] * 7) if case % 2 else (long_alphabet[:3], [60, 20, 5])
        items = ["".join(rng.choices(chars, weights=weights, k=rng.randrange(40, 120)))
                 for _ in range(rng.randrange(3, 6))]
        assert encode_strings(items) == compact_json(items), items


@pytest.mark.parametrize("raw, expected", [
    (["one", 'two "quoted"'], EncodedJson),
    ("one text", EncodedJson),
    ([[1, 2, 3], "mixed"], list),
    ([[1, 2], [3]], list),
])
def test_embedding_inputs_encode_as_their_list_does(raw, expected):
    """Texts are encoded at the call; token arrays stay a list: either way the handler writes the same
    text, masked and cut alike."""
    inv = _extract.embedding_invocation({"model": "m", "input": raw}, None, True)
    assert type(inv.inputs) is expected
    plain = _extract.embedding_invocation({"model": "m", "input": raw}, None, True)
    plain.inputs = json.loads(inv.inputs) if expected is EncodedJson else list(inv.inputs)
    for settings in (_settings(100_000), _settings(12), _settings(100_000, _mask)):
        assert _content_attributes(inv, settings, {}) == _content_attributes(plain, settings, {})


def _embedding_fields(response):
    inv = _extract.embedding_invocation({"model": "m", "input": "x"}, None, False)
    _extract.apply_embedding(inv, response)
    return inv.response_model, inv.dimension_count, inv.input_tokens


def test_embedding_responses_of_every_shape():
    """The SDK's model, a dict of the same JSON, an object whose items are dicts (LiteLLM's), base64 vectors."""
    from types import SimpleNamespace

    from openai.types import CreateEmbeddingResponse

    body = {"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25, 1.0]}],
            "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    expected = ("text-embedding-3-small", 3, 7)
    assert _embedding_fields(CreateEmbeddingResponse.model_validate(body)) == expected
    assert _embedding_fields(body) == expected
    assert _embedding_fields(SimpleNamespace(model=body["model"], data=body["data"],
                                             usage=SimpleNamespace(prompt_tokens=7))) == expected
    as_base64 = {**body, "data": [{"object": "embedding", "index": 0, "embedding": "AAAAPwAAgL4AAIA/"}]}
    assert _embedding_fields(as_base64) == expected
    assert _embedding_fields({**body, "usage": {"prompt_tokens": True}, "data": []}) == (body["model"], None, None)
    assert _embedding_fields(SimpleNamespace()) == (None, None, None)


# --- long texts: one JSON string literal -----------------------------------------------------------------
LONG = "The prince of Denmark seeks revenge. " * 20


@pytest.mark.parametrize("text", [
    LONG, LONG + "\n" + LONG, "\n" * 300, LONG + '"', '"' + LONG, LONG + "\\", LONG + "\t", LONG + "\x00",
    LONG + "\x1f\n", LONG + "\r\n", LONG + "\x7f", LONG + "é日本\U0001f600\u2028", LONG + "\ud800", LONG[:255] + "\n",
    "",
], ids=lambda text: repr(text[-3:]))
def test_long_texts_encode_as_the_encoder_does(text):
    assert encode_text(text) == json.dumps(text, ensure_ascii=False)


def test_long_texts_fuzzed():
    import random

    rng = random.Random(256)
    alphabet = ['a', ' ', '\n', '"', '\\', '\t', '\x00', '\x1f', '\x7f', 'é', '\u2028', '\ud800']
    for _ in range(300):
        text = "".join(rng.choices(alphabet, weights=[60, 20, 5] + [1] * 9, k=rng.randrange(200, 400)))
        assert encode_text(text) == json.dumps(text, ensure_ascii=False), text


def test_long_messages_encode_as_their_dicts_do():
    messages = [{"role": "system", "content": LONG + "\n\n" + LONG}, {"role": "user", "content": LONG + '"end"'}]
    assert _extract.encoded_text_messages(messages) == _old_input(messages)
