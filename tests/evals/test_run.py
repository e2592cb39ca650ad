"""evaluate_traces and EvalRun: real SQLite, real threads, real scores written and read back."""

from __future__ import annotations

import asyncio
import io
import json
import threading

import pytest

from traceglass.decorators import span as traced_span
from traceglass.evals import EvalDataset, EvalItem, EvalRun, ScoreResult, evaluate_traces
from traceglass.evals._context import current_run_id
from traceglass.evals._run import score_id
from traceglass.store import TraceStore

from ._traces import Spans, stored_app


@pytest.fixture
def db(store_target):
    """Three chat traces, on each backend (a SQLite file, a PostgreSQL database: tests/conftest.py)."""
    path = store_target
    spans = Spans(path)
    ids = [spans.chat(0, "refund?", "Your refund is on its way."), spans.chat(1000, "hi", "Hello!"),
           spans.chat(2000, "bill?", "See your invoice.")]
    spans.close()
    return path, ids  # newest trace first in a dataset: ids[2], ids[1], ids[0]


class Named:
    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def score(self, item):
        return self.fn(item)


def test_code_scorers_write_eval_scores_and_the_run_is_stored(db):
    path, ids = db
    run = evaluate_traces(["contains:refund", "max_latency:200"], store=path)
    assert run.scorers == ["contains", "max_latency"]
    assert [(r.position, r.scorer, r.value, r.item.trace_id) for r in run.results] == [
        (0, "contains", 0.0, ids[2][0]), (0, "max_latency", 0.0, ids[2][0]),
        (1, "contains", 0.0, ids[1][0]), (1, "max_latency", 0.0, ids[1][0]),
        (2, "contains", 1.0, ids[0][0]), (2, "max_latency", 0.0, ids[0][0])]
    assert run.summary() == {
        "contains": {"mean": round(1 / 3, 12), "pass_rate": round(1 / 3, 12), "count": 3, "errors": 0, "no_score": 0},
        "max_latency": {"mean": 0.0, "pass_rate": 0.0, "count": 3, "errors": 0, "no_score": 0}}
    with TraceStore(path) as store:
        scores = {(s.trace_id, s.name): s for s in store.scores(source="eval", limit=100)}
        assert len(scores) == 6
        refund = scores[(ids[0][0], "contains")]
        assert (refund.id, refund.value, refund.label, refund.data_type, refund.span_id, refund.source) == (
            score_id(run.id, 2, "contains"), 1.0, "true", "boolean", ids[0][1], "eval")
        assert refund.metadata == {"run_id": run.id}
        assert [r.id for r in store.eval_runs()] == [run.id]
    loaded = EvalRun.load(run.id, store=path)
    assert loaded.results == run.results and loaded.summary() == run.summary()
    assert [r.id for r in EvalRun.list(store=path)] == [run.id]
    assert EvalRun.list(store=path)[0].to_dict()["summary"] == run.summary()


def test_a_scorer_that_raises_fails_its_results_only(db):
    path, ids = db

    def fussy(item):
        if item.output == "Hello!":
            raise RuntimeError("cannot judge greetings")
        return ScoreResult(0.25, label="meh", explanation="because")

    run = evaluate_traces([Named("fussy", fussy), "contains:refund"], store=path, concurrency=2)
    assert [(r.scorer, r.error) for r in run.errors] == [("fussy", "RuntimeError: cannot judge greetings")]
    assert run.summary()["fussy"] == {"mean": 0.25, "pass_rate": 0.0, "count": 2, "errors": 1, "no_score": 0}
    assert run.summary()["contains"]["count"] == 3
    assert [(r.scorer, r.value, r.position) for r in run.failures] == [
        ("contains", 0.0, 0), ("contains", 0.0, 1), ("fussy", 0.25, 0), ("fussy", 0.25, 2)]
    with TraceStore(path) as store:
        fussy_scores = [s for s in store.scores(name="fussy", limit=100)]
        assert sorted((s.trace_id, s.value, s.comment, s.metadata["label"]) for s in fussy_scores) == sorted(
            [(ids[0][0], 0.25, "because", "meh"), (ids[2][0], 0.25, "because", "meh")])
        stored = store.eval_run(run.id)
        assert [(r.position, r.error) for r in stored[2] if r.error] == [(1, "RuntimeError: cannot judge greetings")]


def test_scorers_run_concurrently_within_the_bound(tmp_path):
    concurrency = 3
    barrier = threading.Barrier(concurrency, timeout=10)
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def wait_for_peers(item):
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        try:
            barrier.wait()  # breaks (an error) unless `concurrency` calls are in flight together
        finally:
            with lock:
                running[0] -= 1
        return ScoreResult(1.0)

    dataset = EvalDataset([EvalItem(f"q{n}") for n in range(9)])
    run = evaluate_traces(Named("together", wait_for_peers), dataset=dataset, concurrency=concurrency,
                          store=tmp_path / "t.db", write_scores=False, save=False)
    assert run.errors == [] and run.summary()["together"]["count"] == 9
    assert running[1] == concurrency


def test_async_scorers_and_the_run_id_in_context(tmp_path):
    seen = []

    class AsyncScorer:
        name = "async_len"

        def score(self, item):
            raise AssertionError("ascore is preferred")

        async def ascore(self, item):
            await asyncio.sleep(0)
            seen.append(("async", current_run_id()))
            return ScoreResult(len(item.input) / 10)

    def sync(item):
        seen.append(("sync", current_run_id()))
        return ScoreResult(True)

    dataset = EvalDataset([EvalItem("abc"), EvalItem("abcde")])
    run = evaluate_traces([AsyncScorer(), Named("sync", sync)], dataset=dataset, concurrency=2,
                          store=tmp_path / "t.db", write_scores=False, save=False)
    assert [(r.scorer, r.value) for r in run.results] == [("async_len", 0.3), ("sync", 1.0),
                                                           ("async_len", 0.5), ("sync", 1.0)]
    assert sorted(seen) == [("async", run.id)] * 2 + [("sync", run.id)] * 2
    assert current_run_id() is None


def test_judge_cost_sums_the_judge_spans_of_this_run(tmp_path):
    path = tmp_path / "t.db"

    def judge(item):
        with traced_span("judge fake", type="evaluator") as span:
            span.set_attribute("traceglass.eval.judge", True)
            span.set_attribute("traceglass.eval.run_id", current_run_id())
            span.set_attribute("traceglass.rollup.cost_usd", 0.0125)
        return ScoreResult(1.0)

    with stored_app(path):
        run = evaluate_traces(Named("fake_judge", judge), dataset=EvalDataset([EvalItem("a"), EvalItem("b")]),
                              store=path, write_scores=False)
        other = evaluate_traces(Named("code", lambda item: ScoreResult(1.0)), dataset=EvalDataset([EvalItem("a")]),
                                store=path)
    assert run.judge_cost_usd == 0.025
    assert other.judge_cost_usd is None
    assert EvalRun.load(run.id, store=path).judge_cost_usd == 0.025


def test_options_and_their_errors(db, tmp_path):
    path, _ = db
    run = evaluate_traces("contains:refund", store=path, write_scores=False, save=False, limit=1)
    assert len(run.items) == 1
    with TraceStore(path) as store:
        assert len(store.scores(source="eval")) == 0 and store.eval_runs() == []
    with pytest.raises(TypeError, match=r"pass either a dataset or filters, not both \(got limit\)"):
        evaluate_traces("exact_match", dataset=EvalDataset(), store=path, limit=3)
    with pytest.raises(ValueError, match="two scorers named 'contains'"):
        evaluate_traces(["contains:a", "contains:b"], store=path)
    with pytest.raises(ValueError, match="concurrency must be a positive integer, got 0"):
        evaluate_traces("exact_match", store=path, concurrency=0)
    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        evaluate_traces("nope", store=path)
    with pytest.raises(ValueError, match="opened read_only"):
        evaluate_traces("exact_match", store=TraceStore(path, read_only=True))


def test_a_dataset_of_hand_written_items_and_exports(tmp_path):
    dataset = EvalDataset(name="golden")
    dataset.add("2+2?", output="4", expected_output="4")
    dataset.add("3+3?", output="7", expected_output="6")
    run = evaluate_traces("exact_match", dataset=dataset, store=tmp_path / "t.db")
    assert [(r.value, r.score_id) for r in run.results] == [(1.0, None), (0.0, None)]  # no trace: no score
    assert run.dataset == {"name": "golden", "version": None}
    out = tmp_path / "run.jsonl"
    assert run.to_jsonl(out) == 2
    first = json.loads(out.read_text().splitlines()[0])
    assert (first["scorer"], first["value"], first["item"]["input"]) == ("exact_match", 1.0, "2+2?")
    better = evaluate_traces("exact_match", dataset=EvalDataset([EvalItem("3+3?", "6", "6")]), save=False,
                             store=tmp_path / "t.db")
    assert better.compare(run) == {"exact_match": {"before": 0.5, "after": 1.0, "change": 0.5,
                                                   "pass_rate_before": 0.5, "pass_rate_after": 1.0}}


def test_a_result_whose_name_holds_another_data_type_is_an_error(db):
    path, ids = db
    with TraceStore(path) as store:
        store.add_score("contains", "yes", trace_id=ids[0][0])  # categorical
    run = evaluate_traces("contains:refund", store=path)
    assert {r.error for r in run.results} == {"score not stored: scores named 'contains' hold another data type"}


class _Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_a_progress_bar_on_a_terminal_only(monkeypatch, tmp_path, tty):
    err = _Terminal(tty)
    monkeypatch.setattr("sys.stderr", err)
    evaluate_traces("exact_match", dataset=EvalDataset([EvalItem("a", "a", "a")] * 3), write_scores=False,
                    save=False, store=tmp_path / "t.db")
    text = err.getvalue()
    if tty:
        assert text.endswith(f"\revaluating [{'#' * 30}] 3/3\n") and text.startswith("\revaluating [")
    else:
        assert text == ""
