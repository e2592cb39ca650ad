"""Evaluation schedules from a file (traceglass ui --evals FILE) and run by the server."""

from __future__ import annotations

import contextlib
import io


import httpx
import pytest

from traceglass.cli import main
from traceglass.evals import EvalSchedule, load_schedules
from traceglass.server import create_app

from ..server.conftest import RunningServer
from ._traces import Spans

YAML = """
judge: {model: judge-model, base_url: "http://127.0.0.1:9/v1"}
schedules:
  - name: nightly
    scorers: [relevance, "max_latency:2000"]
    cron: "0 2 * * *"
    project: support-bot
    since: 1d
    span_name: answer
  - scorers: "contains:refund"
    every: 15m
    concurrency: 2
"""


def test_a_yaml_file_makes_schedules(tmp_path):
    path = tmp_path / "evals.yaml"
    path.write_text(YAML, encoding="utf-8")
    nightly, frequent = load_schedules(path, store=tmp_path / "t.db")
    assert (nightly.name, nightly.cron.expression, nightly.interval_s) == ("nightly", "0 2 * * *", None)
    assert [s.name for s in nightly.scorers] == ["relevance", "max_latency"]
    assert nightly.scorers[0].model == "judge-model" and str(nightly.scorers[0].judge.base_url) == (
        "http://127.0.0.1:9/v1/")
    assert nightly.filters == {"project": "support-bot", "since": "1d", "name": "answer"}
    assert (frequent.name, frequent.interval_s, frequent.concurrency, frequent.store) == (
        "schedule-2", 900.0, 2, tmp_path / "t.db")


def test_a_toml_file(tmp_path):
    path = tmp_path / "evals.toml"
    path.write_text('[[schedules]]\nscorers = ["exact_match"]\nevery = "1h"\nuser_id = "maya"\n', encoding="utf-8")
    [schedule] = load_schedules(path)
    assert (schedule.interval_s, schedule.filters) == (3600.0, {"user_id": "maya"})


@pytest.mark.parametrize("text, message", [
    ("schedules: []", "needs a 'schedules' list with at least one schedule"),
    ("other: 1\nschedules: [{scorers: [exact_match], every: 1h}]", "unknown top-level key(s) other"),
    ("schedules: [{scorers: [exact_match], every: 1h, colour: red}]", "schedule 1: unknown field(s) colour"),
    ("schedules: [{name: n, scorers: [], every: 1h}]", "schedule n: scorers must be a list of scorer specs"),
    ("schedules: [{scorers: [nope], every: 1h}]", "schedule 1: unknown scorer 'nope'"),
    ("schedules: [{scorers: [exact_match], cron: '0 25 * * *'}]", "schedule 1: cron hour: '25' is outside 0-23"),
    ("schedules: [{scorers: [exact_match]}]", "schedule 1: EvalSchedule needs exactly one of every="),
    ("schedules: [{scorers: [exact_match], every: 1h, since: someday}]", "schedule 1: since: not a time"),
    ("schedules: [oops]", "schedule 1: must be a mapping, got str"),
    ("schedules: [{scorers: [exact_match], every: 1h}]\njudge: {key: x}", "judge takes model, base_url"),
    ("schedules: [", "not valid YAML"),
])
def test_mistakes_name_the_schedule_and_field(tmp_path, text, message):
    path = tmp_path / "evals.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        load_schedules(path)


def test_the_server_runs_its_schedules_and_stops_them(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    spans.chat(0, "refund?", "Your refund is on its way.")
    spans.close()
    schedule = EvalSchedule("contains:refund", every=0.05, store=path)
    server = RunningServer(create_app(path, evals=[schedule])).start()
    try:
        assert schedule.wait_for_runs(2, timeout=30)
        runs = httpx.get(server.url + "/api/evals/runs", timeout=10).json()["runs"]
        # The first run scored the trace; the later ones found nothing new to evaluate.
        assert sorted(r["item_count"] for r in runs)[-1] == 1 and sum(r["item_count"] for r in runs) == 1
    finally:
        server.stop()
    assert schedule._thread is None


def test_ui_refuses_a_bad_schedules_file(tmp_path):
    path = tmp_path / "evals.yaml"
    path.write_text("schedules: [{scorers: [nope], every: 1h}]", encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["ui", "--evals", str(path), "--db", str(tmp_path / "t.db")])
    assert (code, err.getvalue()) == (2, f"traceglass: {path}: schedule 1: unknown scorer 'nope'; known: "
                                         + ", ".join(__import__("traceglass.evals", fromlist=["x"]).scorer_names())
                                         + "\n")

