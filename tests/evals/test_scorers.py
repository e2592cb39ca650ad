"""Code scorers and the registry: exact values for known items, the spec syntax, the text of each shape."""

from __future__ import annotations

import json

import pytest

from traceglass.evals import EvalItem, ScoreResult, get_scorer, register, scorer_names
from traceglass.evals import scorers as s
from traceglass.evals._registry import unregister
from traceglass.evals._scorer import score_arguments
from traceglass.evals._text import as_text, question_of

ANSWER = '{"refund": true, "days": 30}'
ITEM = EvalItem("Can I get a refund?", ANSWER, expected_output=ANSWER,
                metadata={"latency_ms": 1500.0, "cost_usd": 0.002})


@pytest.mark.parametrize(("scorer", "expected"), [
    (s.exact_match, ScoreResult(True)),
    (s.contains("refund"), ScoreResult(True)),
    (s.contains("Refund"), ScoreResult(False, explanation="output does not contain 'Refund'")),
    (s.contains("Refund", ignore_case=True), ScoreResult(True)),
    (s.regex(r'"days": \d+'), ScoreResult(True)),
    (s.regex(r"^\d+$"), ScoreResult(False, explanation="output does not match '^\\\\d+$'")),
    (s.json_valid, ScoreResult(True)),
    (s.json_schema({"type": "object", "required": ["refund"], "properties": {"days": {"type": "integer"}}}),
     ScoreResult(True)),
    (s.json_schema({"type": "object", "properties": {"days": {"type": "string"}}}),
     ScoreResult(False, explanation="at days: 30 is not of type 'string'")),
    (s.max_latency(2000), ScoreResult(True)),
    (s.max_latency(1000), ScoreResult(False, explanation="latency 1500 ms is over 1000 ms")),
    (s.max_latency(1500), ScoreResult(True)),  # the limit itself passes
    (s.max_cost(0.01), ScoreResult(True)),
    (s.max_cost(0.001), ScoreResult(False, explanation="cost $0.002 is over $0.001")),
    (s.length_between(28, 28), ScoreResult(True)),
    (s.length_between(0, 27), ScoreResult(False, explanation="output is 28 characters long, not between 0 and 27")),
])
def test_code_scorers_give_exact_results(scorer, expected):
    assert scorer.score(ITEM) == expected


def test_each_scorer_is_named_after_itself_and_name_overrides():
    assert [sc.name for sc in (s.exact_match, s.contains("a"), s.regex("a"), s.json_valid, s.json_schema({}),
                               s.max_latency(1), s.max_cost(1), s.length_between(1, 2), s.relevance,
                               s.faithfulness, s.correctness, s.toxicity, s.helpfulness, s.embedding_similarity,
                               s.judge("politeness", "Is it polite?"))] == [
        "exact_match", "contains", "regex", "json_valid", "json_schema", "max_latency", "max_cost",
        "length_between", "relevance", "faithfulness", "correctness", "toxicity", "helpfulness",
        "embedding_similarity", "politeness"]
    assert s.exact_match(name="em").name == "em"
    assert s.exact_match.name == "exact_match"  # the shared instance is unchanged
    assert s.contains("refund", name="mentions_refund").name == "mentions_refund"
    assert s.relevance(name="on_topic").name == "on_topic"


def test_a_mismatch_and_a_missing_field():
    item = EvalItem("q", "Paris", expected_output="paris")
    assert s.exact_match.score(item) == ScoreResult(False, explanation="output 'Paris' differs from expected 'paris'")
    no_expected = EvalItem("q", "Paris")
    no_output = EvalItem("q", None, expected_output="x")
    no_metadata = EvalItem("q", "a")
    assert [s.exact_match.score(no_expected), s.exact_match.score(no_output), s.contains("a").score(no_output),
            s.json_valid.score(no_output), s.length_between(0, 1).score(no_output),
            s.max_latency(1).score(no_metadata), s.max_cost(1).score(no_metadata),
            s.max_latency(1).score(EvalItem("q", "a", metadata={"latency_ms": "fast"})),
            s.max_cost(1).score(EvalItem("q", "a", metadata={"cost_usd": float("nan")}))] == [None] * 9


def test_json_valid_and_schema_on_strings_and_values():
    assert s.json_valid.score(EvalItem("q", "{not json")) == ScoreResult(
        False, explanation="output is not valid JSON: Expecting property name enclosed in double quotes: "
                           "line 1 column 2 (char 1)")
    assert s.json_valid.score(EvalItem("q", {"a": [1, 2]})) == ScoreResult(True)
    assert s.json_valid.score(EvalItem("q", {"a": float("nan")})).value is False
    schema = s.json_schema({"type": "array", "items": {"type": "integer"}})
    assert schema.score(EvalItem("q", [1, 2, 3])) == ScoreResult(True)
    assert schema.score(EvalItem("q", "[1, 2, 3]")) == ScoreResult(True)
    assert schema.score(EvalItem("q", "[1, 2,")).value is False
    assert schema.score(EvalItem("q", [1, "x"])) == ScoreResult(False, explanation="at 1: 'x' is not of type 'integer'")


def test_bad_scorer_arguments_are_refused_when_built():
    for build, message in [
        (lambda: s.contains(""), "contains needs a non-empty text"),
        (lambda: s.regex("("), "regex: invalid pattern '('"),
        (lambda: s.json_schema({"type": "nonsense"}), "json_schema: invalid schema"),
        (lambda: s.max_latency(-1), "max_latency's ms must be a non-negative number"),
        (lambda: s.max_cost(float("inf")), "max_cost's usd must be a non-negative number"),
        (lambda: s.length_between(5, 2), "length_between needs lo <= hi, got 5 > 2"),
        (lambda: s.length_between(1.5, 2), "length_between's lo must be a non-negative integer"),
        (lambda: s.judge("x", "c", choices=["only"]), "choices must be a list of at least two labels"),
        (lambda: s.judge("x", "c", choices={"a": 2}), "must be a number in [0, 1]"),
        (lambda: s.judge("x", "c", choices=["a", "A"]), "choices must be distinct"),
        (lambda: s.judge("", "c"), "a judge needs a non-empty name"),
    ]:
        with pytest.raises(ValueError, match=None) as info:
            build()
        assert message in str(info.value)


@pytest.mark.parametrize(("spec", "name", "fields"), [
    ("exact_match", "exact_match", {}),
    ("contains:refund: yes", "contains", {"text": "refund: yes"}),  # the whole rest is the argument
    ("regex:^a:b$", "regex", {"pattern": "^a:b$"}),
    ("max_latency:2000", "max_latency", {"ms": 2000.0}),
    ("max_cost:0.01", "max_cost", {"usd": 0.01}),
    ("length_between:10:200", "length_between", {"lo": 10, "hi": 200}),
    ("length_between:10,200", "length_between", {"lo": 10, "hi": 200}),
    ('json_schema:{"type": "object"}', "json_schema", {"schema": {"type": "object"}}),
    ("relevance", "relevance", {"model": None}),
])
def test_get_scorer_reads_the_spec_syntax(spec, name, fields):
    scorer = get_scorer(spec)
    assert scorer.name == name
    assert {key: getattr(scorer, key) for key in fields} == fields


def test_get_scorer_reads_a_schema_file_and_sets_the_judge(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"type": "object", "required": ["a"]}))
    assert get_scorer(f"json_schema:{path}").score(EvalItem("q", '{"b": 1}')) == ScoreResult(
        False, explanation="at (root): 'a' is a required property")
    client = object()
    judged = get_scorer("faithfulness", judge=client, model="judge-model")
    assert (judged.name, judged.judge, judged.model) == ("faithfulness", client, "judge-model")
    assert get_scorer("contains:x", judge=client).text == "x"  # a code scorer has no judge to set
    assert get_scorer(s.exact_match) is s.exact_match


@pytest.mark.parametrize(("spec", "message"), [
    ("nope", "unknown scorer 'nope'; known: "),
    ("contains", "scorer 'contains' needs an argument: contains:VALUE"),
    ("max_latency:fast", "scorer 'max_latency' needs a number, got 'fast'"),
    ("length_between:3", "scorer 'length_between' needs two integers, LO:HI, got '3'"),
    ("exact_match:x", "scorer 'exact_match' takes no argument, got 'x'"),
    ("json_schema:/no/such/file.json", "json_schema: cannot read the schema file '/no/such/file.json'"),
])
def test_get_scorer_refuses_bad_specs_with_a_clear_message(spec, message):
    with pytest.raises(ValueError) as info:
        get_scorer(spec)
    assert str(info.value).startswith(message)


def test_register_adds_names_and_factories():
    class Polite:
        name = "polite"

        def score(self, item):
            return ScoreResult("please" in item.output)

    try:
        register("polite", Polite())
        register("starts_with", lambda arg: s.regex("^" + arg, name="starts_with"))
        assert {"polite", "starts_with", "relevance", "exact_match"} <= set(scorer_names())
        assert get_scorer("polite").score(EvalItem("q", "yes please")) == ScoreResult(True)
        assert get_scorer("starts_with:Yes").score(EvalItem("q", "Yes.")) == ScoreResult(True)
        with pytest.raises(ValueError, match="takes no argument"):
            get_scorer("polite:x")
        register("bad", lambda arg: 42)
        with pytest.raises(ValueError, match="returned int, not a scorer"):
            get_scorer("bad")
        with pytest.raises(ValueError, match="without ':'"):
            register("a:b", Polite())
        with pytest.raises(ValueError, match="needs a scorer"):
            register("x", 42)
    finally:
        for name in ("polite", "starts_with", "bad"):
            unregister(name)
    assert "polite" not in scorer_names()


def test_text_of_each_shape():
    openai_messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital?"}]
    genai_messages = [{"role": "user", "parts": [{"type": "text", "content": "Hi"},
                                                  {"type": "tool_call", "name": "f"}]}]
    assert as_text(openai_messages) == "Be brief.\nCapital?"
    assert as_text(genai_messages) == "Hi"
    assert as_text({"content": "x"}) == "x"
    assert as_text({"a": 1}) == '{"a": 1}'
    assert as_text(None) == ""
    assert as_text(b"bytes") == "bytes"
    assert question_of(openai_messages) == "Capital?"
    assert question_of({"question": "Why?"}) == "Why?"  # a function's only argument
    assert question_of({"q": "a", "k": 2}) == '{"k": 2, "q": "a"}'


def test_score_arguments_shape_a_result_as_a_score():
    assert score_arguments(ScoreResult(0.5, "partially_relevant", "half")) == {
        "value": 0.5, "comment": "half", "metadata": {"label": "partially_relevant"}}
    assert score_arguments(ScoreResult(True)) == {"value": True, "comment": None, "metadata": {}}
    assert score_arguments(ScoreResult(None, "warm")) == {"value": "warm", "comment": None, "metadata": {}}
    assert score_arguments(ScoreResult(None)) == {"value": None, "comment": None, "metadata": {}}


def test_eval_item_round_trips_through_a_dict():
    item = EvalItem({"q": "x"}, "y", expected_output="z", context=["d1"], metadata={"latency_ms": 3.0},
                    trace_id="a" * 32, span_id="b" * 16)
    assert EvalItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    assert EvalItem.from_dict({"input": "q", "extra": 1}) == EvalItem("q")
    with pytest.raises(ValueError, match="needs an 'input'"):
        EvalItem.from_dict({"output": "x"})
