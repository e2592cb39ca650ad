"""traceglass evals run / runs and datasets create / export / list, in-process, on a real database."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from traceglass.cli import main
from traceglass.evals import EvalDataset, EvalItem
from traceglass.store import TraceStore

from ._traces import Spans


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    spans.chat(0, "refund?", "Your refund is on its way.", extra={"user.id": "alice"})
    spans.chat(1000, "hi", "Hello!", extra={"user.id": "bob"})
    spans.close()
    return str(path)


def test_evals_run_prints_the_summary_and_stores_scores_and_the_run(db):
    code, out, err = cli("evals", "run", "--db", db, "--scorer", "contains:refund", "--scorer", "max_latency:2000")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    with TraceStore(db) as store:
        [run] = store.eval_runs()
        assert len(store.scores(source="eval", limit=100)) == 4
    assert lines == [f"run {run.id}: 2 items",
                     "scorer                      mean    pass  count errors",
                     "contains                   0.500   0.500      2      0",
                     "max_latency                1.000   1.000      2      0"]
    code, out, _ = cli("evals", "runs", "--db", db)
    assert code == 0 and out.splitlines()[1].startswith(run.id) and out.splitlines()[1].endswith(
        "2  contains 0.500, max_latency 1.000")


def test_evals_run_json_filters_and_no_scores(db):
    code, out, _ = cli("evals", "run", "--db", db, "--scorer", "contains:refund", "--user", "alice", "--no-scores",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["item_count"] == 1 and data["errors"] == []
    assert data["summary"] == {"contains": {"mean": 1.0, "pass_rate": 1.0, "count": 1, "errors": 0, "no_score": 0}}
    assert data["filters"] == {"span_type": "llm", "answer": "last", "user_id": "alice"}
    with TraceStore(db) as store:
        assert len(store.scores(source="eval")) == 0
    code, out, _ = cli("evals", "runs", "--db", db, "--json")
    assert [r["id"] for r in json.loads(out)["runs"]] == [data["id"]]


def test_evals_run_errors(db, tmp_path):
    assert cli("evals", "run", "--db", db, "--scorer", "nope")[0::2] == (
        2, "traceglass: unknown scorer 'nope'; known: " + ", ".join(
            __import__("traceglass.evals", fromlist=["x"]).scorer_names()) + "\n")
    code, _, err = cli("evals", "run", "--db", db, "--scorer", "exact_match", "--dataset", "missing")
    assert (code, err) == (1, "traceglass: no saved dataset 'missing'\n")
    code, _, err = cli("evals", "run", "--db", str(tmp_path / "none.db"), "--scorer", "exact_match")
    assert code == 1 and err.startswith("traceglass: no trace database at ")
    code, _, err = cli("evals", "run", "--db", db, "--scorer", "exact_match", "--since", "someday")
    assert code == 2 and "since: not a time: 'someday'" in err


def test_datasets_create_export_list_and_evaluate_a_saved_one(db, tmp_path):
    code, out, _ = cli("datasets", "create", "support", "--db", db, "--user", "bob")
    assert (code, out) == (0, "saved dataset support version 1 (1 items)\n")
    code, out, _ = cli("datasets", "create", "support", "--db", db, "--json")
    assert json.loads(out) == {"name": "support", "version": 2, "item_count": 2}
    target = tmp_path / "support.jsonl"
    code, out, _ = cli("datasets", "export", "support", "--db", db, "--version", "1", "--out", str(target))
    assert (code, out) == (0, f"wrote 1 items of dataset support version 1 to {target}\n")
    assert [i.output for i in EvalDataset.from_jsonl(target)] == ["Hello!"]
    code, out, _ = cli("datasets", "list", "--db", db, "--json")
    assert [(d["name"], d["version"], d["item_count"]) for d in json.loads(out)["datasets"]] == [("support", 2, 2)]
    code, out, _ = cli("evals", "run", "--db", db, "--scorer", "contains:Hello", "--dataset", "support@1", "--json")
    data = json.loads(out)
    assert (data["dataset"], data["summary"]["contains"]["mean"]) == ({"name": "support", "version": 1}, 1.0)
    assert cli("datasets", "export", "nope", "--db", db, "--out", str(target))[0::2] == (
        1, "traceglass: no saved dataset 'nope'\n")
    EvalDataset([EvalItem("x")]).save("with\x1bescape", store=db)
    code, out, _ = cli("datasets", "list", "--db", db)
    assert "with\\x1bescape  version 1  1 items" in out and "\x1b" not in out


def test_datasets_add_adds_one_trace_or_span_as_a_new_version(db):
    with TraceStore(db) as store:
        [bob, alice] = [t.trace_id for t in store.list_traces().traces]
        alice_span = store.get_trace(alice).spans[0].span_id
    assert cli("datasets", "add", "picked", alice, "--db", db) == (
        0, "added 1 item to dataset picked: version 1 (1 items)\n", "")
    assert cli("datasets", "add", "picked", alice[:32].upper(), "--span", alice_span, "--db", db) == (
        0, "dataset picked version 1 already holds it: nothing added\n", "")
    code, out, err = cli("datasets", "add", "picked", bob, "--db", db, "--json")
    assert (code, err, json.loads(out)["version"], json.loads(out)["item_count"], json.loads(out)["added"]) == (
        0, "", 2, 2, 1)
    assert [(i.output, i.trace_id) for i in EvalDataset.load("picked", store=db)] == [
        ("Your refund is on its way.", alice), ("Hello!", bob)]
    assert cli("datasets", "add", "picked", "e" * 32, "--db", db) == (
        1, "", f"traceglass: no trace {'e' * 32!r}\n")
    code, out, err = cli("datasets", "add", " ", alice, "--db", db)
    assert (code, out) == (2, "") and "a dataset name must be a non-empty text" in err


def test_datasets_add_takes_the_root_without_a_model_call_and_refuses_a_judges_trace(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    plain = spans.span("plain step", 0, 100, {"traceglass.span.type": "chain", "traceglass.input": "in",
                                               "traceglass.output": "out"})
    judged, _ = spans.chat(1000, "judge me", "fine", judge=True)
    spans.close()
    plain_trace = format(plain.get_span_context().trace_id, "032x")
    assert cli("datasets", "add", "picked", plain_trace, "--db", str(path)) == (
        0, "added 1 item to dataset picked: version 1 (1 items)\n", "")
    assert [(i.input, i.output, i.trace_id) for i in EvalDataset.load("picked", store=path)] == [
        ("in", "out", plain_trace)]
    assert cli("datasets", "add", "picked", plain_trace, "--answer", "last", "--db", str(path)) == (
        2, "", f"traceglass: trace {plain_trace} has no span to make an item of\n")
    assert cli("datasets", "add", "picked", judged, "--db", str(path)) == (
        2, "", f"traceglass: trace {judged} has no span to make an item of\n")
