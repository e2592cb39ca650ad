"""The score model (traceglass._scores): checks listing every problem, value kinds, the event shape."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from traceglass._scores import (
    BOOLEAN,
    CATEGORICAL,
    NUMERIC,
    Score,
    ScoreError,
    check_data_type,
    event_attributes,
    from_event,
    new_score,
)

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "051581bf3cb55c13"
WHEN = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=timezone.utc)
WHEN_NS = 1_800_000_000_123_456_000


def test_every_problem_is_listed_at_once():
    with pytest.raises(ScoreError) as raised:
        new_score("", float("nan"), trace_id="xyz", span_id=0, comment="c" * 10_001, source="robot",
                  user_id=7, metadata={1: "a"}, id="i" * 201, created_at=datetime(2027, 1, 1))
    assert raised.value.problems == [
        ("name", "must not be empty"),
        ("value", "must be a finite number, got nan"),
        ("trace_id", "must be 32 hex digits, not all zero, got 'xyz'"),
        ("span_id", "must be 16 hex digits, not all zero, got 0"),
        ("comment", "must be at most 10000 characters, got 10001"),
        ("user_id", "must be a string, got int"),
        ("id", "must be at most 200 characters, got 201"),
        ("source", "must be one of human, api, llm, code, eval, got 'robot'"),
        ("metadata", "must be a mapping with string keys"),
        ("created_at", "must be a timezone-aware datetime"),
    ]
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith("invalid score: name: must not be empty; value: must be a finite number")


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"name": None}, ("name", "is required")),
    ({"name": "n" * 201}, ("name", "must be at most 200 characters, got 201")),
    ({"name": "a\x00b"}, ("name", "must not contain NUL characters")),
    ({"name": "\ud800"}, ("name", "must be valid Unicode (it holds a lone surrogate)")),
    ({"value": float("-inf")}, ("value", "must be a finite number, got -inf")),
    ({"value": 10**400}, ("value", f"must be a finite number, got {10**400!r}")),
    ({"value": None}, ("value", "must be a number, a bool or a label string, got NoneType")),
    ({"value": "  "}, ("value", "a label must not be empty")),
    ({"value": "l" * 201}, ("value", "a label must be at most 200 characters, got 201")),
    ({"value": "a\x00b"}, ("value", "a label must not contain NUL characters")),
    ({"value": "\ud800"}, ("value", "a label must be valid Unicode (it holds a lone surrogate)")),
    ({"trace_id": None}, ("trace_id", "is required")),
    ({"trace_id": "0" * 32}, ("trace_id", f"must be 32 hex digits, not all zero, got {'0' * 32!r}")),
    ({"span_id": "abc"}, ("span_id", "must be 16 hex digits, not all zero, got 'abc'")),
    ({"metadata": {"x": float("nan")}},
     ("metadata", "must be JSON-serializable with finite numbers (Out of range float values are not JSON "
                  "compliant...")),
    ({"metadata": {"x": [{"y": {(1, 2): 3}}]}},
     ("metadata", "must be JSON-serializable with finite numbers (keys must be str, int, float, bool or None, "
                  "not tuple)")),
    ({"metadata": {"x": "y" * 70_000}}, ("metadata", "must be at most 65536 bytes as JSON")),
    ({"metadata": {"x": "\udc00"}}, ("metadata", "must be valid Unicode (it holds a lone surrogate)")),
    ({"created_at": datetime(9999, 1, 1, tzinfo=timezone.utc)},
     ("created_at", "must be between 1677 and 2262, got 9999-01-01T00:00:00+00:00")),
])
def test_each_problem(kwargs, problem):
    arguments = {"name": "n", "value": 1.0, "trace_id": TRACE, **kwargs}
    with pytest.raises(ScoreError) as raised:
        new_score(arguments.pop("name"), arguments.pop("value"), **arguments)
    field, message = problem
    if message.endswith("..."):  # the rest of json's own message varies between Python versions
        assert [(f, m[:len(message) - 3]) for f, m in raised.value.problems] == [(field, message[:-3])]
    else:
        assert raised.value.problems == [problem]


def test_deeply_nested_metadata_is_a_problem_not_a_recursion_error():
    deep: dict = {}
    inner = deep
    for _ in range(50_000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(ScoreError) as raised:
        new_score("n", 1, trace_id=TRACE, metadata=deep)
    assert raised.value.problems == [("metadata", "is nested too deeply")]


@pytest.mark.parametrize(("value", "number", "label", "data_type"), [
    (True, 1.0, "true", BOOLEAN),
    (False, 0.0, "false", BOOLEAN),
    (3, 3.0, None, NUMERIC),
    (-0.25, -0.25, None, NUMERIC),
    ("  friendly ", None, "friendly", CATEGORICAL),
])
def test_value_kinds(value, number, label, data_type):
    score = new_score("n", value, trace_id=TRACE)
    assert (score.value, score.label, score.data_type) == (number, label, data_type)
    assert type(score.value) is (float if number is not None else type(None))


def test_ids_are_normalized_and_a_missing_id_is_a_fresh_random_one():
    score = new_score(" helpfulness ", 1, trace_id=TRACE.upper(), span_id=f" {SPAN.upper()} ", id=" fb-1 ",
                      created_at=WHEN.astimezone(timezone(timedelta(hours=2))))
    assert (score.name, score.trace_id, score.span_id, score.id) == ("helpfulness", TRACE, SPAN, "fb-1")
    assert score.created_at == WHEN and score.created_at.tzinfo is timezone.utc and score.created_ns == WHEN_NS
    made = {new_score("n", 1, trace_id=TRACE).id for _ in range(50)}
    assert len(made) == 50 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made)


def test_to_dict_is_the_json_shape():
    score = new_score("tone", "curt", trace_id=TRACE, span_id=SPAN, comment="<b>x</b>", source="llm",
                      user_id="judge-1", metadata={"model": "gpt-4o", "n": [1, 2]}, id="s1", created_at=WHEN)
    assert score.to_dict() == {
        "id": "s1", "name": "tone", "value": None, "label": "curt", "data_type": "categorical", "trace_id": TRACE,
        "span_id": SPAN, "comment": "<b>x</b>", "source": "llm", "user_id": "judge-1",
        "created_at": "2027-01-15T08:00:00.123456+00:00", "metadata": {"model": "gpt-4o", "n": [1, 2]}}


def test_check_data_type():
    thumbs = new_score("thumbs", True, trace_id=TRACE)
    check_data_type(thumbs, {"thumbs": BOOLEAN, "other": NUMERIC})
    check_data_type(thumbs, {})
    with pytest.raises(ScoreError) as raised:
        check_data_type(thumbs, {"thumbs": CATEGORICAL})
    assert raised.value.problems == [("value", "scores named 'thumbs' are categorical; got a boolean value (1.0)")]


@pytest.mark.parametrize("value", [True, False, 0.5, "curt"])
def test_an_event_round_trips_to_the_same_score(value):
    score = new_score("judge", value, trace_id=TRACE, span_id=SPAN, comment="why", source="eval", user_id="u",
                      metadata={"k": "v"}, id="e1", created_at=WHEN)
    attributes = event_attributes(score)
    assert from_event(attributes, trace_id=TRACE, span_id=SPAN, timestamp_ns=WHEN_NS) == score


def test_event_attributes_are_the_semconv_names():
    score = new_score("thumbs", False, trace_id=TRACE, comment="wrong", source="human", user_id="u-1",
                      metadata={"a": 1}, id="x")
    assert event_attributes(score) == {
        "gen_ai.evaluation.name": "thumbs", "traceglass.score.id": "x", "traceglass.score.source": "human",
        "traceglass.score.data_type": "boolean", "gen_ai.evaluation.score.value": 0.0,
        "gen_ai.evaluation.score.label": "false", "gen_ai.evaluation.explanation": "wrong", "user.id": "u-1",
        "traceglass.score.metadata": '{"a": 1}'}
    bare = new_score("n", "l", trace_id=TRACE, id="y")
    assert event_attributes(bare) == {
        "gen_ai.evaluation.name": "n", "traceglass.score.id": "y", "traceglass.score.source": "api",
        "traceglass.score.data_type": "categorical", "gen_ai.evaluation.score.label": "l"}


def test_a_foreign_record_gets_an_id_derived_from_its_content():
    record = {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.8}
    first = from_event(record, trace_id=TRACE, span_id=SPAN, timestamp_ns=WHEN_NS)
    again = from_event(dict(record), trace_id=TRACE, span_id=SPAN, timestamp_ns=WHEN_NS)
    assert first == again and re.fullmatch(r"otel-[0-9a-f]{32}", first.id)
    assert (first.value, first.source, first.data_type, first.created_at) == (0.8, "eval", NUMERIC, WHEN)
    others = {from_event(record, trace_id=TRACE, span_id=SPAN, timestamp_ns=WHEN_NS + 1000).id,
              from_event({**record, "gen_ai.evaluation.score.value": 0.7}, trace_id=TRACE, span_id=SPAN,
                         timestamp_ns=WHEN_NS).id,
              from_event(record, trace_id=TRACE, span_id=None, timestamp_ns=WHEN_NS).id}
    assert len(others) == 3 and first.id not in others


def test_a_foreign_record_with_odd_metadata_or_time_still_makes_a_score():
    record = {"gen_ai.evaluation.name": "n", "gen_ai.evaluation.score.label": "ok",
              "traceglass.score.metadata": "[1, 2]"}
    score = from_event(record, trace_id=TRACE, span_id=None, timestamp_ns=2**64 - 1)
    assert score.metadata == {"raw": "[1, 2]"}
    assert abs((score.created_at - datetime.now(timezone.utc)).total_seconds()) < 3600
    deep = from_event({**record, "traceglass.score.metadata": "[" * 30_000}, trace_id=TRACE, span_id=None,
                      timestamp_ns=1)
    assert deep.metadata == {"raw": "[" * 30_000}


def test_a_record_without_a_name_or_value_raises_score_error():
    with pytest.raises(ScoreError) as raised:
        from_event({}, trace_id=TRACE, span_id=None, timestamp_ns=1)
    assert raised.value.problems == [("name", "is required"),
                                     ("value", "must be a number, a bool or a label string, got NoneType")]


def test_score_is_frozen():
    score = new_score("n", 1, trace_id=TRACE)
    with pytest.raises(AttributeError):
        score.value = 2.0  # type: ignore[misc]
    assert isinstance(score, Score)
