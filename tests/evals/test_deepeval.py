"""The deepeval bridge with the real deepeval: items as LLMTestCase objects, and deepeval metrics
(its deterministic ones, and a custom BaseMetric as its docs write them) as scorers in evaluate_traces
over a real SQLite store. deepeval's telemetry is off (tests/conftest.py) and no test here reaches the
network: every connection attempt is recorded and must be to 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import pytest

from traceglass.evals import DeepEvalScorer, EvalDataset, EvalItem, evaluate_traces, get_scorer
from traceglass.store import TraceStore

from ._traces import Spans

deepeval_metrics = pytest.importorskip("deepeval.metrics")
from deepeval.metrics import BaseMetric, ExactMatchMetric, PatternMatchMetric  # noqa: E402
from deepeval.test_case import LLMTestCase  # noqa: E402


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any connection that leaves the machine (deepeval has telemetry and a cloud client)."""
    original = socket.socket.connect
    reached: list[object] = []

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            reached.append(address)
            raise OSError(f"test reached the network: {address}")
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert reached == []


class Slow(BaseMetric):
    """A custom metric as deepeval's docs write one: state on the instance, set in measure(); slow
    enough that concurrent calls on one shared instance would overwrite each other's score."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def measure(self, test_case: LLMTestCase, *args, **kwargs) -> float:
        self.score = len(test_case.actual_output or "") / 100
        self.reason = f"{len(test_case.actual_output or '')} characters"
        time.sleep(0.01)
        self.success = self.score >= self.threshold
        return self.score

    async def a_measure(self, test_case: LLMTestCase, *args, **kwargs) -> float:
        self.score = len(test_case.actual_output or "") / 100
        self.reason = f"{len(test_case.actual_output or '')} characters (async)"
        await asyncio.sleep(0.01)
        return self.score

    def is_successful(self) -> bool:
        return self.score >= self.threshold

    @property
    def __name__(self):
        return "Answer Length"


class Broken(BaseMetric):
    threshold = 0.5

    def measure(self, test_case, *args, **kwargs):
        if "boom" in (test_case.actual_output or ""):
            raise RuntimeError("metric exploded")
        self.score = 1.0
        return 1.0

    async def a_measure(self, test_case, *args, **kwargs):
        return self.measure(test_case)

    def is_successful(self):
        return True

    @property
    def __name__(self):
        return "Broken"


def test_items_become_deepeval_test_cases():
    chat = EvalItem([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refund?"}],
                    [{"role": "assistant", "parts": [{"type": "text", "content": "On its way."}]}],
                    expected_output="On its way.", context=["Refunds take 3 days.", "Call us."],
                    metadata={"model": "gpt-4o-mini", "latency_ms": 12.5}, trace_id="a" * 32, span_id="b" * 16)
    function = EvalItem({"question": "What is 2+2?"}, 4)
    cases = EvalDataset([chat, function]).to_deepeval()
    assert [type(case) for case in cases] == [LLMTestCase, LLMTestCase]
    first, second = cases
    assert (first.input, first.actual_output, first.expected_output, first.retrieval_context, first.metadata) == (
        "Refund?", "On its way.", "On its way.", ["Refunds take 3 days.", "Call us."],
        {"model": "gpt-4o-mini", "latency_ms": 12.5, "trace_id": "a" * 32, "span_id": "b" * 16})
    assert (second.input, second.actual_output, second.expected_output, second.retrieval_context,
            second.metadata) == ("What is 2+2?", "4", None, None, None)


def test_deepeval_metrics_score_stored_traces(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    ids = [spans.chat(n * 1000, f"question {n}", reply) for n, reply in
           enumerate(["Order 42 ships today.", "No idea.", "boom"])]
    spans.close()
    run = evaluate_traces([PatternMatchMetric(pattern=r".*\d+.*"), DeepEvalScorer(Slow(), name="length"),
                           DeepEvalScorer(Broken())], store=path, progress=False)
    got = sorted((r.scorer, r.item.output, r.value, r.label, r.explanation, r.error) for r in run.results)
    assert got == sorted([
        ("pattern_match", "Order 42 ships today.", 1.0, "pass", "The actual output fully matches the pattern.", None),
        ("pattern_match", "No idea.", 0.0, "fail", "The actual output does not match the pattern.", None),
        ("pattern_match", "boom", 0.0, "fail", "The actual output does not match the pattern.", None),
        ("length", "Order 42 ships today.", 0.21, "fail", "21 characters (async)", None),
        ("length", "No idea.", 0.08, "fail", "8 characters (async)", None),
        ("length", "boom", 0.04, "fail", "4 characters (async)", None),
        ("broken", "Order 42 ships today.", 1.0, "pass", None, None),
        ("broken", "No idea.", 1.0, "pass", None, None),
        ("broken", "boom", None, None, None, "RuntimeError: metric exploded"),
    ])
    with TraceStore(path) as store:
        stored = sorted((s.name, s.trace_id, s.span_id, s.value) for s in store.scores(name="pattern_match").scores)
    assert stored == sorted([("pattern_match", t, s, v) for (t, s), v in zip(ids, [1.0, 0.0, 0.0])])


def test_one_metric_instance_serves_concurrent_calls():
    scorer = DeepEvalScorer(Slow())
    items = [EvalItem(f"q{n}", "x" * n) for n in range(1, 25)]
    run = evaluate_traces([scorer], dataset=items, concurrency=8, write_scores=False, save=False, progress=False)
    assert sorted((r.item.output, r.value) for r in run.results) == sorted(("x" * n, n / 100) for n in range(1, 25))
    # the sync path (online metrics call score()) measures a copy too: the instance keeps no result
    assert scorer.score(EvalItem("q", "y" * 60)) == get_scorer(scorer).score(EvalItem("q", "y" * 60))
    assert scorer.score(EvalItem("q", "y" * 60)).label == "pass"
    assert getattr(scorer.metric, "score", None) is None


def test_exact_match_needs_an_expected_output_and_names():
    exact = DeepEvalScorer(ExactMatchMetric())
    assert exact.name == "exact_match"
    assert exact.score(EvalItem("q", "Paris", expected_output="Paris")).value == 1.0
    assert exact.score(EvalItem("q", "Paris", expected_output="Lyon")).value == 0.0
    with pytest.raises(Exception, match="expected_output"):  # deepeval's own missing-parameter error
        exact.score(EvalItem("q", "Paris"))
    assert DeepEvalScorer(Slow()).name == "answer_length"
    with pytest.raises(TypeError, match="a deepeval metric"):
        DeepEvalScorer(object())
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        DeepEvalScorer(Slow(), name=" ")


def test_without_deepeval_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepeval.test_case", None)  # import deepeval.test_case fails
    with pytest.raises(ImportError, match=r"pip install 'traceglass\[deepeval\]'"):
        EvalDataset([EvalItem("q")]).to_deepeval()
    with pytest.raises(ImportError, match=r"pip install 'traceglass\[deepeval\]'"):
        EvalDataset().to_deepeval()
