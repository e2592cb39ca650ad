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
