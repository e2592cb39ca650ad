"""Evaluation runs, the bridge and the stored runs/datasets under hostile input: whatever a scorer
returns or raises, whatever a span or a row written by another tool holds, a run finishes, records
each bad result as its error, stores only valid scores and reads back what it stored."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.evals import EvalDataset, EvalItem, EvalRun, ScoreResult, TraceBridge, evaluate_traces
from traceglass.store import TraceStore

from ..evals._traces import Spans

TRACE, SPAN = "a" * 32, "b" * 16


class Returns:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def score(self, item):
        return self.value


@pytest.mark.parametrize("returned, error", [
    ("0.5", "returned str, not a ScoreResult or None"),
    ({"value": 1}, "returned dict, not a ScoreResult or None"),
    (0.7, "returned float, not a ScoreResult or None"),
    (ScoreResult(math.nan), "not a valid score: invalid score: value: must be a finite number, got nan"),
    (ScoreResult(math.inf), "not a valid score: invalid score: value: must be a finite number, got inf"),
    (ScoreResult([1, 2]), "not a valid score: invalid score: value: must be a number, a bool or a label string, "
                          "got list"),
])
def test_a_bad_result_is_that_results_error_and_nothing_is_stored(tmp_path, returned, error):
    path = tmp_path / "t.db"
    run = evaluate_traces([Returns("bad", returned), Returns("good", ScoreResult(0.9))], store=path,
                          dataset=EvalDataset([EvalItem("q", "a", trace_id=TRACE, span_id=SPAN)]))
    assert [(r.scorer, r.value, r.error) for r in run.results] == [("bad", None, error), ("good", 0.9, None)]
    with TraceStore(path) as store:
        assert [(s.name, s.value) for s in store.scores(limit=10)] == [("good", 0.9)]
        assert EvalRun.load(run.id, store=store).summary()["bad"]["errors"] == 1


def test_a_bad_scorer_name_is_an_error_on_each_result(tmp_path):
    run = evaluate_traces(Returns("x" * 300, ScoreResult(1.0)), store=tmp_path / "t.db",
                          dataset=EvalDataset([EvalItem("q", trace_id=TRACE)]))
    assert run.results[0].error == ("not a valid score: invalid score: name: must be at most 200 characters, "
                                    "got 300")


def test_an_async_scorer_that_raises_and_one_that_is_cancelled(tmp_path):
    import asyncio

    class Async:
        def __init__(self, name, exc):
            self.name, self.exc = name, exc

        def score(self, item):
            raise AssertionError("not called")

        async def ascore(self, item):
            raise self.exc

    run = evaluate_traces([Async("boom", ValueError("bad json")), Async("gone", asyncio.CancelledError())],
                          dataset=EvalDataset([EvalItem("q")]), store=tmp_path / "t.db", save=False)
    assert [(r.scorer, r.error) for r in run.results] == [("boom", "ValueError: bad json"),
                                                          ("gone", "CancelledError: ")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(min_value=-(10**30), max_value=10**30), st.text(max_size=300)),
       label=st.one_of(st.none(), st.text(max_size=300)), explanation=st.one_of(st.none(), st.text(max_size=50)),
       output=st.one_of(st.text(max_size=30), st.integers(), st.lists(st.text(max_size=5), max_size=3)))
def test_any_result_is_a_valid_score_or_an_error(tmp_path_factory, value, label, explanation, output):
    path = tmp_path_factory.mktemp("fuzz") / "t.db"
    item = EvalItem({"q": output}, output=output, trace_id=TRACE, span_id=SPAN)
    run = evaluate_traces(Returns("fuzz", ScoreResult(value, label, explanation)), store=path,
                          dataset=EvalDataset([item]))
    [result] = run.results
    with TraceStore(path) as store:
        scores = list(store.scores(limit=10))
        loaded = EvalRun.load(run.id, store=store)
    assert loaded.results[0].error == result.error and loaded.results[0].value == result.value
    assert loaded.items[0].output == output
    if result.error is None and result.score_id is not None:
        [score] = scores
        assert (score.id, score.source, score.trace_id, score.span_id) == (result.score_id, "eval", TRACE, SPAN)
        assert score.metadata["run_id"] == run.id
    else:
        assert scores == []


def test_hostile_span_content_still_makes_items(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    spans.chat(0, "q", "a", extra={"gen_ai.input.messages": "[not json", "gen_ai.output.messages": "{}"})
    spans.chat(1000, "q", "a", extra={"gen_ai.input.messages": json.dumps([1, None, {"parts": "x"}]),
                                      "gen_ai.output.messages": json.dumps([{"parts": [{"type": "text"}]}])})
    spans.chat(2000, "q", "a", extra={"gen_ai.input.messages": "[" * 5000 + "]" * 5000})
    spans.chat(3000, "q", "a", extra={"traceglass.eval.judge": "true"})  # another SDK's judge marker, as text
    spans.span("retrieve", 4000, 4001, {"traceglass.span.type": "retriever",
                                        "gen_ai.retrieval.documents": json.dumps([{"id": 1}, 7, {"content": {"k": 1}}])})
    spans.close()
    with TraceStore(path) as store:
        items = TraceBridge(store).to_dataset(span_type=None)
    assert [i.input for i in items][1:] == ["[" * 5000 + "]" * 5000, [1, None, {"parts": "x"}], "[not json"]
    assert items[0].context == ["7", '{"k": 1}']
    assert [i.output for i in items][2:] == [{"parts": [{"type": "text"}]}, {}]


def test_rows_written_by_another_tool_are_skipped_not_fatal(tmp_path):
    path = tmp_path / "t.db"
    EvalDataset([EvalItem("ok")]).save("good", store=path)
    run = evaluate_traces("exact_match", dataset=EvalDataset([EvalItem("q", "a", "a")]), store=path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO eval_datasets (name, version, created_ns, item_count, metadata) "
                 "VALUES (X'00ff', 'two', 'x', 'y', 'not json')")
    conn.execute("INSERT INTO eval_runs (id, created_ns, status, item_count, run) VALUES (7, 'x', 3, 'n', '[')")
    conn.execute("UPDATE eval_runs SET run = 'not json' WHERE id = ?", (run.id,))
    conn.execute("INSERT INTO eval_results (run_no, position, scorer, value) "
                 "SELECT no, 5, 'odd', 'text' FROM eval_runs WHERE id = ?", (run.id,))
    conn.commit()
    conn.close()
    with TraceStore(path) as store:
        assert [(d.name, d.version) for d in store.datasets()] == [("good", 1)]
        assert [r.id for r in store.eval_runs()] == [run.id]
        loaded = EvalRun.load(run.id, store=store)
    assert loaded.scorers == [] and [(r.scorer, r.value) for r in loaded.results] == [("exact_match", 1.0),
                                                                                      ("odd", None)]
