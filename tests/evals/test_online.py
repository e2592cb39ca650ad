"""Online metrics: scorers named on @observe/@trace_llm run on a background worker after the span
ends and their results become scores on that span; the app's thread only enqueues."""

from __future__ import annotations

import logging
import threading

import openai
import pytest

import traceglass
from traceglass import decorators
from traceglass.demo import FakeOpenAIServer
from traceglass.evals import (
    ScoreResult,
    configure_judge,
    configure_online_metrics,
    flush_online_metrics,
    online_metrics_stats,
    register,
)
from traceglass.evals._online import _submit
from traceglass.evals._registry import unregister

WAIT = 10.0  # seconds: a bound on every wait, never an expectation of speed


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def judge(server):
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        configure_judge(client, "gpt-4o-mini")
        yield client
    configure_judge(None)


@pytest.fixture
def fresh_queue():
    configure_online_metrics()
    yield
    assert flush_online_metrics(WAIT)
    configure_online_metrics()


class Blocking:
    """A scorer that waits for ``release`` (bounded), recording the thread it ran on."""

    name = "blocking"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []

    def score(self, item):
        self.threads.append(threading.current_thread().name)
        self.started.set()
        self.release.wait(WAIT)
        return ScoreResult(1.0)


def scores_of(captured):
    return sorted((s.name, s.value, s.label, s.comment, s.metadata, s.source, s.trace_id, s.span_id)
                  for s in captured.scores)


def test_observe_metrics_become_scores_on_the_span(captured, judge, fresh_queue):
    @traceglass.observe(type="llm", metrics=["relevance", "json_valid", "max_latency:60000", "contains:Paris"])
    def answer(question):
        return "The capital of France is Paris."

    assert answer("What is the capital of France?") == "The capital of France is Paris."
    assert flush_online_metrics(WAIT)
    app = captured.span("answer")
    ids = (app["trace_id"], app["span_id"])
    assert scores_of(captured) == sorted([
        ("contains", 1.0, "true", None, {}, "eval", *ids),
        ("json_valid", 0.0, "false", "output is not valid JSON: Expecting value: line 1 column 1 (char 0)", {},
         "eval", *ids),
        ("max_latency", 1.0, "true", None, {}, "eval", *ids),
        ("relevance", 1.0, None, "The answer uses 2 of the question's 2 key words.", {"label": "relevant"},
         "eval", *ids),
    ])
    assert app["attributes"]["traceglass.metrics"] == ("relevance", "json_valid", "max_latency:60000",
                                                       "contains:Paris")
    # The judge's own span: a trace of its own, marked, and never scored itself.
    judge_span = captured.span("judge relevance")
    assert (judge_span["parent_id"], judge_span["trace_id"] != app["trace_id"]) == (None, True)
    assert judge_span["attributes"] == {"traceglass.span.type": "evaluator", "traceglass.eval.judge": True,
                                        "traceglass.eval.scorer": "relevance"}
    assert [s.span_id for s in captured.scores if s.trace_id == judge_span["trace_id"]] == []


def test_trace_llm_metrics_and_the_input_without_content_capture(judge, fresh_queue):
    from traceglass.testing import capture

    with capture(capture_content=False) as captured:
        @traceglass.trace_llm(name="ask", metrics=["relevance", "helpfulness"])
        def ask(question):
            return "Bananas are yellow."

        ask("What is the capital of France?")
        assert flush_online_metrics(WAIT)
        span = captured.span("ask")
        assert "traceglass.input" not in span["attributes"]  # content stays off the span...
        assert scores_of(captured) == sorted([  # ...but the scorers saw the call's input and output
            ("helpfulness", 0.5, None, "The answer has 3 words.", {"label": "somewhat_helpful"}, "eval",
             span["trace_id"], span["span_id"]),
            ("relevance", 0.0, None, "The answer uses 0 of the question's 2 key words.", {"label": "irrelevant"},
             "eval", span["trace_id"], span["span_id"]),
        ])


def test_scorers_run_off_the_app_thread_and_the_span_is_exported_first(captured, fresh_queue):
    blocking = Blocking()
    register("blocking", blocking)
    try:
        @traceglass.observe(metrics=["blocking"])
        def step():
            return "done"

        assert step() == "done"  # returned while the scorer is still to run (or blocked)
        assert blocking.started.wait(WAIT)
        assert [s["name"] for s in captured.spans()] == ["step"]  # exported, the metric still pending
        assert captured.scores == []
        assert online_metrics_stats().pending == 1
        blocking.release.set()
        assert flush_online_metrics(WAIT)
        assert blocking.threads == ["traceglass-online-metrics"]
        assert [(s.name, s.value, s.span_id) for s in captured.scores] == [
            ("blocking", 1.0, captured.span("step")["span_id"])]
    finally:
        blocking.release.set()
        unregister("blocking")


def test_a_full_queue_drops_and_counts(captured):
    blocking = Blocking()
    register("blocking", blocking)
    configure_online_metrics(max_queue=2)
    try:
        @traceglass.observe(metrics=["blocking"])
        def step(n):
            return n

        step(0)
        assert blocking.started.wait(WAIT)  # the worker holds call 0; the queue is empty again
        before = online_metrics_stats()
        assert [step(n) for n in range(1, 6)] == [1, 2, 3, 4, 5]  # never blocks the app
        after = online_metrics_stats()
        assert (after.queued - before.queued, after.dropped - before.dropped) == (2, 3)
        blocking.release.set()
        assert flush_online_metrics(WAIT)
        assert len(captured.scores) == 3
        assert online_metrics_stats().failed == 0
    finally:
        blocking.release.set()
        unregister("blocking")
        configure_online_metrics()


def test_a_failing_scorer_is_logged_once_and_the_others_still_score(captured, fresh_queue, caplog):
    class Broken:
        name = "broken"

        def score(self, item):
            raise RuntimeError("scorer bug")

    register("broken", Broken())
    try:
        @traceglass.observe(metrics=["broken", "length_between:0:10", "no_such_metric"])
        def step(n):
            return "ok"

        with caplog.at_level(logging.DEBUG, logger="traceglass"):
            assert [step(n) for n in range(3)] == ["ok"] * 3
            assert flush_online_metrics(WAIT)
        assert [(s.name, s.value) for s in captured.scores] == [("length_between", 1.0)] * 3
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [
            "traceglass: online metric 'broken' failed (further failures of it are logged at debug): "
            "RuntimeError: scorer bug",
            "traceglass: online metric 'no_such_metric' failed (further failures of it are logged at debug): "
            "ValueError: unknown scorer 'no_such_metric'; known: " + ", ".join(traceglass.evals.scorer_names()),
        ]
    finally:
        unregister("broken")


def test_a_judge_metric_without_a_judge_is_logged_not_raised(captured, fresh_queue, caplog):
    configure_judge(None)

    @traceglass.observe(metrics=["toxicity"])
    def step():
        return "hello"

    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert step() == "hello"
        assert flush_online_metrics(WAIT)
    assert captured.scores == []
    assert any("online metric 'toxicity' failed" in r.getMessage() and "configure_judge" in r.getMessage()
               for r in caplog.records)


def test_a_failed_call_and_an_unsampled_span_run_no_metrics(fresh_queue):
    from traceglass.testing import capture

    seen = []
    previous = decorators.set_online_metrics_listener(lambda *job: seen.append(job))
    try:
        @traceglass.observe(metrics=["json_valid"])
        def boom():
            raise KeyError("user error")

        @traceglass.observe(metrics=["json_valid"])
        def quiet():
            return "{}"

        with capture():
            with pytest.raises(KeyError):
                boom()
        with capture(sampling=traceglass.Sampling(trace_rate=0.0)) as captured:
            assert quiet() == "{}"
        assert captured.spans() == []
        assert seen == []
        with capture():
            quiet()
        assert [(metrics, arguments, output) for metrics, _, arguments, output in seen] == [
            (("json_valid",), {}, "{}")]
    finally:
        decorators.set_online_metrics_listener(previous)
    assert previous is _submit


def test_without_traceglass_evals_a_span_naming_metrics_says_so_once(caplog):
    from traceglass.testing import capture

    previous = decorators.set_online_metrics_listener(None)
    try:
        with capture(), caplog.at_level(logging.INFO, logger="traceglass"):
            @traceglass.observe(metrics=["relevance"])
            def step():
                return 1

            assert [step(), step()] == [1, 1]
    finally:
        decorators.set_online_metrics_listener(previous)
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: spans name metrics ['relevance'] but nothing runs them: import traceglass.evals "
        "(and configure_judge() for LLM judges) to score them online"]


def test_a_queued_call_keeps_its_input_and_output_but_not_its_span(fresh_queue):
    """The queue holds what the scorers need, not the span: a queue of live spans made every garbage
    collection on the app's thread traverse them (the app-thread cost of online metrics tripled)."""
    import gc
    import weakref

    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from traceglass import _config, _runtime

    class Remember(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[weakref.ref] = []

        def on_start(self, span, parent_context=None) -> None:  # the live span (on_end gets a copy)
            self.spans.append(weakref.ref(span))

    remember, blocking, seen = Remember(), Blocking(), []
    provider = TracerProvider()
    provider.add_span_processor(remember)

    class Record:
        name = "record"

        def score(self, item):
            seen.append((item.input, item.output, item.trace_id, item.span_id, sorted(item.metadata)))
            return None

    register("blocking", blocking)
    register("record", Record())
    try:
        with _runtime.installed(_runtime.Runtime.build(_config.Settings.from_env(), provider)):
            @traceglass.observe(metrics=["blocking"])
            def hold():
                return "held"

            @traceglass.observe(metrics=["record"])
            def answer(question):
                return "Paris"

            hold()
            assert blocking.started.wait(WAIT)  # the worker is busy: answer's call waits in the queue
            assert answer("capital of France?") == "Paris"
            gc.collect()
            assert len(remember.spans) == 2
            assert [span() for span in remember.spans] == [None, None]  # gone, their calls still queued
            assert online_metrics_stats().pending == 2
            blocking.release.set()
            assert flush_online_metrics(WAIT)
        assert len(seen) == 1
        question, output, trace_id, span_id, metadata = seen[0]
        assert (question, output, metadata) == ({"question": "capital of France?"}, "Paris", ["latency_ms"])
        assert len(trace_id) == 32 and len(span_id) == 16 and int(span_id, 16) != 0
    finally:
        blocking.release.set()
        unregister("blocking")
        unregister("record")
        provider.shutdown()
