"""Hostile items for the scorers, hostile judge replies, and scorers that raise or hang online:
a scorer gives a result or no score (never an exception of ours), a judge's text never becomes a
made-up score, and the app's calls never wait for a metric."""

from __future__ import annotations

import json
import threading

import httpx
import openai
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import traceglass
from traceglass.evals import EvalItem, ScoreResult, configure_online_metrics, flush_online_metrics
from traceglass.evals import online_metrics_stats, register
from traceglass.evals import scorers as s
from traceglass.evals._registry import unregister
from traceglass.evals._verdict import parse_verdict

WAIT = 10.0
json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)
CODE_SCORERS = [s.exact_match, s.contains("x"), s.regex(r"\d"), s.json_valid,
                s.json_schema({"type": "object", "properties": {"a": {"type": "integer"}}}),
                s.max_latency(100), s.max_cost(0.01), s.length_between(1, 50)]


class Hostile:
    def __str__(self):
        raise RuntimeError("no str")

    __repr__ = __str__


def deep(levels):
    value = "x"
    for _ in range(levels):
        value = [value]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=json_values, expected=json_values, metadata=st.dictionaries(
    st.sampled_from(["latency_ms", "cost_usd", "other"]), json_values, max_size=3))
def test_code_scorers_never_raise_on_any_json_item(output, expected, metadata):
    item = EvalItem("q", output, expected_output=expected, metadata=metadata)
    for scorer in CODE_SCORERS:
        result = scorer.score(item)
        assert result is None or (isinstance(result, ScoreResult) and isinstance(result.value, bool))


def test_code_scorers_on_hostile_objects_and_nesting():
    for output in (Hostile(), deep(5000), {"content": deep(5000)}, b"\xff\xfe", "\ud800", float("nan"),
                   [Hostile()], {"parts": [{"type": "text", "content": Hostile()}]}):
        item = EvalItem(Hostile(), output, expected_output=output, metadata={"latency_ms": Hostile()})
        for scorer in CODE_SCORERS:
            result = scorer.score(item)
            assert result is None or isinstance(result.value, bool), (scorer, output)


@settings(max_examples=300, deadline=None)
@given(reply=st.one_of(st.text(), st.builds(json.dumps, json_values),
                       st.builds(lambda label, extra: json.dumps({"label": label, **extra}),
                                 st.text(max_size=30), st.dictionaries(st.text(max_size=10), json_values,
                                                                       max_size=3))))
def test_any_judge_text_is_a_listed_verdict_or_none(reply):
    choices = {"irrelevant": 0.0, "partially_relevant": 0.5, "relevant": 1.0}
    verdict = parse_verdict(reply, choices)
    if verdict is not None:
        assert verdict.label in (None, *choices)
        assert 0.0 <= verdict.value <= 1.0
        if verdict.label is not None:
            assert verdict.value == choices[verdict.label]
        assert verdict.explanation is None or len(verdict.explanation) <= 2003


def test_a_judge_answering_hostile_text_gives_no_score_or_a_listed_label():
    replies = ["\x00" * 10, "{" * 100_000, '{"label": "relevant"' + "}" * 5, "```json\n{\"label\": \"ignore all\"}\n```",
               json.dumps({"label": "relevant", "explanation": "\ud800" * 3}), "Label: DROP TABLE scores;",
               json.dumps({"label": ["relevant"]}), json.dumps({"score": float("inf")}, allow_nan=True)]
    for text in replies:
        def handle(request, text=text):
            return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                                             "choices": [{"index": 0, "finish_reason": "stop",
                                                          "message": {"role": "assistant", "content": text}}]})
        client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="t", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(handle)))
        result = s.relevance(judge=client).score(EvalItem("q", "a"))
        assert result is None or result.label == "relevant", text[:50]
    # a response that is not a chat completion at all
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="t", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(
                               lambda request: httpx.Response(200, json={"choices": []}))))
    assert s.relevance(judge=client).score(EvalItem("q", "a")) is None


def test_hanging_and_raising_online_scorers_never_hold_up_the_app(captured):
    release = threading.Event()

    class Hangs:
        name = "hangs"

        def score(self, item):
            release.wait(WAIT)
            return ScoreResult(True)

    class Raises:
        name = "raises"

        def score(self, item):
            raise MemoryError("scorer out of memory")  # an Exception subclass, not ours

    register("hangs", Hangs())
    register("raises", Raises())
    configure_online_metrics(max_queue=3)
    try:
        @traceglass.observe(metrics=["raises", "hangs"])
        def step(n):
            return n

        assert [step(n) for n in range(50)] == list(range(50))
        assert len(captured.spans()) == 50
        stats = online_metrics_stats()
        assert stats.dropped >= 46 and stats.pending <= 4  # at most one running and three queued
        release.set()
        assert flush_online_metrics(WAIT)
        assert {sc.name for sc in captured.scores} == {"hangs"}
    finally:
        release.set()
        unregister("hangs")
        unregister("raises")
        configure_online_metrics()
