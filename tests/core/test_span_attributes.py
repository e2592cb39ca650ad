"""set_span_attributes: what the SDK's set_attributes stores, without its cleaning for plain values."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext

from traceglass._handler._span_attributes import set_span_attributes


def _plain() -> dict:
    return {
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ("stop", "length"),
        "gen_ai.response.tool_names": ["a", "b"],
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.request.temperature": 0.5,
        "traceglass.usage.estimated": True,
        "gen_ai.empty": [],
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"héllo"}]}]',
    }


def _spans(limits: SpanLimits | None = None, start: dict | None = None):
    tracer = TracerProvider(span_limits=limits).get_tracer("t")
    return tracer.start_span("ours", attributes=start), tracer.start_span("sdk", attributes=start)


def _same_as_sdk(values: dict, limits: SpanLimits | None = None, start: dict | None = None):
    ours, sdk = _spans(limits, start)
    set_span_attributes(ours, dict(values))
    sdk.set_attributes(dict(values))
    assert dict(ours.attributes) == dict(sdk.attributes)
    assert ours.dropped_attributes == sdk.dropped_attributes
    return ours


def test_plain_values_are_stored_as_the_sdk_stores_them():
    span = _same_as_sdk(_plain(), start={"gen_ai.operation.name": "chat"})
    assert span.attributes["gen_ai.response.tool_names"] == ("a", "b")
    assert span.attributes["gen_ai.empty"] == ()
    assert list(span.attributes)[0] == "gen_ai.operation.name"


def test_plain_values_skip_the_sdks_cleaning(monkeypatch):
    def refuse(self, attributes):
        raise AssertionError("went through Span.set_attributes")

    monkeypatch.setattr(sdk_trace.Span, "set_attributes", refuse)
    ours, _ = _spans()
    set_span_attributes(ours, _plain())
    assert ours.attributes["gen_ai.usage.input_tokens"] == 12
    with pytest.raises(AssertionError, match="went through"):  # anything else still goes to the SDK
        set_span_attributes(ours, {"gen_ai.odd": [1, 2]})


class _Named:
    def __str__(self) -> str:
        return "named"


@pytest.mark.parametrize("value", [
    [1, 2], ("a", 1), ["a", None], _Named(), {"k": "v"}, b"bytes", None,
], ids=["ints", "mixed", "none-item", "object", "mapping", "bytes", "none"])
def test_other_values_are_cleaned_by_the_sdk(value):
    _same_as_sdk({"gen_ai.ok": "yes", "gen_ai.odd": value})


def test_a_bad_key_goes_to_the_sdk(caplog):
    with caplog.at_level(logging.WARNING):
        span = _same_as_sdk({"gen_ai.ok": "yes", "": "empty key"})
    assert "" not in span.attributes


def test_a_value_length_limit_truncates_as_the_sdk_does():
    span = _same_as_sdk({"gen_ai.text": "abcdefgh", "gen_ai.list": ["abcdefgh"]}, SpanLimits(max_attribute_length=4))
    assert span.attributes["gen_ai.text"] == "abcd"


@pytest.mark.parametrize("room", [0, 1, 3])
def test_the_attribute_count_limit_drops_as_the_sdk_does(room):
    start = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    span = _same_as_sdk(_plain(), SpanLimits(max_span_attributes=len(start) + room), start)
    assert len(span.attributes) == len(start) + room


def test_a_value_replaced_keeps_the_new_value():
    span = _same_as_sdk({"gen_ai.request.model": "new", "gen_ai.x": 1}, start={"gen_ai.request.model": "old"})
    assert span.attributes["gen_ai.request.model"] == "new"


def test_an_ended_span_is_left_as_it_was(caplog):
    ours, sdk = _spans(start={"gen_ai.operation.name": "chat"})
    ours.end()
    sdk.end()
    with caplog.at_level(logging.WARNING):
        set_span_attributes(ours, _plain())
    sdk.set_attributes(_plain())
    assert dict(ours.attributes) == dict(sdk.attributes) == {"gen_ai.operation.name": "chat"}
    assert "ended span" in caplog.text


def test_a_span_of_another_class_gets_its_own_set_attributes():
    class Recording(sdk_trace._Span):  # noqa: SLF001 - a subclass may store attributes its own way
        seen: list = []

        def set_attributes(self, attributes):
            self.seen.append(dict(attributes))

    provider = TracerProvider()
    span = Recording("s", SpanContext(1, 2, False), resource=provider.resource)
    set_span_attributes(span, {"gen_ai.x": "y"})
    assert Recording.seen == [{"gen_ai.x": "y"}]
    set_span_attributes(NonRecordingSpan(SpanContext(1, 2, False)), {"gen_ai.x": "y"})  # no error, no effect
