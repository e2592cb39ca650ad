"""Hostile values handed to traced functions: the app gets its own object back, and every content
attribute is strict JSON (no NaN/Infinity tokens) in valid UTF-8 (no lone surrogates), so any
backend's parser and the OTLP protobuf encoder accept it."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass import observe, trace_llm
from traceglass.testing import capture

_CONTENT_KEYS = ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "traceglass.input", "traceglass.output",
                 "gen_ai.input.messages", "gen_ai.output.messages")


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _strict(text: str):
    text.encode("utf-8")  # raises on a lone surrogate
    return json.loads(text, parse_constant=_reject_constant)


class _BadRepr:
    def __repr__(self):
        raise RuntimeError("repr is broken")

    __str__ = __repr__


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=True),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None), max_size=20),
    st.binary(max_size=8), st.builds(_BadRepr), st.just(float("inf")), st.just("\ud800 lone"),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4),
                            st.tuples(inner, inner), st.frozensets(st.integers(), max_size=3)),
    max_leaves=12,
)


@observe(type="tool", name="echo")
def _echo(value):
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_any_value_through_a_tool_returns_unchanged_and_records_strict_json(value):
    with capture() as captured:
        assert _echo(value) is value
    spans = captured.spans()
    assert [s["name"] for s in spans] == ["echo"]
    attributes = spans[0]["attributes"]
    assert "gen_ai.tool.call.arguments" in attributes
    assert ("gen_ai.tool.call.result" in attributes) is (value is not None)  # None records no result
    for key in _CONTENT_KEYS:
        if key in attributes and not (key.endswith("result") and isinstance(value, str)):
            _strict(attributes[key])
        elif key in attributes:
            attributes[key].encode("utf-8")


def test_non_finite_floats_are_recorded_as_text_not_as_json_constants():
    with capture() as captured:
        _echo({"score": float("nan"), "limit": float("inf"), "floor": -math.inf, "ok": 1.5})
    arguments = _strict(captured.spans()[0]["attributes"]["gen_ai.tool.call.arguments"])
    assert arguments == {"value": {"score": "NaN", "limit": "Infinity", "floor": "-Infinity", "ok": 1.5}}


def test_a_lone_surrogate_becomes_the_replacement_character_and_a_pair_stays_one_character():
    @trace_llm(name="llm", model="gpt-4o")
    def llm(prompt):
        return "answer \udfff"

    with capture() as captured:
        llm("broken \ud800 and paired \ud83d\ude00")
    attributes = captured.spans()[0]["attributes"]
    assert _strict(attributes["traceglass.input"]) == {"prompt": "broken \ufffd and paired \U0001F600"}
    assert attributes["traceglass.output"] == "answer \ufffd"


def _string_values(data):
    """Every string in parsed JSON ``data`` that is a value (not a key)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for item in data.values():
            yield from _string_values(item)
    elif isinstance(data, list):
        for item in data:
            yield from _string_values(item)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_a_string_mask_reaches_every_string_of_any_value(value):
    # bytes, broken reprs, NaN and cycles become text too, and that text is masked like any other
    with capture(mask=lambda text: "•") as captured:
        assert _echo(value) is value
    attributes = captured.spans()[0]["attributes"]
    assert set(_string_values(_strict(attributes["gen_ai.tool.call.arguments"]))) <= {"•"}
    if "gen_ai.tool.call.result" in attributes:
        result = attributes["gen_ai.tool.call.result"]
        assert set(_string_values(result if isinstance(value, str) else _strict(result))) <= {"•"}


class _Cyclic(list):
    pass


def _hostile_mask_results():
    cyclic = _Cyclic()
    cyclic.append(cyclic)
    return [float("nan"), b"\x00\xff", _BadRepr(), cyclic, {"k": {1, 2}}, "x" * 100_000, None, "\ud800"]


def test_whatever_a_mask_returns_is_recorded_as_strict_json_within_the_limit():
    for returned in _hostile_mask_results():
        with capture(mask=lambda text, returned=returned: returned, max_content_length=500) as captured:
            assert _echo({"a": ["b", {"c": "d"}]}) == {"a": ["b", {"c": "d"}]}
        arguments = captured.spans()[0]["attributes"]["gen_ai.tool.call.arguments"]
        assert len(arguments) <= 500
        assert _strict(arguments)["value"]["a"][1].keys() == {"c"}  # the shape around the masked strings stays


def test_a_mask_interrupted_by_ctrl_c_is_not_swallowed():
    def mask(text):
        raise KeyboardInterrupt

    with capture(mask=mask):
        try:
            _echo("x")
        except KeyboardInterrupt:
            return
    raise AssertionError("KeyboardInterrupt was swallowed")


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=300)),
    lambda inner: st.one_of(st.lists(inner, max_size=12), st.dictionaries(st.text(max_size=8), inner, max_size=6)),
    max_leaves=25,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_values, st.integers(min_value=2, max_value=3000))
def test_truncation_keeps_the_json_type_of_any_value_within_any_limit(value, limit):
    from traceglass._handler._content import bounded_json

    text, cut = bounded_json(value, limit)
    kept = _strict(text)
    assert type(kept) is type(value)  # an array stays an array, an object an object
    assert len(text) <= limit or not isinstance(value, (list, dict))  # only a bare scalar can be over
    assert cut is (len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))) > limit)
    if not cut:
        assert kept == value
